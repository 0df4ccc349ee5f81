package io.pacedrl.topics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.embedded.LocalKafka;
import io.pacedrl.registry.RecordDecodingException;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad bytes on a real topic: the consumer names what is wrong, the record goes to the dead letters whole, and reading goes on. */
class DeadLettersTest {
    @TempDir
    static Path dataDir;
    static LocalKafka kafka;
    static Topics topics;

    @BeforeAll
    static void start() throws Exception {
        kafka = LocalKafka.start(dataDir, true);
        topics = new Topics(new SchemaRegistryClient(kafka.schemaRegistryUrl()));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            new TopicCreator(admin, Duration.ofSeconds(30)).ensure(topics.all());
        }
    }

    @AfterAll
    static void stop() throws Exception {
        kafka.close();
    }

    static Prompt prompt(String id) {
        return Prompt.newBuilder().setId(id).setKind("numeric").setFamily("arith").setDifficulty(1)
                .setSplit(PromptSplit.TRAIN).setText("2+2=").setAnswer("4").build();
    }

    @Test
    void undecodableRecordsGoToTheDeadLetterTopicAndReadingGoesOn() throws Exception {
        byte[] notFramed = "{\"id\":\"p-json\"}".getBytes(StandardCharsets.UTF_8);
        byte[] unknownId = {0, 0, 0, 0x7f, 0x7f, 2, 'x'};
        try (var producer = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers()), new StringSerializer(), topics.prompts.valueSerde().serializer());
             var raw = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                     kafka.bootstrapServers()), new StringSerializer(), new ByteArraySerializer())) {
            // All on partition 0, so the order below is the order read.
            producer.send(new ProducerRecord<>(topics.prompts.name(), 0, "k", prompt("p-1"))).get();
            raw.send(new ProducerRecord<>(topics.prompts.name(), 0, "k", notFramed)).get();
            raw.send(new ProducerRecord<>(topics.prompts.name(), 0, "k", unknownId)).get();
            producer.send(new ProducerRecord<>(topics.prompts.name(), 0, "k", prompt("p-2"))).get();
        }

        List<DeadLetter> deadLetters = new ArrayList<>();
        List<String> read = read(topics.prompts, "dead-letter-test", 2, deadLetters::add).stream()
                .map(Prompt::getId).toList();
        assertEquals(List.of("p-1", "p-2"), read, "the good records on both sides of the bad ones arrive");
        assertEquals(2, deadLetters.size());

        DeadLetter json = deadLetters.get(0);
        assertEquals(RecordDecodingException.Reason.NOT_CONFLUENT_FRAMING.name(), json.getErrorType());
        assertEquals(topics.prompts.name(), json.getSourceTopic());
        assertEquals(1, json.getOffset());
        assertArrayEquals(notFramed, bytes(json.getValue()), "the original bytes are kept");
        assertArrayEquals("k".getBytes(StandardCharsets.UTF_8), bytes(json.getKey()));
        assertTrue(json.getReason().contains("magic byte"), json.getReason());

        DeadLetter unknown = deadLetters.get(1);
        assertEquals(RecordDecodingException.Reason.UNKNOWN_SCHEMA_ID.name(), unknown.getErrorType());
        assertTrue(unknown.getReason().contains("schema id " + 0x7f7f), unknown.getReason());
        assertArrayEquals(unknownId, bytes(unknown.getValue()));

        // The dead letters themselves travel through the catalogue's topic and serde.
        try (var producer = new KafkaProducer<>(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers()), new StringSerializer(), topics.deadLetters.valueSerde().serializer())) {
            producer.send(new ProducerRecord<>(topics.deadLetters.name(), json.getSourceTopic(), json)).get();
        }
        List<DeadLetter> none = new ArrayList<>();
        assertEquals(List.of(json), read(topics.deadLetters, "dead-letter-reader", 1, none::add));
        assertEquals(List.of(), none);
    }

    /**
     * Reads {@code count} records of {@code topic} in a new consumer group as the services do: values
     * as bytes, decoded here, and what does not decode handed to {@code deadLetters} inside the batch.
     */
    static <V> List<V> read(TopicSpec<String, V> topic, String group, int count, Consumer<DeadLetter> deadLetters) {
        List<V> values = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(Map.<String, Object>of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, group,
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"),
                topic.keySerde().deserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic.name()));
            long deadline = System.currentTimeMillis() + 30_000;
            while (values.size() < count && System.currentTimeMillis() < deadline) {
                var records = consumer.poll(Duration.ofMillis(200));
                long received = System.nanoTime();
                for (ConsumerRecord<String, byte[]> record : records) {
                    try {
                        values.add(topic.decode(record.value(), received));
                    } catch (RecordDecodingException e) {
                        deadLetters.accept(DeadLetters.of(record, e.reason().name(), e.getMessage(), "test", System.currentTimeMillis()));
                    }
                }
            }
        }
        return values;
    }

    static byte[] bytes(ByteBuffer buffer) {
        byte[] bytes = new byte[buffer.remaining()];
        buffer.duplicate().get(bytes);
        return bytes;
    }
}
