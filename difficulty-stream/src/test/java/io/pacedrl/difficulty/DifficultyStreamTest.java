package io.pacedrl.difficulty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pacedrl.embedded.LocalKafka;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.ScheduledPrompt;
import io.pacedrl.topics.LogZRefresh;
import io.pacedrl.topics.TopicCreator;
import io.pacedrl.topics.TopicSpec;
import io.pacedrl.topics.Topics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The service on the real embedded broker: it schedules, answers queries over HTTP, and resumes after a restart. */
class DifficultyStreamTest {
    @TempDir
    static Path dir;
    static LocalKafka kafka;
    static Topics topics;
    static final ObjectMapper JSON = new ObjectMapper();
    final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        kafka = LocalKafka.start(dir.resolve("kafka"), true);
        topics = new Topics(new SchemaRegistryClient(kafka.schemaRegistryUrl()));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            new TopicCreator(admin, Duration.ofSeconds(30)).ensure(topics.all());
        }
    }

    @AfterAll
    static void stop() throws Exception {
        kafka.close();
    }

    <V> void send(TopicSpec<String, V> topic, String key, V value) throws Exception {
        try (var producer = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers()), new StringSerializer(), topic.valueSerde().serializer())) {
            producer.send(new ProducerRecord<>(topic.name(), key, value)).get();
        }
    }

    /** Reads committed scheduled prompts from the start until {@code count} have arrived (or a while has passed). */
    List<ScheduledPrompt> scheduled(int count, Duration patience) {
        List<ScheduledPrompt> out = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(Map.<String, Object>of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers(), ConsumerConfig.GROUP_ID_CONFIG, "reader-" + System.nanoTime(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest", ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                new StringDeserializer(), topics.scheduledPrompts.valueSerde().deserializer())) {
            consumer.subscribe(List.of(topics.scheduledPrompts.name()));
            long deadline = System.nanoTime() + patience.toNanos();
            while (out.size() < count && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> out.add(r.value()));
            }
        }
        return out;
    }

    static List<Long> batches(List<ScheduledPrompt> scheduled) {
        return scheduled.stream().map(ScheduledPrompt::getBatchId).sorted().toList();
    }

    JsonNode get(URI base, String pathAndQuery) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(base.resolve(pathAndQuery)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        return JSON.readTree(response.body());
    }

    @Test
    void schedulesFromRealTopicsAnswersQueriesAndResumesAfterARestart() throws Exception {
        TrainingConfig config = TrainingConfig.defaults().with(Map.of("method", "paced", "prompts-per-step", 3,
                "group-size", 2, "look-ahead", 1, "replay-size", 2));
        DifficultyStream.Options options = DifficultyStream.Options.of(kafka.bootstrapServers(), kafka.schemaRegistryUrl(),
                "", dir.resolve("state"));
        for (int i = 0; i < 12; i++) {
            send(topics.prompts, "p" + i, Records.prompt("p" + i));
        }
        refresh(0);
        send(topics.modelUpdates, "policy/0", Records.version(0));

        List<ScheduledPrompt> first;
        try (DifficultyStream app = DifficultyStream.start(options, config)) {
            app.awaitRunning(Duration.ofSeconds(60));
            first = scheduled(3, Duration.ofSeconds(60));
            // p̂ = i/12: nearest 0.5 are p6 (0.5), then p5 and p7 (1/12 away). The topic is keyed by
            // prompt id over several partitions, so it is read in no particular order.
            assertEquals(Set.of("p6", "p5", "p7"), first.stream().map(s -> s.getPrompt().getId()).collect(Collectors.toSet()));
            for (ScheduledPrompt s : first) {
                send(topics.scoredRollouts, s.getPrompt().getId(), Records.scored(s.getPrompt().getId(), s.getScheduleId(), 0, 2, 1));
                send(topics.scoredRollouts, s.getPrompt().getId(), Records.scored(s.getPrompt().getId(), s.getScheduleId(), 1, 2, 0));
            }
            refresh(1);
            send(topics.modelUpdates, "policy/0", Records.version(1));
            List<ScheduledPrompt> two = scheduled(6, Duration.ofSeconds(60));
            assertEquals(List.of(0L, 0L, 0L, 1L, 1L, 1L), batches(two));

            URI base = app.queryUrl();
            JsonNode scheduler = awaitJson(base, "/scheduler", node -> node.path("learnerVersion").asLong() == 1);
            assertEquals(2, scheduler.path("nextBatch").asLong());
            assertEquals(3, scheduler.path("inFlight").asLong(), scheduler.toString());
            JsonNode p6 = awaitJson(base, "/prompts/p6", node -> node.path("state").path("groups").asLong() == 1);
            assertEquals(0.5, p6.path("state").path("lastAccuracy").asDouble());
            assertEquals(0.5, p6.path("scheduling").path("pHat").asDouble());
            assertEquals(2, p6.path("scheduling").path("timesScheduled").asInt(), "back, and again the nearest to τ");
            assertEquals("p6@1.0", p6.path("scheduling").path("inFlight").path("scheduleId").asText());
            JsonNode nearest = get(base, "/prompts?sort=distance&limit=2");
            assertEquals(12, nearest.path("matches").asInt());
            assertEquals("p6", nearest.path("prompts").path(0).path("promptId").asText());
            JsonNode histogram = get(base, "/p-hat/histogram?bins=4");
            assertEquals("[3,3,3,3]", histogram.path("counts").toString());
            JsonNode replay = get(base, "/replay");
            assertEquals(3, replay.path("size").asInt(), "one correct trajectory of each group");
            assertEquals(404, http.send(HttpRequest.newBuilder(base.resolve("/prompts/nope")).build(),
                    HttpResponse.BodyHandlers.ofString()).statusCode());
        }

        // A restart resumes from the stores: nothing scheduled twice, the next version's batch follows.
        try (DifficultyStream app = DifficultyStream.start(options, config)) {
            app.awaitRunning(Duration.ofSeconds(60));
            assertEquals(6, scheduled(7, Duration.ofSeconds(5)).size(), "no batch re-sent after the restart");
            JsonNode scheduler = get(app.queryUrl(), "/scheduler");
            assertEquals(2, scheduler.path("nextBatch").asLong());
            refresh(2);
            send(topics.modelUpdates, "policy/0", Records.version(2));
            List<ScheduledPrompt> all = scheduled(9, Duration.ofSeconds(60));
            assertEquals(List.of(0L, 0L, 0L, 1L, 1L, 1L, 2L, 2L, 2L), batches(all));
        }
    }

    /** The learner's p̂ for the whole pool at {@code version} (p_i = i/12), then its end markers. */
    void refresh(long version) throws Exception {
        for (int i = 0; i < 12; i++) {
            send(topics.logZ, "p" + i, Records.logZ("p" + i, i / 12.0, version));
        }
        try (var producer = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers()), new StringSerializer(), topics.logZ.valueSerde().serializer())) {
            for (var marker : LogZRefresh.endMarkers(topics.logZ, version, 0)) {
                producer.send(marker).get();
            }
        }
    }

    JsonNode awaitJson(URI base, String path, java.util.function.Predicate<JsonNode> ready) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        JsonNode node = get(base, path);
        while (!ready.test(node) && System.nanoTime() < deadline) {
            Thread.sleep(200);
            node = get(base, path);
        }
        assertTrue(ready.test(node), path + ": " + node);
        return node;
    }
}
