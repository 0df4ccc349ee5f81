package io.pacedrl.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.pacedrl.embedded.CommittedRecords;
import io.pacedrl.embedded.LocalKafka;
import io.pacedrl.learning.MetricNames;
import io.pacedrl.policy.CharTokenizer;
import io.pacedrl.policy.Torch;
import io.pacedrl.policy.Transformer;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.PromptEmbedding;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.RunEvent;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.learning.PartitionEnsemble;
import io.pacedrl.topics.PoolEmbeddings;
import io.pacedrl.topics.RunEvents;
import io.pacedrl.topics.TopicCreator;
import io.pacedrl.topics.Topics;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The learner on the real embedded broker, run as its own process and killed with SIGKILL twice
 * mid-run: every version is published once, every batch is learned from once, nothing is lost.
 * The test plays the rest of the pipeline: it writes the pool, and each batch's scored rollouts
 * once the version they wait for is out.
 */
class LearnerServiceTest {
    private static final int STEPS = 6;
    private static final int B = 2;
    private static final int G = 3;

    @TempDir
    static Path dir;
    static LocalKafka kafka;

    @BeforeAll
    static void start() throws Exception {
        Torch.configure(1);
        kafka = LocalKafka.start(dir.resolve("kafka"), true);
    }

    @AfterAll
    static void stop() throws Exception {
        kafka.close();
    }

    @Test
    void killedTwiceItPublishesEveryVersionOnceAndLearnsFromEveryBatchOnce() throws Exception {
        String prefix = "kill9.";
        Topics topics = new Topics(prefix, new SchemaRegistryClient(kafka.schemaRegistryUrl()));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            new TopicCreator(admin, Duration.ofSeconds(30)).ensure(topics.all());
        }
        Path weights = dir.resolve("reference.weights");
        try (NDManager manager = NDManager.newBaseManager();
                Transformer model = new Transformer(manager, new Transformer.Config(CharTokenizer.ASCII.vocabularySize(), 32, 1, 2,
                        48, 0f, true), CharTokenizer.ASCII, 5)) {
            Files.write(weights, model.toBytes());
        }
        List<Prompt> pool = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            pool.add(Fixtures.prompt("p" + i, i + "+" + i + "=", Integer.toString(2 * i), PromptSplit.TRAIN));
        }
        for (int i = 0; i < 4; i++) {
            pool.add(Fixtures.prompt("h" + i, i + "*3=", Integer.toString(3 * i), PromptSplit.HELD_OUT));
        }
        try (var producer = producer(topics)) {
            for (Prompt prompt : pool) {
                producer.send(new ProducerRecord<>(topics.prompts.name(), prompt.getId(), prompt)).get();
            }
        }

        Path checkpoints = dir.resolve("checkpoints");
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), LearnerService.class.getName(),
                "--bootstrap-servers", kafka.bootstrapServers(), "--schema-registry-url", kafka.schemaRegistryUrl(),
                "--topic-prefix", prefix, "--checkpoint-dir", checkpoints.toString(), "--weights", weights.toString(),
                "--set", "method=paced-selection", "--set", "steps=" + STEPS, "--set", "prompts-per-step=" + B,
                "--set", "group-size=" + G, "--set", "eval-every=3", "--set", "eval-prompts=4", "--set", "eval-samples=2",
                "--set", "final-samples=2", "--set", "probe-prompts=4", "--set", "max-new-tokens=6",
                "--set", "partition-fit-steps=2", "--set", "partition-hidden=16", "--set", "partition-copy-every=2",
                "--set", "partition-copies=2");
        Random random = new Random(11);
        Set<String> produced = new HashSet<>();
        Process learner = launch(command);
        try {
            for (int batch = 0; batch < STEPS; batch++) {
                if (batch == 5) {
                    assertTrue(learner.waitFor(120, TimeUnit.SECONDS), "halts before committing version 5");
                    assertEquals(137, learner.exitValue());
                    learner = launch(command);
                }
                awaitVersion(topics, batch, learner);
                if (batch == 4) {
                    // Killed while waiting for a batch; the next run halts with version 5 checkpointed and
                    // sent but not committed, and the one after must publish it again.
                    learner = restart(learner, halting(command, 5));
                }
                try (var producer = producer(topics)) {
                    for (int k = 0; k < B; k++) {
                        Prompt prompt = pool.get((batch * B + k) % 8);
                        int[] tokens = CharTokenizer.ASCII.encodePrompt(prompt.getText());
                        for (int i = 0; i < G; i++) {
                            boolean correct = (i + k + batch) % 2 == 0;
                            ScoredRollout scored = Fixtures.scored(prompt, tokens, batch, i, G, correct, batch,
                                    CharTokenizer.ASCII.encodeResponse(correct ? prompt.getAnswer() : "7"));
                            producer.send(new ProducerRecord<>(topics.scoredRollouts.name(), prompt.getId(), scored)).get();
                            produced.add(scored.getRollout().getRolloutId());
                        }
                    }
                }
                if (batch == 2) {
                    Thread.sleep(random.nextInt(400)); // killed somewhere in the update, its checkpoint or its transaction
                    learner = restart(learner, command);
                }
            }
            awaitVersion(topics, STEPS, learner);
            List<RunEvent> events = CommittedRecords.read(kafka.bootstrapServers(), topics.runEvents.name(),
                    topics.runEvents.valueSerde().deserializer(), read -> read.stream().anyMatch(e -> e.getType().equals(RunEvents.FINAL)),
                    Duration.ofSeconds(120));
            List<RunEvent> learnerEvents = events.stream().filter(e -> e.getSource().equals(RunEvents.LEARNER)).toList();

            List<ModelUpdate> chunks = CommittedRecords.read(kafka.bootstrapServers(), topics.modelUpdates.name(),
                    topics.modelUpdates.valueSerde().deserializer(), read -> read.size() > STEPS, Duration.ofSeconds(10));
            Map<Long, Long> chunk0ByVersion = chunks.stream().filter(c -> c.getChunkIndex() == 0 && c.getModelId().equals("policy"))
                    .collect(Collectors.groupingBy(ModelUpdate::getVersion, TreeMap::new, Collectors.counting()));
            Map<Long, Long> once = new TreeMap<>();
            for (long v = 0; v <= STEPS; v++) {
                once.put(v, 1L);
            }
            assertEquals(once, chunk0ByVersion, "every version published exactly once");

            // Z_φ goes out with every version, once, in one chunk the scheduler can load, with its copies.
            List<ModelUpdate> partitions = chunks.stream().filter(c -> c.getModelId().equals("policy" + LearnerService.PARTITION_SUFFIX))
                    .toList();
            assertEquals(once, partitions.stream().collect(Collectors.groupingBy(ModelUpdate::getVersion, TreeMap::new,
                    Collectors.counting())), "Z_φ with every version exactly once");
            assertTrue(partitions.stream().allMatch(c -> c.getFormat().equals(PartitionEnsemble.FORMAT) && c.getChunkCount() == 1));
            Map<Long, byte[]> published = new TreeMap<>();
            partitions.forEach(c -> {
                byte[] bytes = new byte[c.getChunk().remaining()];
                c.getChunk().duplicate().get(bytes);
                published.put(c.getVersion(), bytes);
            });
            try (NDManager manager = NDManager.newBaseManager();
                    PartitionEnsemble newest = PartitionEnsemble.fromBytes(manager, published.get((long) STEPS));
                    PartitionEnsemble two = PartitionEnsemble.fromBytes(manager, published.get(2L));
                    PartitionEnsemble four = PartitionEnsemble.fromBytes(manager, published.get(4L))) {
                assertEquals(32, newest.inputSize(), "over the reference policy's embeddings");
                // Copies as updates 3 and 5 began, through the kills and restarts around them.
                assertEquals(List.of(Arrays.toString(two.now().toBytes()), Arrays.toString(four.now().toBytes())),
                        newest.copyBytes().stream().map(Arrays::toString).toList(), "the copies are versions 2 and 4's Z_φ");
            }
            List<String> learned = chunks.stream().filter(c -> c.getChunkIndex() == 0 && c.getModelId().equals("policy"))
                    .flatMap(c -> c.getRolloutIds().stream()).toList();
            assertEquals(produced.size(), learned.size(), "no rollout learned twice");
            assertEquals(produced, new HashSet<>(learned), "every batch learned from");
            for (ModelUpdate chunk : chunks) {
                if (chunk.getChunkIndex() == 0 && chunk.getVersion() > 0 && chunk.getModelId().equals("policy")) {
                    long batch = chunk.getVersion() - 1;
                    assertTrue(chunk.getRolloutIds().stream().allMatch(id -> id.contains("@" + batch + ".")),
                            "version " + chunk.getVersion() + " learned from batch " + batch);
                }
            }

            Map<Long, Long> metrics = count(learnerEvents, RunEvents.METRICS);
            once.remove(0L);
            assertEquals(once, metrics, "one metrics event per update");
            assertEquals(Map.of(0L, 1L, 3L, 1L, 6L, 1L), count(learnerEvents, RunEvents.EVAL), "evaluations at 0, 3 and 6, once each");
            assertEquals(Map.of((long) STEPS, 1L), count(learnerEvents, RunEvents.FINAL));
            RunEvent last = learnerEvents.stream().filter(e -> e.getType().equals(RunEvents.METRICS) && e.getLearnerVersion() == STEPS)
                    .findFirst().orElseThrow();
            assertEquals(STEPS * B * G, last.getMetrics().get(MetricNames.ROLLOUTS_CONSUMED), "the running total survived both kills");
            assertTrue(Double.isFinite(last.getMetrics().get(MetricNames.LOSS)));
            assertTrue(Double.isFinite(last.getMetrics().get(MetricNames.BETA_KL)));

            // The pool's embeddings went out once, with version 0, whatever the restarts; nothing per prompt per version.
            List<PromptEmbedding> embeddings = CommittedRecords.read(kafka.bootstrapServers(), topics.promptEmbeddings.name(),
                    topics.promptEmbeddings.valueSerde().deserializer(), read -> read.size() >= 14, Duration.ofSeconds(10));
            assertEquals(6, embeddings.stream().filter(PoolEmbeddings::isEndMarker).count(), "an end marker per partition");
            assertEquals(8, embeddings.stream().filter(e -> !PoolEmbeddings.isEndMarker(e)).map(PromptEmbedding::getPromptId).distinct()
                    .count(), "an embedding per pool prompt");
            assertEquals(14, embeddings.size(), "and nothing more");
            assertTrue(embeddings.stream().filter(e -> !PoolEmbeddings.isEndMarker(e)).allMatch(e -> PoolEmbeddings.decode(e).length == 32));
            List<DeadLetter> dead = CommittedRecords.read(kafka.bootstrapServers(), topics.deadLetters.name(),
                    topics.deadLetters.valueSerde().deserializer(), read -> false, Duration.ofSeconds(2));
            assertEquals(List.of(), dead);
            List<String> resumed = Files.readString(dir.resolve("learner.log")).lines()
                    .filter(l -> l.contains("learner: resumed at version") || l.contains("publishing it again")).toList();
            System.out.println(String.join("\n", resumed));
            assertEquals(3, resumed.stream().filter(l -> l.contains("resumed")).count(), "every restart resumed from a checkpoint");
            assertEquals(1, resumed.stream().filter(l -> l.contains("version 5 was checkpointed but never published")).count());
        } finally {
            learner.destroyForcibly().waitFor();
        }
    }

    private static Map<Long, Long> count(List<RunEvent> events, String type) {
        return events.stream().filter(e -> e.getType().equals(type))
                .collect(Collectors.groupingBy(RunEvent::getLearnerVersion, TreeMap::new, Collectors.counting()));
    }

    /** The learner as its own JVM, its output appended to learner.log. */
    private static Process launch(List<String> command) throws Exception {
        File log = dir.resolve("learner.log").toFile();
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log)).start();
    }

    private static List<String> halting(List<String> command, long version) {
        List<String> halting = new ArrayList<>(command);
        halting.add(1, "-D" + LearnerService.HALT_BEFORE_COMMIT + "=" + version);
        return halting;
    }

    /** kill -9, then the same command again. */
    private static Process restart(Process learner, List<String> command) throws Exception {
        learner.destroyForcibly(); // SIGKILL: no shutdown hook runs
        learner.waitFor();
        return launch(command);
    }

    private static void awaitVersion(Topics topics, long version, Process learner) throws Exception {
        List<ModelUpdate> seen = CommittedRecords.read(kafka.bootstrapServers(), topics.modelUpdates.name(),
                topics.modelUpdates.valueSerde().deserializer(), read -> read.stream().anyMatch(c -> c.getVersion() == version)
                        || !learner.isAlive(), Duration.ofSeconds(120));
        assertTrue(seen.stream().anyMatch(c -> c.getVersion() == version), "version " + version + " published; learner log: "
                + Files.readString(dir.resolve("learner.log")).lines()
                .filter(l -> l.contains("ERROR") || l.contains("Exception") || l.contains("learner")).limit(20).toList());
    }

    private static KafkaProducer<String, Object> producer(Topics topics) {
        return new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()),
                new StringSerializer(), topics.valueSerializer());
    }
}
