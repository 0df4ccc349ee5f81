package io.pacedrl.generator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.pacedrl.embedded.CommittedRecords;
import io.pacedrl.embedded.LocalKafka;
import io.pacedrl.policy.CharTokenizer;
import io.pacedrl.policy.Torch;
import io.pacedrl.policy.Transformer;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.Rollout;
import io.pacedrl.schemas.ScheduledPrompt;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.TopicCreator;
import io.pacedrl.topics.TopicSpec;
import io.pacedrl.topics.Topics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Generators on the real embedded broker: G rollouts per prompt, weights swapped mid-stream, bad updates refused, two sharing the work. */
class GeneratorServiceTest {
    @TempDir
    static Path dir;
    static LocalKafka kafka;
    static final Transformer.Config TINY = new Transformer.Config(CharTokenizer.ASCII.vocabularySize(), 32, 1, 2, 64, 0f, true);

    @BeforeAll
    static void start() throws Exception {
        Torch.configure(1);
        kafka = LocalKafka.start(dir.resolve("kafka"), true);
    }

    @AfterAll
    static void stop() throws Exception {
        kafka.close();
    }

    static Topics topics(String prefix) throws Exception {
        Topics topics = new Topics(prefix, new SchemaRegistryClient(kafka.schemaRegistryUrl()));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            new TopicCreator(admin, Duration.ofSeconds(30)).ensure(topics.all());
        }
        return topics;
    }

    static byte[] weights(long seed) {
        try (NDManager manager = NDManager.newBaseManager(); Transformer model = new Transformer(manager, TINY, CharTokenizer.ASCII, seed)) {
            return model.toBytes();
        }
    }

    static void publish(Topics topics, List<ModelUpdate> chunks) throws Exception {
        try (var producer = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers(), ProducerConfig.MAX_REQUEST_SIZE_CONFIG, topics.modelUpdates.maxMessageBytes()),
                new StringSerializer(), topics.modelUpdates.valueSerde().serializer())) {
            for (ModelUpdate chunk : chunks) {
                producer.send(new ProducerRecord<>(topics.modelUpdates.name(),
                        ModelUpdateChunks.key(chunk.getModelId(), chunk.getChunkIndex()), chunk)).get();
            }
        }
    }

    static List<ModelUpdate> version(long version, long seed) {
        return ModelUpdateChunks.split("policy", version, "paced-rl-weights-v1", weights(seed), version, List.of(), List.of(), 0);
    }

    static void schedule(Topics topics, List<String> ids, int groupSize, String batch) throws Exception {
        try (var producer = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers()), new StringSerializer(), topics.scheduledPrompts.valueSerde().serializer())) {
            for (String id : ids) {
                Prompt prompt = Prompt.newBuilder().setId(id).setKind("numeric").setFamily("arith").setDifficulty(1)
                        .setSplit(PromptSplit.TRAIN).setText(id.startsWith("bad") ? "caf\u00e9?" : "2+" + id.length() + "=")
                        .setAnswer("4").build();
                producer.send(new ProducerRecord<>(topics.scheduledPrompts.name(), id, ScheduledPrompt.newBuilder()
                        .setPrompt(prompt).setScheduleId(id + "@" + batch).setBatchId(0).setGroupSize(groupSize)
                        .setLearnerVersion(0).setStrategy("paced").setPHat(0.5).setScheduledAtMs(0).build())).get();
            }
        }
    }

    static <V> List<V> read(TopicSpec<String, V> topic, Predicate<List<V>> done, Duration patience) {
        return CommittedRecords.read(kafka.bootstrapServers(), topic.name(), topic.valueSerde().deserializer(), done, patience);
    }

    static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(50);
        }
    }

    static GeneratorService generator(Topics topics, String prefix, String id) {
        GeneratorService.Options defaults = GeneratorService.Options.of(kafka.bootstrapServers(), kafka.schemaRegistryUrl(),
                prefix, "policy");
        return GeneratorService.start(new GeneratorService.Options(defaults.bootstrapServers(), defaults.schemaRegistryUrl(),
                prefix, id, "policy", new Transformer.SamplingConfig(1f, 1f, 8), 8, 1));
    }

    @Test
    void samplesGroupsWithLogProbsAndSwapsWeightsMidStreamButNeverTakesABadUpdate() throws Exception {
        Topics topics = topics("one.");
        try (GeneratorService generator = generator(topics, "one.", "gen-a")) {
            schedule(topics, List.of("p1", "p22", "p333", "p4444"), 3, "0.0");
            Thread.sleep(500);
            assertEquals(0, read(topics.rollouts, l -> false, Duration.ofMillis(300)).size(), "no rollouts before a policy");
            publish(topics, version(0, 1));
            List<Rollout> first = read(topics.rollouts, l -> l.size() >= 12, Duration.ofSeconds(60));
            assertEquals(12, first.size());
            for (Rollout rollout : first) {
                assertEquals(0, rollout.getPolicyVersion());
                assertEquals(3, rollout.getGroupSize());
                assertEquals(rollout.getResponseTokens().size(), rollout.getBehaviourLogProbs().size());
                assertTrue(rollout.getBehaviourLogProbs().stream().allMatch(p -> p <= 0 && Float.isFinite(p)));
                assertEquals(rollout.getScheduleId() + "/" + rollout.getGroupIndex(), rollout.getRolloutId());
                assertEquals("gen-a", rollout.getGeneratorId());
            }
            assertEquals(Set.of(0, 1, 2), first.stream().filter(r -> r.getPrompt().getId().equals("p22"))
                    .map(Rollout::getGroupIndex).collect(Collectors.toSet()));

            // A new version is taken between batches, without a restart.
            publish(topics, version(1, 2));
            await(() -> generator.policyVersion() == 1, "version 1");
            // A corrupt version (bytes that do not match the checksum) and an incomplete one are refused.
            List<ModelUpdate> corrupt = version(2, 3);
            corrupt.get(0).setSha256("0".repeat(64));
            publish(topics, corrupt);
            List<ModelUpdate> partial = ModelUpdateChunks.split("policy", 3, "paced-rl-weights-v1", weights(4), 3, List.of(),
                    List.of(), 0);
            partial.get(0).setChunkCount(2); // says two chunks; only one is ever sent
            publish(topics, partial);
            await(() -> generator.rejectedUpdates() == 1, "the corrupt update to be rejected");
            schedule(topics, List.of("p5", "bad6"), 2, "1.0");
            try (var raw = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                    kafka.bootstrapServers()), new StringSerializer(), new ByteArraySerializer())) {
                raw.send(new ProducerRecord<>(topics.scheduledPrompts.name(), "junk", new byte[] {9, 9})).get();
            }
            List<Rollout> all = read(topics.rollouts, l -> l.size() >= 14, Duration.ofSeconds(60));
            assertEquals(14, all.size());
            assertEquals(List.of(1L, 1L), all.stream().filter(r -> r.getPrompt().getId().equals("p5"))
                    .map(Rollout::getPolicyVersion).toList(), "sampled with version 1: 2 was corrupt, 3 is incomplete");
            assertEquals(1, generator.policyVersion());

            List<DeadLetter> dead = read(topics.deadLetters, l -> l.size() >= 3, Duration.ofSeconds(30));
            assertEquals(Set.of(GeneratorService.CORRUPT_UPDATE, GeneratorService.UNUSABLE_PROMPT, "NOT_CONFLUENT_FRAMING"),
                    dead.stream().map(DeadLetter::getErrorType).collect(Collectors.toSet()), dead.toString());
            assertEquals(3, dead.size());
        }
    }

    @Test
    void twoGeneratorsShareTheScheduledPromptsEachGroupExactlyOnce() throws Exception {
        Topics topics = topics("two.");
        publish(topics, version(0, 1));
        try (GeneratorService a = generator(topics, "two.", "gen-a"); GeneratorService b = generator(topics, "two.", "gen-b")) {
            await(() -> a.policyVersion() == 0 && b.policyVersion() == 0, "both to load version 0");
            Thread.sleep(4_000); // both in the group, partitions assigned
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                ids.add("q" + i);
            }
            schedule(topics, ids, 2, "0.0");
            List<Rollout> rollouts = read(topics.rollouts, l -> l.size() >= 48, Duration.ofSeconds(90));
            assertEquals(48, rollouts.size());
            assertEquals(48, rollouts.stream().map(Rollout::getRolloutId).distinct().count(), "no group twice");
            assertEquals(Set.of("gen-a", "gen-b"), rollouts.stream().map(Rollout::getGeneratorId).collect(Collectors.toSet()));
            assertTrue(rollouts.stream().collect(Collectors.groupingBy(Rollout::getScheduleId, Collectors.mapping(
                    Rollout::getGeneratorId, Collectors.toSet()))).values().stream().allMatch(s -> s.size() == 1),
                    "a group comes from one generator");
        }
    }
}
