package io.pacedrl.difficulty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.embedded.EmbeddedKafkaBroker;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Static members no stream thread will rejoin as: which they are, and their removal on a real broker. */
class StaticMembersTest {
    @TempDir
    Path dir;

    @Test
    void namesAStreamThreadsMemberAndTheMembersAProcessWillNotRejoinAs() {
        assertEquals(Optional.of("run.difficulty-stream-0-2"), StaticMembers.ofThread("run.difficulty-stream-0",
                "run.difficulty-stream-94da8ad5-b096-42b3-9ed6-da8b24f21167-StreamThread-2"));
        assertEquals(Optional.empty(), StaticMembers.ofThread("run.difficulty-stream-0", "kafka-producer-network-thread"));
        assertEquals(List.of("app-0-10", "app-0-2"),
                StaticMembers.strays("app-0", 1, List.of("app-0-1", "app-0-2", "app-0-10", "app-01-5", "other-0-3", "app-0-x")));
        assertEquals(List.of(), StaticMembers.strays("app-0", 2, List.of("app-0-1", "app-0-2")));
    }

    /** A member that closed without leaving (as a static member does) is gone at once, not after its session. */
    @Test
    void removesAStaticMemberThatLeftWithoutLeavingTheGroup() throws Exception {
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir.resolve("kafka"), true);
             Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic("inputs", 1, (short) 1))).all().get();
            assertEquals(List.of(), StaticMembers.of(admin, "app"), "no group yet");
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                    broker.bootstrapServers(), ConsumerConfig.GROUP_ID_CONFIG, "app", ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "app-0-2",
                    ConsumerConfig.GROUP_PROTOCOL_CONFIG, "classic"), new StringDeserializer(), new StringDeserializer())) {
                consumer.subscribe(List.of("inputs"));
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                while (consumer.assignment().isEmpty() && System.nanoTime() < deadline) {
                    consumer.poll(Duration.ofMillis(100));
                }
                assertTrue(!consumer.assignment().isEmpty(), "joined the group");
            }
            assertEquals(List.of("app-0-2"), StaticMembers.of(admin, "app"), "closed, but still a member");

            StaticMembers.remove(admin, "app", StaticMembers.strays("app-0", 1, StaticMembers.of(admin, "app")));
            assertEquals(List.of(), StaticMembers.of(admin, "app"));
            StaticMembers.remove(admin, "app", List.of("app-0-2")); // already gone: no error
        }
    }
}
