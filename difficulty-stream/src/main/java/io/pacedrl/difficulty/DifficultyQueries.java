package io.pacedrl.difficulty;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.pacedrl.difficulty.state.EmbeddingChange;
import io.pacedrl.difficulty.state.EstimatorParameters;
import io.pacedrl.difficulty.state.PromptState;
import io.pacedrl.difficulty.state.ReplayEntry;
import io.pacedrl.difficulty.state.ScheduleEntry;
import io.pacedrl.difficulty.state.SchedulerState;
import io.pacedrl.learning.RunMetrics;
import io.pacedrl.registry.HttpServers;
import io.pacedrl.topics.PoolEmbeddings;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.apache.avro.Schema;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyQueryMetadata;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.state.HostInfo;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The app's stores over HTTP, as JSON (interactive queries). Each store lives in one task; a
 * request that reaches an instance without that task is forwarded to the instance that has it
 * (found from the Streams metadata), so any instance answers any query.
 *
 * <pre>
 * GET /prompts/{id}            one prompt: its state (estimates, accuracy, counts) and its scheduling
 * GET /prompts?sort=p-hat|distance&order=asc|desc&family=F&min-p-hat=X&max-p-hat=Y&limit=N
 *                              by the p̂ each was last chosen with (never chosen: last)
 * GET /p-hat/histogram?bins=N&sample=M  prompts by p̂, computed now with the newest Z_φ over the
 *                              embeddings of every k-th prompt in id order (k chosen so at most M are
 *                              scored, 10,000 by default; the answer says k)
 * GET /p-hat/{id}              one prompt's p̂, computed now with the newest Z_φ
 * GET /replay                  the replay buffer, highest priority first
 * GET /scheduler               learner version, next batch, look-ahead lag, in flight, counters
 * </pre>
 */
public final class DifficultyQueries implements AutoCloseable {
    static final String FORWARDED = "X-Paced-Forwarded";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpServer http;
    private final ExecutorService executor;
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final BatchScheduler.Settings settings;
    private volatile KafkaStreams streams;
    private final HostInfo self;

    /** Binds the server now (so its address can be advertised to Streams); it answers once {@link #serve} is called. */
    DifficultyQueries(String host, int port, BatchScheduler.Settings settings) throws IOException {
        this.settings = settings;
        http = HttpServers.create(new InetSocketAddress(host, port), 0);
        self = new HostInfo(host, http.getAddress().getPort());
        executor = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "difficulty-queries");
            t.setDaemon(true);
            return t;
        });
        http.setExecutor(executor);
        http.createContext("/", this::handle);
        http.start();
    }

    HostInfo hostInfo() {
        return self;
    }

    URI url() {
        return URI.create("http://" + self.host() + ":" + self.port());
    }

    void serve(KafkaStreams streams) {
        this.streams = streams;
    }

    private void handle(HttpExchange exchange) throws IOException {
        try {
            route(exchange);
        } catch (IllegalArgumentException e) {
            send(exchange, 400, error(e.getMessage()));
        } catch (InvalidStateStoreException e) {
            send(exchange, 503, error("stores not ready (starting or rebalancing): " + e.getMessage()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            send(exchange, 503, error("interrupted"));
        } catch (RuntimeException e) {
            send(exchange, 500, error(e.toString()));
        } finally {
            exchange.close();
        }
    }

    private void route(HttpExchange exchange) throws IOException, InterruptedException {
        String path = exchange.getRequestURI().getPath();
        Map<String, String> query = query(exchange.getRequestURI().getRawQuery());
        if (!"GET".equals(exchange.getRequestMethod())) {
            send(exchange, 405, error("only GET is served"));
        } else if (streams == null) {
            send(exchange, 503, error("starting"));
        } else if (path.startsWith("/prompts/") && path.length() > "/prompts/".length()) {
            String id = URLDecoder.decode(path.substring("/prompts/".length()), StandardCharsets.UTF_8);
            HostInfo owner = owner(PromptStateProcessor.STATE_STORE, id);
            if (!owner.equals(self)) {
                forward(exchange, owner);
            } else {
                promptState(exchange, id);
            }
        } else if (path.equals("/prompts") || path.startsWith("/p-hat/") || path.equals("/replay")
                || path.equals("/scheduler")) {
            HostInfo owner = owner(SchedulerProcessor.STATE_STORE, SchedulerProcessor.STATE_KEY);
            if (!owner.equals(self)) {
                forward(exchange, owner);
            } else {
                send(exchange, 200, switch (path) {
                    case "/prompts" -> prompts(query);
                    case "/p-hat/histogram" -> histogram(query);
                    case "/replay" -> replay();
                    case "/scheduler" -> scheduler();
                    default -> estimate(URLDecoder.decode(path.substring("/p-hat/".length()), StandardCharsets.UTF_8));
                });
            }
        } else {
            send(exchange, 404, error("no such query: " + path));
        }
    }

    /** The instance whose task holds {@code key} of {@code store}. */
    private HostInfo owner(String store, String key) {
        KeyQueryMetadata metadata = streams.queryMetadataForKey(store, key, Serdes.String().serializer());
        if (metadata == null || metadata.activeHost() == null || metadata.activeHost().port() < 0
                || metadata.equals(KeyQueryMetadata.NOT_AVAILABLE)) {
            throw new InvalidStateStoreException("no instance holds " + store + " yet");
        }
        return metadata.activeHost();
    }

    private void forward(HttpExchange exchange, HostInfo owner) throws IOException, InterruptedException {
        if (exchange.getRequestHeaders().containsKey(FORWARDED)) {
            throw new InvalidStateStoreException("the store moved while the request was forwarded");
        }
        URI target = URI.create("http://" + owner.host() + ":" + owner.port() + exchange.getRequestURI());
        HttpResponse<byte[]> response = client.send(HttpRequest.newBuilder(target).header(FORWARDED, self.toString())
                .timeout(Duration.ofSeconds(30)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(response.statusCode(), response.body().length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(response.body());
        }
    }

    private void promptState(HttpExchange exchange, String id) throws IOException {
        PromptState state = this.<PromptState>store(PromptStateProcessor.STATE_STORE).get(id);
        if (state == null) {
            send(exchange, 404, error("prompt '" + id + "' is not in the pool"));
            return;
        }
        ObjectNode body = JSON.createObjectNode();
        body.set("state", json(state));
        // The scheduling fields live in the scheduler's task, which may be on another instance.
        HostInfo scheduler = owner(SchedulerProcessor.INDEX_STORE, id);
        if (scheduler.equals(self)) {
            ScheduleEntry entry = this.<ScheduleEntry>store(SchedulerProcessor.INDEX_STORE).get(id);
            body.set("scheduling", entry == null ? null : json(entry));
        } else {
            body.set("scheduling", JSON.readTree(fetch(scheduler, "/prompts?id=" + id)).path("prompts").path(0));
        }
        send(exchange, 200, body);
    }

    private String fetch(HostInfo owner, String pathAndQuery) throws IOException {
        try {
            return client.send(HttpRequest.newBuilder(URI.create("http://" + owner.host() + ":" + owner.port() + pathAndQuery))
                    .header(FORWARDED, self.toString()).GET().build(), HttpResponse.BodyHandlers.ofString()).body();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    private JsonNode prompts(Map<String, String> query) {
        String sort = query.getOrDefault("sort", "p-hat");
        boolean descending = "desc".equals(query.getOrDefault("order", "asc"));
        int limit = intParam(query, "limit", 50);
        double min = doubleParam(query, "min-p-hat", Double.NEGATIVE_INFINITY);
        double max = doubleParam(query, "max-p-hat", Double.POSITIVE_INFINITY);
        // By the p̂ each prompt was last chosen with; prompts never chosen (no p̂ yet) come last.
        Comparator<Double> byValue = descending ? Comparator.reverseOrder() : Comparator.naturalOrder();
        Comparator<ScheduleEntry> order = switch (sort) {
            case "p-hat" -> Comparator.comparing(ScheduleEntry::getPHat, Comparator.nullsLast(byValue));
            case "distance" -> Comparator.comparing(e -> e.getPHat() == null ? null : Math.abs(e.getPHat() - settings.tau()),
                    Comparator.nullsLast(byValue));
            default -> throw new IllegalArgumentException("sort must be p-hat or distance, got '" + sort + "'");
        };
        order = order.thenComparing(ScheduleEntry::getPromptId);
        boolean bounded = query.containsKey("min-p-hat") || query.containsKey("max-p-hat");
        Predicate<ScheduleEntry> wanted = e -> e.getPresent()
                && (!bounded || e.getPHat() != null && e.getPHat() >= min && e.getPHat() <= max)
                && (!query.containsKey("family") || query.get("family").equals(e.getFamily()))
                && (!query.containsKey("id") || query.get("id").equals(e.getPromptId()));
        List<ScheduleEntry> matches = new ArrayList<>();
        forEachEntry(e -> {
            if (wanted.test(e)) {
                matches.add(e);
            }
        });
        matches.sort(order);
        ObjectNode body = JSON.createObjectNode().put("matches", matches.size());
        ArrayNode list = body.putArray("prompts");
        matches.stream().limit(limit).forEach(e -> list.add(json(e)));
        return body;
    }

    /**
     * The pool by p̂ now: the newest Z_φ over the stored embeddings of every k-th prompt in id order,
     * k the smallest stride that scores at most {@code sample} of them.
     */
    private JsonNode histogram(Map<String, String> query) {
        int bins = intParam(query, "bins", 10);
        if (bins < 1 || bins > 1000) {
            throw new IllegalArgumentException("bins must be in [1, 1000], got " + bins);
        }
        int sample = intParam(query, "sample", 10_000);
        if (sample < 1) {
            throw new IllegalArgumentException("sample must be ≥ 1, got " + sample);
        }
        ReadOnlyKeyValueStore<String, EmbeddingChange> embeddings = store(SchedulerProcessor.EMBEDDINGS_STORE);
        SchedulerState state = this.<SchedulerState>store(SchedulerProcessor.STATE_STORE).get(SchedulerProcessor.STATE_KEY);
        long stored = state == null ? 0 : state.getCounters().getOrDefault(BatchScheduler.EMBEDDED, 0L);
        long stride = Math.max(1, (stored + sample - 1) / sample);
        long[] counts = new long[bins];
        long scored = 0;
        long seen = 0;
        EstimatorParameters parameters = this.<EstimatorParameters>store(SchedulerProcessor.ESTIMATOR_STORE)
                .get(SchedulerProcessor.STATE_KEY);
        if (parameters != null) {
            try (PartitionEstimator estimator = PartitionEstimator.of(parameters, settings.beta());
                    KeyValueIterator<String, EmbeddingChange> all = embeddings.all()) {
                List<float[]> rows = new ArrayList<>();
                while (all.hasNext()) {
                    EmbeddingChange next = all.next().value;
                    if (seen++ % stride == 0) {
                        rows.add(PoolEmbeddings.decode(next.getDimension(), next.getValues()));
                    }
                    if (rows.size() == 8192 || !all.hasNext()) {
                        for (double p : score(estimator, rows)) {
                            counts[RunMetrics.bin(p, bins)]++;
                        }
                        scored += rows.size();
                        rows.clear();
                    }
                }
            }
        }
        ObjectNode body = JSON.createObjectNode().put("bins", bins)
                .put("estimatorVersion", parameters == null ? -1 : parameters.getVersion())
                .put("scored", scored).put("stride", stride).put("sampled", stride > 1);
        ArrayNode list = body.putArray("counts");
        for (long count : counts) {
            list.add(count);
        }
        return body;
    }

    /** One prompt's p̂ now, from the newest Z_φ and its stored embedding. */
    private JsonNode estimate(String id) {
        EmbeddingChange embedding = this.<EmbeddingChange>store(SchedulerProcessor.EMBEDDINGS_STORE).get(id);
        EstimatorParameters parameters = this.<EstimatorParameters>store(SchedulerProcessor.ESTIMATOR_STORE)
                .get(SchedulerProcessor.STATE_KEY);
        if (embedding == null || parameters == null) {
            throw new IllegalArgumentException(embedding == null ? "prompt '" + id + "' has no embedding"
                    : "no Z_φ has arrived yet");
        }
        try (PartitionEstimator estimator = PartitionEstimator.of(parameters, settings.beta())) {
            double pHat = score(estimator, List.of(PoolEmbeddings.decode(embedding.getDimension(), embedding.getValues())))[0];
            return JSON.createObjectNode().put("promptId", id).put("pHat", pHat).put("estimatorVersion", parameters.getVersion());
        }
    }

    private static double[] score(PartitionEstimator estimator, List<float[]> rows) {
        if (rows.isEmpty()) {
            return new double[0];
        }
        int width = rows.get(0).length;
        float[] flat = new float[rows.size() * width];
        for (int k = 0; k < rows.size(); k++) {
            System.arraycopy(rows.get(k), 0, flat, k * width, width);
        }
        return estimator.pHat(flat, rows.size());
    }

    /** The replay buffer, highest current priority first (recomputed ones from {@code replay-priorities}). */
    private JsonNode replay() {
        List<ReplayEntry> entries = new ArrayList<>();
        try (KeyValueIterator<String, ReplayEntry> all = this.<ReplayEntry>store(SchedulerProcessor.REPLAY_STORE).all()) {
            all.forEachRemaining(kv -> entries.add(kv.value));
        }
        ReadOnlyKeyValueStore<String, Double> recomputed = store(SchedulerProcessor.PRIORITIES_STORE);
        Map<String, Double> priority = new HashMap<>();
        entries.forEach(e -> priority.put(e.getTrajectoryId(), SchedulerProcessor.priority(e, recomputed.get(e.getTrajectoryId()))));
        entries.sort(Comparator.<ReplayEntry>comparingDouble(e -> priority.get(e.getTrajectoryId())).reversed()
                .thenComparing(Comparator.comparingLong(ReplayEntry::getAdded).reversed())
                .thenComparing(ReplayEntry::getTrajectoryId));
        ObjectNode body = JSON.createObjectNode().put("size", entries.size());
        ArrayNode list = body.putArray("entries");
        entries.forEach(e -> list.add(((ObjectNode) json(e)).put("priority", priority.get(e.getTrajectoryId()))));
        return body;
    }

    private JsonNode scheduler() {
        SchedulerState state = this.<SchedulerState>store(SchedulerProcessor.STATE_STORE).get(SchedulerProcessor.STATE_KEY);
        if (state == null) {
            state = BatchScheduler.initialState();
        }
        Map<String, Long> counters = new HashMap<>(state.getCounters());
        long inFlight = counters.getOrDefault(BatchScheduler.SCHEDULED, 0L) - counters.getOrDefault(BatchScheduler.COMPLETED, 0L)
                - counters.getOrDefault(BatchScheduler.RELEASED, 0L);
        ObjectNode body = JSON.createObjectNode().put("strategy", settings.strategy().key())
                .put("learnerVersion", state.getLearnerVersion()).put("nextBatch", state.getNextBatch())
                .put("lookAhead", settings.lookAhead())
                .put("batchesAhead", state.getNextBatch() - state.getLearnerVersion())
                .put("inFlight", inFlight);
        body.set("counters", JSON.valueToTree(new TreeMap<>(counters)));
        body.set("dynamicBatches", json(state).get("dynamic"));
        return body;
    }

    private void forEachEntry(Consumer<ScheduleEntry> action) {
        try (KeyValueIterator<String, ScheduleEntry> all = this.<ScheduleEntry>store(SchedulerProcessor.INDEX_STORE).all()) {
            all.forEachRemaining(kv -> action.accept(kv.value));
        }
    }

    private <V> ReadOnlyKeyValueStore<String, V> store(String name) {
        return streams.store(StoreQueryParameters.fromNameAndType(name, QueryableStoreTypes.<String, V>keyValueStore()));
    }

    /** An Avro record as JSON, its fields by name; raw record bytes are shown by size only. */
    static JsonNode json(Object value) {
        if (value instanceof SpecificRecord record) {
            ObjectNode node = JSON.createObjectNode();
            for (Schema.Field field : record.getSchema().getFields()) {
                Object fieldValue = record.get(field.pos());
                if (fieldValue instanceof ByteBuffer bytes) {
                    node.put(field.name() + "Bytes", bytes.remaining());
                } else {
                    node.set(field.name(), json(fieldValue));
                }
            }
            return node;
        }
        if (value instanceof List<?> list) {
            ArrayNode array = JSON.createArrayNode();
            list.forEach(item -> array.add(json(item)));
            return array;
        }
        return JSON.valueToTree(value);
    }

    private static void send(HttpExchange exchange, int status, JsonNode body) throws IOException {
        byte[] bytes = JSON.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static JsonNode error(String message) {
        return JSON.createObjectNode().put("error", message);
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> params = new HashMap<>();
        if (raw != null) {
            for (String pair : raw.split("&")) {
                int eq = pair.indexOf('=');
                if (eq > 0) {
                    params.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                            URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
                }
            }
        }
        return params;
    }

    private static int intParam(Map<String, String> query, String name, int fallback) {
        try {
            return query.containsKey(name) ? Integer.parseInt(query.get(name)) : fallback;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be an integer, got '" + query.get(name) + "'");
        }
    }

    private static double doubleParam(Map<String, String> query, String name, double fallback) {
        try {
            return query.containsKey(name) ? Double.parseDouble(query.get(name)) : fallback;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be a number, got '" + query.get(name) + "'");
        }
    }

    @Override
    public void close() {
        http.stop(0);
        executor.shutdownNow();
    }
}
