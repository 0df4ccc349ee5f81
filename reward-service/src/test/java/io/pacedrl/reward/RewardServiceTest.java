package io.pacedrl.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.embedded.CommittedRecords;
import io.pacedrl.embedded.LocalKafka;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.FinishReason;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.Rollout;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.tasks.RewardVerifier;
import io.pacedrl.topics.TopicCreator;
import io.pacedrl.topics.TopicSpec;
import io.pacedrl.topics.Topics;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reward service on the real embedded broker: verifiers as consumer groups, added live; what cannot be scored, dead-lettered once. */
class RewardServiceTest {
    @TempDir
    static Path dir;
    static LocalKafka kafka;
    static Topics topics;

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

    static Rollout rollout(String id, String kind, String answer, String spec, String response) {
        Prompt prompt = Prompt.newBuilder().setId(id).setKind(kind).setFamily(kind).setDifficulty(1).setSplit(PromptSplit.TRAIN)
                .setText("task " + id).setAnswer(answer).setSpec(spec).build();
        return Rollout.newBuilder().setRolloutId(id + "@0.0/0").setScheduleId(id + "@0.0").setPrompt(prompt).setGroupIndex(0)
                .setGroupSize(1).setPromptTokens(List.of(1)).setResponseTokens(List.of(2)).setResponseText(response)
                .setBehaviourLogProbs(List.of(-0.5f)).setFinishReason(FinishReason.EOS).setPolicyVersion(0)
                .setGeneratorId("test").setTemperature(1f).setTopP(1f).setStartedAtMs(0).setFinishedAtMs(0).build();
    }

    static void send(List<Rollout> rollouts) throws Exception {
        try (var producer = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers()), new StringSerializer(), topics.rollouts.valueSerde().serializer())) {
            for (Rollout rollout : rollouts) {
                producer.send(new ProducerRecord<>(topics.rollouts.name(), rollout.getPrompt().getId(), rollout)).get();
            }
        }
    }

    /** Everything committed on {@code topic} so far, read until {@code done} holds or the patience runs out. */
    static <V> List<V> read(TopicSpec<String, V> topic, Predicate<List<V>> done, Duration patience) {
        return CommittedRecords.read(kafka.bootstrapServers(), topic.name(), topic.valueSerde().deserializer(), done, patience);
    }

    static Map<String, Boolean> correctByPrompt(List<ScoredRollout> scored) {
        return scored.stream().collect(Collectors.toMap(s -> s.getRollout().getPrompt().getId(), ScoredRollout::getCorrect,
                (a, b) -> a, TreeMap::new));
    }

    static RewardService service(Duration timeout, String... names) {
        Map<String, RewardVerifier> available = RewardService.available();
        List<RewardVerifier> verifiers = java.util.Arrays.stream(names).map(available::get).toList();
        RewardService.Options defaults = RewardService.Options.of(kafka.bootstrapServers(), kafka.schemaRegistryUrl(), "");
        return RewardService.start(new RewardService.Options(defaults.bootstrapServers(), defaults.schemaRegistryUrl(), "",
                defaults.instanceId(), timeout, 2), verifiers);
    }

    @Test
    void verifiersScoreAsTheirOwnGroupsJoinLiveAndWhatCannotBeScoredIsDeadLetteredOnce() throws Exception {
        send(List.of(
                rollout("n1", "numeric", "4", null, "4"),
                rollout("s1", "sleepy", "1", null, "1"),
                rollout("n2", "numeric", "4", null, "5"),
                rollout("c1", "countdown", null, "{\"numbers\":[3,7,25],\"target\":46}", "25+3*7"),
                rollout("k1", "code", null, "{\"tests\":[\"assert add(2, 3) == 5\"]}", "def add(a, b):\n    return a + b\n"),
                rollout("b1", "broken", "1", null, "1"),
                rollout("u1", "poetry", "a rose", null, "a rose"),
                rollout("m1", "numeric", null, null, "4"),
                rollout("n3", "numeric", "-7", null, "-007")));
        try (var raw = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers()), new StringSerializer(), new ByteArraySerializer())) {
            raw.send(new ProducerRecord<>(topics.rollouts.name(), "junk", "not avro".getBytes())).get();
        }

        // The slow verifier's group is stuck on s1 (up to its timeout); numeric's group is not.
        try (RewardService numeric = service(Duration.ofSeconds(5), "numeric", "broken");
             RewardService sleepy = service(Duration.ofSeconds(12), "sleepy")) {
            List<ScoredRollout> scored = read(topics.scoredRollouts, l -> l.size() >= 3, Duration.ofSeconds(60));
            assertEquals(Map.of("n1", true, "n2", false, "n3", true), correctByPrompt(scored));
            assertTrue(read(topics.deadLetters, l -> false, Duration.ofMillis(500)).stream()
                    .noneMatch(d -> d.getErrorType().equals(VerifierWorker.TIMEOUT)), "numeric did not wait for sleepy");
            assertEquals("numeric", scored.get(0).getVerifier());

            // A verifier started later, in its own process, picks the backlog up; the others go on.
            try (RewardService more = service(Duration.ofSeconds(20), "countdown", "code")) {
                scored = read(topics.scoredRollouts, l -> l.size() >= 5, Duration.ofSeconds(60));
                assertEquals(Map.of("c1", true, "k1", true, "n1", true, "n2", false, "n3", true), correctByPrompt(scored));
                assertEquals("1/1", scored.stream().filter(s -> s.getVerifier().equals("code")).findFirst().orElseThrow()
                        .getDetails().get("passed"));
            }

            List<DeadLetter> dead = read(topics.deadLetters, l -> l.size() >= 5, Duration.ofSeconds(60));
            Map<String, String> typeByKey = new TreeMap<>();
            for (DeadLetter letter : dead) {
                String key = letter.getKey() == null ? "?" : new String(letter.getKey().array());
                assertFalse(typeByKey.containsKey(key), "dead-lettered twice: " + key);
                typeByKey.put(key, letter.getErrorType());
            }
            assertEquals(Map.of("b1", VerifierWorker.ERROR, "junk", "NOT_CONFLUENT_FRAMING", "m1", VerifierWorker.MALFORMED,
                    "s1", VerifierWorker.TIMEOUT, "u1", AuditWorker.UNKNOWN_KIND), typeByKey);
            assertTrue(dead.stream().allMatch(d -> d.getValue() != null && d.getSourceTopic().equals(topics.rollouts.name())),
                    "each kept whole, with where it came from");
        }

        // Started again, the countdown group goes on from its committed offsets: nothing is scored twice.
        try (RewardService again = service(Duration.ofSeconds(5), "countdown", "code")) {
            Thread.sleep(3_000);
            assertEquals(5, read(topics.scoredRollouts, l -> false, Duration.ofSeconds(2)).size());
            assertEquals(Map.of("countdown", 0L, "code", 0L), again.scored());
        }
    }

    @Test
    void aTrickleOfBadRecordsIsDeadLetteredInAFewTransactionsNotOneAPoll() throws Exception {
        Topics flood = new Topics("trickle.", new SchemaRegistryClient(kafka.schemaRegistryUrl()));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            new TopicCreator(admin, Duration.ofSeconds(30)).ensure(flood.all());
            RewardService.Options defaults = RewardService.Options.of(kafka.bootstrapServers(), kafka.schemaRegistryUrl(), "trickle.");
            int bad = 150;
            try (RewardService service = RewardService.start(defaults, List.of(RewardService.available().get("numeric")));
                 var raw = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                         kafka.bootstrapServers(), ProducerConfig.LINGER_MS_CONFIG, 0), new StringSerializer(), new ByteArraySerializer())) {
                for (int i = 0; i < bad; i++) {
                    raw.send(new ProducerRecord<>(flood.rollouts.name(), "junk-" + i, ("not avro " + i).getBytes())).get();
                    Thread.sleep(10); // each poll finds one or two: before, each was a transaction of its own
                }
                List<DeadLetter> dead = CommittedRecords.read(kafka.bootstrapServers(), flood.deadLetters.name(),
                        flood.deadLetters.valueSerde().deserializer(), l -> l.size() >= bad, Duration.ofSeconds(60));
                assertEquals(bad, dead.size());
                // Every committed transaction leaves one marker on each partition it wrote: offsets not taken by a record.
                Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
                IntStream.range(0, flood.deadLetters.partitions())
                        .forEach(p -> latest.put(new TopicPartition(flood.deadLetters.name(), p), OffsetSpec.latest()));
                long end = admin.listOffsets(latest).all().get().values().stream().mapToLong(o -> o.offset()).sum();
                long markers = end - bad;
                assertTrue(markers <= 10, markers + " transactions wrote " + bad + " dead letters over about "
                        + bad * 12 / 1000.0 + " s");
            }
        }
    }
}
