package io.pacedrl.embedded;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EmbeddedKafkaBrokerTest {
    @TempDir
    Path runDir;

    @Test
    void restartsOnItsDataDirectoryWithTopicsRecordsAndOffsets() throws Exception {
        Path dataDir = runDir.resolve("kafka");
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dataDir, false)) {
            assertTrue(broker.bootstrapServers().startsWith("127.0.0.1:"), "loopback only: " + broker.bootstrapServers());
            try (Admin admin = admin(broker)) {
                admin.createTopics(List.of(new NewTopic("events", 2, (short) 1))).all().get();
            }
            try (var producer = new KafkaProducer<>(Map.<String, Object>of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()),
                    new StringSerializer(), new StringSerializer())) {
                for (int i = 0; i < 4; i++) {
                    producer.send(new ProducerRecord<>("events", 0, "k", "before-" + i)).get();
                }
            }
            assertEquals(List.of("before-0", "before-1"), consume(broker, 2), "a group reads and commits two");
        }
        assertTrue(Files.isDirectory(dataDir.resolve("log")), "the data stays after close");

        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dataDir, true)) {
            try (Admin admin = admin(broker)) {
                assertTrue(admin.listTopics().names().get().contains("events"));
            }
            assertEquals(List.of("before-2", "before-3"), consume(broker, 2),
                    "the group carries on from its committed offset");
        }
        assertFalse(Files.exists(dataDir), "deleteOnClose removes the data");
    }

    static Admin admin(EmbeddedKafkaBroker broker) {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers()));
    }

    static List<String> consume(EmbeddedKafkaBroker broker, int count) {
        List<String> values = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(Map.<String, Object>of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "readers",
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false",
                ConsumerConfig.MAX_POLL_RECORDS_CONFIG, count),
                new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of("events"));
            long deadline = System.currentTimeMillis() + 30_000;
            while (values.size() < count && System.currentTimeMillis() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> values.add(r.value()));
            }
            consumer.commitSync();
        }
        return values;
    }
}
