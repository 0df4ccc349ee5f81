package io.pacedrl.topics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.embedded.LocalKafka;
import io.pacedrl.registry.SchemaRegistryClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TopicCreatorTest {
    @TempDir
    static Path dataDir;
    static LocalKafka kafka;
    static Admin admin;
    static SchemaRegistryClient registry;

    @BeforeAll
    static void start() throws Exception {
        kafka = LocalKafka.start(dataDir, true);
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()));
        registry = new SchemaRegistryClient(kafka.schemaRegistryUrl());
    }

    @AfterAll
    static void stop() throws Exception {
        admin.close();
        kafka.close();
    }

    @Test
    void createsTheCatalogueOnceAndThenOnlyChecksIt() throws Exception {
        Topics topics = new Topics("idempotent.", registry);
        TopicCreator creator = new TopicCreator(admin, Duration.ofSeconds(30));

        List<TopicCreator.Outcome> first = creator.ensure(topics.all());
        assertEquals(topics.all().size(), first.size());
        assertTrue(first.stream().allMatch(TopicCreator.Outcome::created), first.toString());

        var described = admin.describeTopics(List.of("idempotent.rollouts", "idempotent.model-updates"))
                .allTopicNames().get();
        assertEquals(6, described.get("idempotent.rollouts").partitions().size());
        assertEquals(1, described.get("idempotent.model-updates").partitions().size());
        ConfigResource rollouts = new ConfigResource(ConfigResource.Type.TOPIC, "idempotent.rollouts");
        ConfigResource updates = new ConfigResource(ConfigResource.Type.TOPIC, "idempotent.model-updates");
        var configs = admin.describeConfigs(List.of(rollouts, updates)).all().get();
        assertEquals("delete", configs.get(rollouts).get(TopicConfig.CLEANUP_POLICY_CONFIG).value());
        assertEquals("-1", configs.get(rollouts).get(TopicConfig.RETENTION_MS_CONFIG).value());
        assertEquals("compact", configs.get(updates).get(TopicConfig.CLEANUP_POLICY_CONFIG).value());
        assertEquals(Integer.toString(4 << 20), configs.get(updates).get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG).value());

        List<TopicCreator.Outcome> second = creator.ensure(topics.all());
        assertTrue(second.stream().noneMatch(TopicCreator.Outcome::created), "the second start creates nothing");
        assertEquals(first.stream().map(TopicCreator.Outcome::topic).sorted().toList(),
                second.stream().map(TopicCreator.Outcome::topic).sorted().toList());
    }

    @Test
    void aTopicWithTheWrongSettingsIsAnErrorNamingIt() throws Exception {
        Topics topics = new Topics("drifted.", registry);
        // Someone made the rewards topic by hand with 2 partitions, and compacted the rollouts.
        admin.createTopics(List.of(new NewTopic("drifted.scored-rollouts", 2, (short) 1))).all().get();
        new TopicCreator(admin, Duration.ofSeconds(30)).ensure(List.of(topics.rollouts));
        ConfigResource rollouts = new ConfigResource(ConfigResource.Type.TOPIC, "drifted.rollouts");
        admin.incrementalAlterConfigs(Map.of(rollouts, List.of(new AlterConfigOp(
                new ConfigEntry(TopicConfig.CLEANUP_POLICY_CONFIG, "compact"), AlterConfigOp.OpType.SET)))).all().get();

        TopicMismatchException e = assertThrows(TopicMismatchException.class,
                () -> new TopicCreator(admin, Duration.ofSeconds(30)).ensure(topics.all()));
        assertEquals(List.of(
                "topic 'drifted.rollouts' has cleanup.policy=compact, the catalogue says delete",
                "topic 'drifted.scored-rollouts' has 2 partitions, the catalogue says 6",
                // a hand-made topic also has the broker's defaults rather than the catalogue's settings
                "topic 'drifted.scored-rollouts' has max.message.bytes=1048588, the catalogue says 1048576",
                "topic 'drifted.scored-rollouts' has retention.ms=604800000, the catalogue says -1"),
                e.mismatches().stream().sorted().toList());
    }

    @Test
    void anIllegalPrefixIsRefusedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Topics("run 7/", registry));
        assertTrue(e.getMessage().contains("'run 7/'"), e.getMessage());
    }
}
