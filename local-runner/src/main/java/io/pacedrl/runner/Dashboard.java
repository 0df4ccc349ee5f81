package io.pacedrl.runner;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.HttpServers;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.RunEvent;
import io.pacedrl.topics.MetricsEndpoint;
import io.pacedrl.topics.RunEvents;
import io.pacedrl.topics.Topics;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A run's live dashboard, one page over HTTP: held-out accuracy against rollouts, p̂ over the pool
 * and its calibration, the scheduled band, staleness, consumer lag, dead letters and a searchable
 * table of prompts. It follows the run's topics (run-events, dead-letters) from their start, reads
 * lag from the cluster's group offsets and forwards prompt queries to the difficulty stream, so it
 * works in {@code train}'s process and on its own against any cluster. Also serves /metrics and
 * /health ({@link MetricsEndpoint}).
 *
 * <pre>
 * GET /               the page (its script asks the rest every 2 s)
 * GET /api/run        the learner's metrics, evaluations and final evaluation, dead letters by service and reason, lag by group
 * GET /api/prompts?…  the stream's GET /prompts (sort, order, family, min-p-hat, max-p-hat, id, limit)
 * GET /api/p-hat      the stream's GET /p-hat/histogram (sample=…)
 * </pre>
 */
final class Dashboard implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String UPLOT = "/META-INF/resources/webjars/uplot/1.6.30/dist/";

    private final HttpServer http;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** The run it shows, once attached. */
    private volatile Source source;
    private volatile boolean running = true;

    // What the run's topics said so far; guarded by this.
    private final List<Map<String, Object>> metrics = new ArrayList<>();
    private final List<Map<String, Object>> evaluations = new ArrayList<>();
    private Map<String, Object> finalEvaluation;
    private final Map<String, Long> deadLetters = new TreeMap<>();
    private Map<String, Long> lag = Map.of();
    private long lagReadAtNanos;

    /** Where a run's data is: its cluster and topics, and the difficulty stream's query URL (null without one). */
    private record Source(Topics topics, String runId, URI queries, KafkaConsumer<String, byte[]> consumer, Admin admin,
            Thread follower) {}

    private Dashboard(HttpServer http) {
        this.http = http;
    }

    /** Serves the dashboard on {@code host:port} (0: a free port); it shows a run once {@link #attach}ed to one. */
    static Dashboard start(String host, int port) throws IOException {
        HttpServer http;
        try {
            http = HttpServers.create(new InetSocketAddress(host, port), 32);
        } catch (IOException e) {
            throw new IOException("cannot listen on " + host + ":" + port + " for the dashboard (--http-port): " + e.getMessage(), e);
        }
        Dashboard dashboard = new Dashboard(http);
        http.createContext("/", dashboard::page);
        http.createContext("/assets/", dashboard::asset);
        http.createContext("/api/run", exchange -> answer(exchange, 200, "application/json", JSON.writeValueAsBytes(dashboard.run())));
        http.createContext("/api/prompts", exchange -> dashboard.forward(exchange, "/prompts"));
        http.createContext("/api/p-hat", exchange -> dashboard.forward(exchange, "/p-hat/histogram"));
        MetricsEndpoint.mount(http);
        http.setExecutor(Executors.newFixedThreadPool(2, r -> {
            Thread thread = new Thread(r, "dashboard-http");
            thread.setDaemon(true);
            return thread;
        }));
        http.start();
        return dashboard;
    }

    /**
     * Shows run {@code runId}, its topics in {@code topics} on {@code bootstrapServers}: follows them
     * from their start. {@code queries} is the difficulty stream's query URL, or null without one.
     */
    void attach(String bootstrapServers, Topics topics, String runId, URI queries) {
        KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(ClientSettings.kafka(Map.<String, Object>of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, topics.deadLetters.maxMessageBytes())), new StringDeserializer(),
                new ByteArrayDeserializer());
        Thread follower = new Thread(() -> follow(topics, runId, consumer), "dashboard-" + runId);
        follower.setDaemon(true);
        Admin admin = Admin.create(ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 5000, AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 5000)));
        source = new Source(topics, runId, queries, consumer, admin, follower);
        follower.start();
    }

    /** Where it is served: http://host:port/. */
    String url() {
        return "http://" + http.getAddress().getHostString() + ":" + http.getAddress().getPort() + "/";
    }

    /** Follows run-events and dead-letters from their start until closed. */
    private void follow(Topics topics, String runId, KafkaConsumer<String, byte[]> consumer) {
        List<TopicPartition> partitions = new ArrayList<>();
        partitions.add(new TopicPartition(topics.runEvents.name(), 0));
        for (int p = 0; p < topics.deadLetters.partitions(); p++) {
            partitions.add(new TopicPartition(topics.deadLetters.name(), p));
        }
        try {
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (running) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    try {
                        if (record.topic().equals(topics.runEvents.name())) {
                            event(runId, topics.runEvents.decode(record.value(), System.nanoTime()));
                        } else {
                            deadLetter(topics.deadLetters.decode(record.value(), System.nanoTime()));
                        }
                    } catch (RuntimeException unreadable) {
                        // not the run's record: nothing to show
                    }
                }
            }
        } catch (WakeupException closing) {
            // close() ends the loop
        } finally {
            consumer.close();
        }
    }

    private synchronized void event(String runId, RunEvent event) {
        if (!event.getSource().equals(RunEvents.LEARNER) || !event.getRunId().equals(runId)) {
            return;
        }
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("version", event.getLearnerVersion());
        row.put("timeMs", event.getTimestampMs());
        row.putAll(new TreeMap<>(event.getMetrics()));
        switch (event.getType()) {
            case RunEvents.METRICS -> metrics.add(row);
            case RunEvents.EVAL -> evaluations.add(row);
            case RunEvents.FINAL -> finalEvaluation = row;
            default -> { }
        }
    }

    private synchronized void deadLetter(DeadLetter letter) {
        deadLetters.merge(letter.getService() + " · " + letter.getErrorType(), 1L, Long::sum);
    }

    /** The page's data: what the topics said, and the groups' lag (read at most every 2 s). */
    private Map<String, Object> run() {
        Source run = source;
        Map<String, Long> groupLag = run == null ? Map.of() : lag(run);
        synchronized (this) {
            Map<String, Object> answer = new LinkedHashMap<>();
            answer.put("runId", run == null ? "(starting)" : run.runId());
            answer.put("metrics", List.copyOf(metrics));
            answer.put("evaluations", List.copyOf(evaluations));
            answer.put("final", finalEvaluation);
            answer.put("deadLetters", new TreeMap<>(deadLetters));
            answer.put("lag", groupLag);
            return answer;
        }
    }

    /** Records behind the newest, per consumer group of the run (its prefix), from the groups' committed offsets. */
    private Map<String, Long> lag(Source run) {
        synchronized (this) {
            if (System.nanoTime() - lagReadAtNanos < Duration.ofSeconds(2).toNanos()) {
                return lag;
            }
            lagReadAtNanos = System.nanoTime();
        }
        Map<String, Long> byGroup = new TreeMap<>();
        String prompts = run.topics().prompts.name();
        String prefix = prompts.substring(0, prompts.length() - "prompts".length());
        Admin admin = run.admin();
        try {
            List<String> groups = admin.listGroups().all().get().stream().map(g -> g.groupId()).filter(g -> g.startsWith(prefix))
                    .sorted().toList();
            for (String group : groups) {
                Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
                Map<TopicPartition, OffsetSpec> latest = committed.keySet().stream().collect(Collectors.toMap(p -> p, p -> OffsetSpec.latest()));
                Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(latest).all().get();
                long behind = committed.entrySet().stream().filter(e -> e.getValue() != null)
                        .mapToLong(e -> Math.max(0, ends.get(e.getKey()).offset() - e.getValue().offset())).sum();
                byGroup.put(group.substring(prefix.length()), behind);
            }
        } catch (Exception e) {
            byGroup.put("(unreadable: " + e.getMessage() + ")", -1L);
        }
        synchronized (this) {
            lag = byGroup;
            return lag;
        }
    }

    /** Forwards a query to the difficulty stream, answering 503 without one. */
    private void forward(HttpExchange exchange, String path) throws IOException {
        Source run = source;
        URI queries = run == null ? null : run.queries();
        if (queries == null) {
            answer(exchange, 503, "application/json", "{\"error\":\"no difficulty-stream query URL (--queries-url)\"}".getBytes(StandardCharsets.UTF_8));
            return;
        }
        String query = exchange.getRequestURI().getRawQuery();
        try {
            HttpResponse<byte[]> response = client.send(HttpRequest.newBuilder(queries.resolve(path + (query == null ? "" : "?" + query)))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofByteArray());
            answer(exchange, response.statusCode(), "application/json", response.body());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            answer(exchange, 503, "application/json", "{\"error\":\"interrupted\"}".getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            answer(exchange, 502, "application/json", JSON.writeValueAsBytes(Map.of("error", "difficulty stream: " + e.getMessage())));
        }
    }

    private void page(HttpExchange exchange) throws IOException {
        if (!exchange.getRequestURI().getPath().equals("/")) {
            answer(exchange, 404, "text/plain", "not found".getBytes(StandardCharsets.UTF_8));
            return;
        }
        answer(exchange, 200, "text/html; charset=utf-8", resource("dashboard/index.html"));
    }

    private void asset(HttpExchange exchange) throws IOException {
        String name = exchange.getRequestURI().getPath().substring("/assets/".length());
        switch (name) {
            case "uPlot.iife.min.js" -> answer(exchange, 200, "text/javascript", resource(UPLOT + name));
            case "uPlot.min.css" -> answer(exchange, 200, "text/css", resource(UPLOT + name));
            case "dashboard.js" -> answer(exchange, 200, "text/javascript", resource("dashboard/dashboard.js"));
            default -> answer(exchange, 404, "text/plain", "not found".getBytes(StandardCharsets.UTF_8));
        }
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = Dashboard.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("missing resource " + name);
            }
            return in.readAllBytes();
        }
    }

    private static void answer(HttpExchange exchange, int status, String contentType, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.getResponseHeaders().set("Cache-Control", "no-store");
        exchange.sendResponseHeaders(status, body.length);
        exchange.getResponseBody().write(body);
        exchange.close();
    }

    @Override
    public void close() {
        running = false;
        http.stop(0);
        Source run = source;
        if (run != null) {
            run.admin().close(Duration.ofSeconds(5));
            run.consumer().wakeup();
            try {
                run.follower().join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
