package io.pacedrl.difficulty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pacedrl.embedded.CommittedRecords;
import io.pacedrl.embedded.LocalKafka;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.BatchScheduled;
import io.pacedrl.schemas.ScheduledPrompt;
import io.pacedrl.schemas.SchedulerDecision;
import io.pacedrl.learning.PartitionFunction;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.PoolEmbeddings;
import io.pacedrl.topics.TopicCreator;
import io.pacedrl.topics.TopicSpec;
import io.pacedrl.topics.Topics;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
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
            new TopicCreator(admin, Duration.ofSeconds(30)).ensure(new Topics("two.",
                    new SchemaRegistryClient(kafka.schemaRegistryUrl())).all());
        }
    }

    @AfterAll
    static void stop() throws Exception {
        kafka.close();
    }

    static <V> void send(TopicSpec<String, V> topic, String key, V value) throws Exception {
        try (var producer = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers()), new StringSerializer(), topic.valueSerde().serializer())) {
            producer.send(new ProducerRecord<>(topic.name(), key, value)).get();
        }
    }

    /** Reads committed scheduled prompts from the start until {@code count} have arrived (or a while has passed). */
    static List<ScheduledPrompt> scheduled(int count, Duration patience) {
        return scheduled(topics, count, patience);
    }

    static List<ScheduledPrompt> scheduled(Topics topics, int count, Duration patience) {
        return CommittedRecords.read(kafka.bootstrapServers(), topics.scheduledPrompts.name(),
                topics.scheduledPrompts.valueSerde().deserializer(), read -> read.size() >= count, patience);
    }

    static List<Long> batches(List<ScheduledPrompt> scheduled) {
        return scheduled.stream().map(ScheduledPrompt::getBatchId).sorted().toList();
    }

    JsonNode get(URI base, String pathAndQuery) throws Exception {
        return get(http, base, pathAndQuery);
    }

    static JsonNode get(HttpClient http, URI base, String pathAndQuery) throws Exception {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(base.resolve(pathAndQuery)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), response.body());
        return JSON.readTree(response.body());
    }

    @Test
    void twoInstancesShareTheWorkAnswerEveryQueryAndOneTakesOverWhenTheOtherStops() throws Exception {
        Topics two = new Topics("two.", new SchemaRegistryClient(kafka.schemaRegistryUrl()));
        TrainingConfig config = TrainingConfig.defaults().with(Map.of("prompts-per-step", 3, "group-size", 2, "look-ahead", 2));
        DifficultyStream.Options first = DifficultyStream.Options.of(kafka.bootstrapServers(), kafka.schemaRegistryUrl(),
                "two.", dir.resolve("state-a"));
        DifficultyStream.Options second = DifficultyStream.Options.of(kafka.bootstrapServers(), kafka.schemaRegistryUrl(),
                "two.", dir.resolve("state-b"));
        try (DifficultyStream a = DifficultyStream.start(first, config);
             DifficultyStream b = DifficultyStream.start(second, config)) {
            a.awaitRunning(Duration.ofSeconds(60));
            b.awaitRunning(Duration.ofSeconds(60));
            awaitAssigned(a, b);
            assertTrue(a.streams().metadataForLocalThreads().stream().mapToInt(t -> t.activeTasks().size()).sum() > 0
                    && b.streams().metadataForLocalThreads().stream().mapToInt(t -> t.activeTasks().size()).sum() > 0,
                    "both instances run tasks");
            for (int i = 0; i < 12; i++) {
                send(two.prompts, "p" + i, Records.prompt("p" + i));
            }
            refresh(two, 0);
            send(two.modelUpdates, "policy/0", Records.version(0));
            List<ScheduledPrompt> ahead = scheduled(two, 6, Duration.ofSeconds(60));
            assertEquals(Set.of("p6", "p5", "p7"), ahead.stream().filter(s -> s.getBatchId() == 0)
                    .map(s -> s.getPrompt().getId()).collect(Collectors.toSet()));
            assertEquals(Set.of("p4", "p8", "p3"), ahead.stream().filter(s -> s.getBatchId() == 1)
                    .map(s -> s.getPrompt().getId()).collect(Collectors.toSet()), "the next nearest: p6, p5, p7 are in flight");
            // Whichever instance is asked answers the same: it forwards to the one holding the store.
            JsonNode fromA = awaitJson(a.queryUrl(), "/scheduler", node -> node.path("nextBatch").asLong() == 2);
            assertEquals(fromA, get(b.queryUrl(), "/scheduler"));
            for (String id : List.of("p0", "p3", "p6", "p11")) {
                assertEquals(get(a.queryUrl(), "/prompts/" + id), get(b.queryUrl(), "/prompts/" + id), id);
            }
            assertEquals(get(a.queryUrl(), "/p-hat/histogram"), get(b.queryUrl(), "/p-hat/histogram"));

            // One instance stops; the other takes its tasks over with their state, and goes on.
            b.close();
            refresh(two, 1);
            send(two.modelUpdates, "policy/0", Records.version(1));
            List<ScheduledPrompt> all = scheduled(two, 9, Duration.ofSeconds(60));
            assertEquals(List.of(0L, 0L, 0L, 1L, 1L, 1L, 2L, 2L, 2L), batches(all));
            Set<String> third = all.stream().filter(s -> s.getBatchId() == 2).map(s -> s.getPrompt().getId()).collect(Collectors.toSet());
            assertEquals(3, third.size());
            assertTrue(ahead.stream().noneMatch(s -> third.contains(s.getPrompt().getId())),
                    "the survivor knows what is in flight: batch 2 " + third + " leaves out batches 0 and 1");
        }
    }

    /**
     * The app in a child process, killed with SIGKILL twice mid-run (once right after a version went
     * out, once with groups on their way) and started again: every batch is scheduled once, every
     * replay draw made once, nothing lost.
     */
    @Test
    void killedWithSigkillItSchedulesEveryBatchAndDrawsEveryReplayOnce() throws Exception {
        Topics kill = poolOfTwelve("kill.");
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), DifficultyStream.class.getName(), "--bootstrap-servers", kafka.bootstrapServers(),
                "--schema-registry-url", kafka.schemaRegistryUrl(), "--topic-prefix", "kill.", "--state-dir", dir.resolve("kill-state").toString(),
                "--http-port", "0", "--instance-id", "kill-0", "--set", "method=paced", "--set", "prompts-per-step=3", "--set", "group-size=2", "--set", "look-ahead=1",
                "--set", "replay-size=2");
        java.io.File log = dir.resolve("kill-stream.log").toFile();
        Process app = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log)).start();
        int versions = 8;
        java.util.Random random = new java.util.Random(3);
        try {
            send(kill.modelUpdates, "policy/0", Records.version(0));
            for (long batch = 0; batch < versions; batch++) {
                long b = batch;
                List<ScheduledPrompt> scheduled = CommittedRecords.read(kafka.bootstrapServers(), kill.scheduledPrompts.name(),
                        kill.scheduledPrompts.valueSerde().deserializer(), read -> read.stream().filter(s -> s.getBatchId() == b).count() >= 3,
                        Duration.ofSeconds(90));
                List<ScheduledPrompt> mine = scheduled.stream().filter(s -> s.getBatchId() == b).toList();
                assertEquals(3, mine.size(), "batch " + b + " scheduled; log: " + java.nio.file.Files.readString(log.toPath()).lines()
                        .filter(l -> l.contains("ERROR") || l.contains("Exception")).limit(10).toList());
                for (ScheduledPrompt s : mine) {
                    String id = s.getPrompt().getId();
                    send(kill.scoredRollouts, id, Records.scored(id, s.getScheduleId(), 0, 2, 1));
                    send(kill.scoredRollouts, id, Records.scored(id, s.getScheduleId(), 1, 2, 0));
                }
                if (batch == 5) { // groups on their way
                    app = restart(app, command, log);
                }
                refresh(kill, batch + 1);
                send(kill.modelUpdates, "policy/0", Records.version(batch + 1));
                if (batch == 2) { // the next batch being chosen
                    Thread.sleep(random.nextInt(300));
                    app = restart(app, command, log);
                }
            }
            List<io.pacedrl.schemas.SchedulerDecision> decisions = CommittedRecords.read(kafka.bootstrapServers(),
                    kill.schedulerDecisions.name(), kill.schedulerDecisions.valueSerde().deserializer(),
                    read -> read.stream().anyMatch(d -> d.getDecision() instanceof io.pacedrl.schemas.BatchScheduled x && x.getBatchId() == versions),
                    Duration.ofSeconds(90));
            Map<Long, Long> batches = decisions.stream().map(d -> d.getDecision()).filter(io.pacedrl.schemas.BatchScheduled.class::isInstance)
                    .map(io.pacedrl.schemas.BatchScheduled.class::cast)
                    .collect(Collectors.groupingBy(io.pacedrl.schemas.BatchScheduled::getBatchId, java.util.TreeMap::new, Collectors.counting()));
            Map<Long, Long> draws = decisions.stream().map(d -> d.getDecision()).filter(io.pacedrl.schemas.ReplayDrawn.class::isInstance)
                    .map(io.pacedrl.schemas.ReplayDrawn.class::cast)
                    .collect(Collectors.groupingBy(io.pacedrl.schemas.ReplayDrawn::getForVersion, java.util.TreeMap::new, Collectors.counting()));
            Map<Long, Long> once = new java.util.TreeMap<>();
            for (long v = 0; v <= versions; v++) {
                once.put(v, 1L);
            }
            assertEquals(once, batches, "every batch decided once");
            assertEquals(once, draws, "every update's replay drawn once (update 0's from an empty buffer)");
            List<ScheduledPrompt> all = scheduled(kill, 3 * (versions + 1) + 1, Duration.ofSeconds(5));
            assertEquals(3 * (versions + 1), all.size(), "no scheduled prompt sent twice");
            List<io.pacedrl.schemas.ReplayRecord> replayed = CommittedRecords.read(kafka.bootstrapServers(), kill.replay.name(),
                    kill.replay.valueSerde().deserializer(), read -> false, Duration.ofSeconds(2));
            assertEquals(replayed.size(), replayed.stream().map(r -> r.getForLearnerVersion() + "/" + r.getSampleIndex()).distinct().count(),
                    "no replay record sent twice");
            List<String> announced = decisions.stream().map(d -> d.getDecision()).filter(io.pacedrl.schemas.ReplayDrawn.class::isInstance)
                    .flatMap(d -> ((io.pacedrl.schemas.ReplayDrawn) d).getTrajectoryIds().stream()).toList();
            assertEquals(announced, replayed.stream().map(r -> r.getTrajectory().getRollout().getRolloutId()).toList(),
                    "the replay records are the draws the decisions announce, in order");
            assertTrue(replayed.size() >= versions, "replay drew: " + replayed.size());
        } finally {
            app.destroyForcibly().waitFor();
        }
    }

    private static Process restart(Process app, List<String> command, java.io.File log) throws Exception {
        app.destroyForcibly(); // SIGKILL: no shutdown hook, no leaving the group
        app.waitFor();
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log)).start();
    }

    /** Waits until every task has an active owner among the instances (the first rebalance is over). */
    static void awaitAssigned(DifficultyStream... instances) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            int tasks = 0;
            for (DifficultyStream instance : instances) {
                tasks += instance.streams().metadataForLocalThreads().stream().mapToInt(t -> t.activeTasks().size()).sum();
            }
            if (tasks == 7 && java.util.Arrays.stream(instances).allMatch(i -> i.streams().state() == KafkaStreams.State.RUNNING)) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("tasks were not assigned within 60 s");
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
            // Nearest 0.5 are p6 (0.525), then p5 (0.442) and p7 (0.608). The topic is keyed by
            // prompt id over several partitions, so it is read in no particular order.
            assertEquals(Set.of("p6", "p5", "p7"), first.stream().map(s -> s.getPrompt().getId()).collect(Collectors.toSet()));
            for (ScheduledPrompt s : first) {
                send(topics.scoredRollouts, s.getPrompt().getId(), Records.scored(s.getPrompt().getId(), s.getScheduleId(), 0, 2, 1));
                send(topics.scoredRollouts, s.getPrompt().getId(), Records.scored(s.getPrompt().getId(), s.getScheduleId(), 1, 2, 0));
            }
            // Groups reach the scheduler through the repartition topic, Z_φ directly: a version published
            // before the groups are through would find their prompts still in flight, and skip them.
            awaitJson(app.queryUrl(), "/scheduler", node -> node.path("inFlight").asLong() == 0);
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
            assertEquals(0.525, p6.path("scheduling").path("pHat").asDouble(), 1e-4);
            assertEquals(2, p6.path("scheduling").path("timesScheduled").asInt(), "back, and again the nearest to τ");
            assertEquals("p6@1.0", p6.path("scheduling").path("inFlight").path("scheduleId").asText());
            JsonNode nearest = get(base, "/prompts?sort=distance&limit=2");
            assertEquals(12, nearest.path("matches").asInt());
            assertEquals("p6", nearest.path("prompts").path(0).path("promptId").asText());
            // Computed on demand with version 1's Z_φ over every stored embedding.
            JsonNode histogram = get(base, "/p-hat/histogram?bins=5");
            assertEquals("[3,2,2,3,2]", histogram.path("counts").toString(), histogram.toString());
            assertEquals(12, histogram.path("scored").asInt());
            assertEquals(1, histogram.path("estimatorVersion").asLong());
            JsonNode sampled = get(base, "/p-hat/histogram?bins=5&sample=4");
            assertTrue(sampled.path("sampled").asBoolean(), sampled.toString());
            assertEquals(3, sampled.path("stride").asInt(), "every third of 12 embeddings");
            assertEquals(4, sampled.path("scored").asInt());
            JsonNode p9 = get(base, "/p-hat/p9");
            assertEquals(0.775, p9.path("pHat").asDouble(), 1e-4);
            assertEquals(1, p9.path("estimatorVersion").asLong());
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
            // Lock-step (look-ahead 1): batch 2 goes out once nothing is in flight, as the synchronous reference would have it.
            for (ScheduledPrompt s : scheduled(6, Duration.ofSeconds(5)).stream().filter(s -> s.getBatchId() == 1).toList()) {
                send(topics.scoredRollouts, s.getPrompt().getId(), Records.scored(s.getPrompt().getId(), s.getScheduleId(), 0, 2, 0));
                send(topics.scoredRollouts, s.getPrompt().getId(), Records.scored(s.getPrompt().getId(), s.getScheduleId(), 1, 2, 0));
            }
            awaitJson(app.queryUrl(), "/scheduler", node -> node.path("inFlight").asLong() == 0);
            refresh(2);
            send(topics.modelUpdates, "policy/0", Records.version(2));
            List<ScheduledPrompt> all = scheduled(9, Duration.ofSeconds(60));
            assertEquals(List.of(0L, 0L, 0L, 1L, 1L, 1L, 2L, 2L, 2L), batches(all));
        }
    }

    /**
     * A decision is committed as soon as it is made: with a commit interval far longer than the test,
     * the next version's batch and its decision reach read-committed readers within a fraction of it.
     * (The pool itself reaches the scheduler through the repartition topic, so only at the first
     * interval's commit.)
     */
    @Test
    void aDecisionIsCommittedAtOnceNotAtTheCommitInterval() throws Exception {
        Topics slow = poolOfTwelve("slow.");
        send(slow.modelUpdates, "policy/0", Records.version(0));
        TrainingConfig config = TrainingConfig.defaults().with(Map.of("method", "paced", "prompts-per-step", 3,
                "group-size", 2, "look-ahead", 2));
        Duration interval = Duration.ofSeconds(8); // under the transaction timeout (10 s), as Streams requires
        DifficultyStream.Options options = new DifficultyStream.Options(kafka.bootstrapServers(), kafka.schemaRegistryUrl(), "slow.",
                "slow.difficulty-stream", dir.resolve("slow-state"), "127.0.0.1", 0, 1, "slow-run",
                Map.of(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, interval.toMillis()));
        try (DifficultyStream app = DifficultyStream.start(options, config)) {
            app.awaitRunning(Duration.ofSeconds(60));
            assertEquals(6, scheduled(slow, 6, Duration.ofSeconds(60)).size(), "batches 0 and 1, once the pool is through");
            long sent = System.nanoTime();
            refresh(slow, 1);
            send(slow.modelUpdates, "policy/0", Records.version(1));
            List<ScheduledPrompt> three = scheduled(slow, 9, interval);
            Duration waited = Duration.ofNanos(System.nanoTime() - sent);
            assertEquals(List.of(0L, 0L, 0L, 1L, 1L, 1L, 2L, 2L, 2L), batches(three));
            assertTrue(waited.compareTo(interval.dividedBy(2)) < 0, "batch 2 took " + waited.toMillis() + " ms");
            List<SchedulerDecision> decisions = CommittedRecords.read(kafka.bootstrapServers(), slow.schedulerDecisions.name(),
                    slow.schedulerDecisions.valueSerde().deserializer(), read -> read.size() >= 3, Duration.ofSeconds(2));
            assertEquals(List.of(0L, 1L, 2L), decisions.stream().map(SchedulerDecision::getDecision)
                    .filter(d -> d instanceof BatchScheduled).map(d -> ((BatchScheduled) d).getBatchId()).toList());
        }
    }

    /**
     * The pool and the scored rollouts written by Confluent's Python client, whose default
     * partitioner (CRC32) places most keys elsewhere than Java's (murmur2): the stream still meets
     * each prompt with its embedding and its rollouts, schedules with p̂ and counts the groups.
     */
    @Test
    void aPoolAndRolloutsWrittenWithThePythonClientsPartitionerAreScheduledWithEstimates() throws Exception {
        assumeTrue(pythonClientInstalled(), "Confluent's Python client is not installed (apt-get install "
                + "python3-confluent-kafka); .ci/run installs it");
        Topics py = new Topics("py.", new SchemaRegistryClient(kafka.schemaRegistryUrl()));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            new TopicCreator(admin, Duration.ofSeconds(30)).ensure(py.all());
        }
        List<JsonNode> pool = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            pool.add(record(py.prompts, "p" + i, Records.prompt("p" + i)));
        }
        List<JsonNode> placed = writeWithPython(pool);
        long elsewhere = placed.stream().filter(p -> p.path("partition").asInt()
                != Placement.partitionFor(p.path("key").asText(), py.prompts.partitions())).count();
        assertTrue(elsewhere >= 6, "most prompts sit where Java would not put them: " + placed);
        refresh(py, 0);
        send(py.modelUpdates, "policy/0", Records.version(0));

        TrainingConfig config = TrainingConfig.defaults().with(Map.of("method", "paced", "prompts-per-step", 3,
                "group-size", 2, "look-ahead", 1));
        try (DifficultyStream app = DifficultyStream.start(DifficultyStream.Options.of(kafka.bootstrapServers(),
                kafka.schemaRegistryUrl(), "py.", dir.resolve("py-state")), config)) {
            app.awaitRunning(Duration.ofSeconds(60));
            List<ScheduledPrompt> first = scheduled(py, 3, Duration.ofSeconds(60));
            assertEquals(Set.of("p6", "p5", "p7"), first.stream().map(s -> s.getPrompt().getId()).collect(Collectors.toSet()),
                    "the three nearest τ by Z_φ");
            assertTrue(first.stream().allMatch(s -> s.getPHat() != null), "scheduled with p̂: " + first);
            List<JsonNode> rollouts = new ArrayList<>();
            for (ScheduledPrompt s : first) {
                String id = s.getPrompt().getId();
                rollouts.add(record(py.scoredRollouts, id, Records.scored(id, s.getScheduleId(), 0, 2, 1)));
                rollouts.add(record(py.scoredRollouts, id, Records.scored(id, s.getScheduleId(), 1, 2, 0)));
            }
            writeWithPython(rollouts);
            awaitJson(app.queryUrl(), "/scheduler", node -> node.path("inFlight").asLong() == 0
                    && node.path("counters").path(BatchScheduler.COMPLETED).asLong() == 3);
            JsonNode p6 = awaitJson(app.queryUrl(), "/prompts/p6", node -> node.path("state").path("groups").asLong() == 1);
            assertEquals(0.5, p6.path("state").path("lastAccuracy").asDouble());
            refresh(py, 1);
            send(py.modelUpdates, "policy/0", Records.version(1));
            List<ScheduledPrompt> next = scheduled(py, 6, Duration.ofSeconds(60)).stream().filter(s -> s.getBatchId() == 1).toList();
            assertEquals(3, next.size());
            assertTrue(next.stream().allMatch(s -> s.getPHat() != null), "scheduled with p̂: " + next);
        }
        List<io.pacedrl.schemas.DeadLetter> dead = CommittedRecords.read(kafka.bootstrapServers(), py.deadLetters.name(),
                py.deadLetters.valueSerde().deserializer(), read -> false, Duration.ofSeconds(2));
        assertEquals(List.of(), dead.stream().map(d -> d.getErrorType() + ": " + d.getReason()).toList(), "nothing dead-lettered");
    }

    static final String PYTHON = "/usr/bin/python3";

    static boolean pythonClientInstalled() {
        try {
            Process check = new ProcessBuilder(PYTHON, "-c", "import confluent_kafka").redirectErrorStream(true).start();
            check.getInputStream().readAllBytes();
            return check.waitFor(30, TimeUnit.SECONDS) && check.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }

    /** One record as the Python writer takes it: topic, key, and the value's bytes as our serializer writes them. */
    static <V> JsonNode record(TopicSpec<String, V> topic, String key, V value) {
        return JSON.createObjectNode().put("topic", topic.name()).put("key", key)
                .put("value", Base64.getEncoder().encodeToString(topic.valueSerde().serializer().serialize(topic.name(), value)));
    }

    /** Writes the records with Confluent's Python client's default partitioner; where each went. */
    static List<JsonNode> writeWithPython(List<JsonNode> records) throws Exception {
        Process python = new ProcessBuilder(PYTHON, Path.of("src/test/python/produce_with_default_partitioner.py").toString(),
                kafka.bootstrapServers()).start();
        try (var stdin = python.getOutputStream()) {
            for (JsonNode record : records) {
                stdin.write((record + "\n").getBytes(StandardCharsets.UTF_8));
            }
        }
        String out = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(python.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(python.waitFor(60, TimeUnit.SECONDS) && python.exitValue() == 0, err);
        List<JsonNode> placed = new ArrayList<>();
        for (String line : out.lines().toList()) {
            placed.add(JSON.readTree(line));
        }
        assertEquals(records.size(), placed.size(), out + err);
        return placed;
    }

    /** Topics of their own under {@code prefix}, with the pool p0–p11 and its embeddings on them (version 0's). */
    static Topics poolOfTwelve(String prefix) throws Exception {
        Topics topics = new Topics(prefix, new SchemaRegistryClient(kafka.schemaRegistryUrl()));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            new TopicCreator(admin, Duration.ofSeconds(30)).ensure(topics.all());
        }
        for (int i = 0; i < 12; i++) {
            send(topics.prompts, "p" + i, Records.prompt("p" + i));
        }
        refresh(topics, 0);
        return topics;
    }

    /**
     * What the learner publishes for {@code version}: at version 0 the pool's embeddings and their end
     * markers, then Z_φ of the version (p̂_i = (i + 0.3)/12: no two as far from τ).
     */
    static void refresh(long version) throws Exception {
        refresh(topics, version);
    }

    static void refresh(Topics topics, long version) throws Exception {
        if (version == 0) {
            for (int i = 0; i < 12; i++) {
                send(topics.promptEmbeddings, "p" + i, PoolEmbeddings.of("p" + i, DesignedPartition.embedding(i), "test", 0));
            }
            try (var producer = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                    kafka.bootstrapServers()), new StringSerializer(), topics.promptEmbeddings.valueSerde().serializer())) {
                for (var marker : PoolEmbeddings.endMarkers(topics.promptEmbeddings, "test", 0)) {
                    producer.send(marker).get();
                }
            }
        }
        double[] pHat = new double[12];
        for (int i = 0; i < 12; i++) {
            pHat[i] = (i + 0.3) / 12;
        }
        byte[] parameters = DesignedPartition.parameters(TrainingConfig.defaults().beta(), pHat);
        send(topics.modelUpdates, "policy/partition-function/0", ModelUpdateChunks.split("policy/partition-function", version,
                PartitionFunction.FORMAT, parameters, version, List.of(), List.of(), 0).get(0));
    }

    JsonNode awaitJson(URI base, String path, java.util.function.Predicate<JsonNode> ready) throws Exception {
        return awaitJson(http, base, path, ready);
    }

    static JsonNode awaitJson(HttpClient http, URI base, String path, java.util.function.Predicate<JsonNode> ready) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        JsonNode node = get(http, base, path);
        while (!ready.test(node) && System.nanoTime() < deadline) {
            Thread.sleep(200);
            node = get(http, base, path);
        }
        assertTrue(ready.test(node), path + ": " + node);
        return node;
    }
}
