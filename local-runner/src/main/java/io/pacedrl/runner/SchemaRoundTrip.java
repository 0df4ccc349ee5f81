package io.pacedrl.runner;

import io.pacedrl.registry.ClientSettings;
import io.pacedrl.topics.TopicSpec;
import io.pacedrl.topics.Topics;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Proves the platform end to end: one record of every schema is written to its catalogue topic
 * through the registry, then read back and decoded by two independent consumer groups.
 */
final class SchemaRoundTrip {
    /** What happened to one record. */
    record Result(String topic, String schema, int schemaId, int partition, long offset, List<String> readBackBy) {}

    private final Topics topics;
    private final String bootstrapServers;
    private final Duration timeout;

    SchemaRoundTrip(Topics topics, String bootstrapServers, Duration timeout) {
        this.topics = topics;
        this.bootstrapServers = bootstrapServers;
        this.timeout = timeout;
    }

    List<Result> run(SampleRecords samples, List<String> consumerGroups) {
        Map<String, Sent> sent = new LinkedHashMap<>();
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(ClientSettings.kafka(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG, topics.modelUpdates.maxMessageBytes())),
                new StringSerializer(), new ByteArraySerializer())) {
            send(producer, sent, topics.prompts, samples.prompt.getId(), samples.prompt);
            send(producer, sent, topics.promptEmbeddings, samples.prompt.getId(), samples.embedding);
            send(producer, sent, topics.scheduledPrompts, samples.prompt.getId(), samples.scheduledPrompt);
            send(producer, sent, topics.rollouts, samples.prompt.getId(), samples.rollout);
            send(producer, sent, topics.scoredRollouts, samples.prompt.getId(), samples.scoredRollout);
            send(producer, sent, topics.modelUpdates, samples.modelUpdate.getModelId() + "/0", samples.modelUpdate);
            send(producer, sent, topics.modelVersions, samples.modelVersion.getModelId(), samples.modelVersion);
            send(producer, sent, topics.schedulerDecisions, samples.decision.getRunId(), samples.decision);
            send(producer, sent, topics.replay, samples.rollout.getRolloutId(), samples.replay);
            send(producer, sent, topics.replaySeed, samples.rollout.getRolloutId(), samples.replaySeed);
            send(producer, sent, topics.deadLetters, samples.deadLetter.getSourceTopic(), samples.deadLetter);
            send(producer, sent, topics.runEvents, samples.runEvent.getRunId(), samples.runEvent);
        }
        Map<String, List<String>> readBy = new HashMap<>();
        for (String group : consumerGroups) {
            for (String topic : readBack(group, sent)) {
                readBy.computeIfAbsent(topic, t -> new ArrayList<>()).add(group);
            }
        }
        List<Result> results = new ArrayList<>();
        sent.forEach((topic, s) -> results.add(new Result(topic, s.value.getSchema().getName(), s.schemaId,
                s.metadata.partition(), s.metadata.offset(), readBy.getOrDefault(topic, List.of()))));
        return results;
    }

    private record Sent(SpecificRecord value, int schemaId, RecordMetadata metadata) {}

    private static <V extends SpecificRecord> void send(KafkaProducer<String, byte[]> producer, Map<String, Sent> sent,
            TopicSpec<String, V> topic, String key, V value) {
        byte[] bytes = topic.valueSerde().serializer().serialize(topic.name(), value);
        try {
            RecordMetadata metadata = producer.send(new ProducerRecord<>(topic.name(), key, bytes)).get();
            sent.put(topic.name(), new Sent(value, ByteBuffer.wrap(bytes, 1, 4).getInt(), metadata));
        } catch (Exception e) {
            throw new IllegalStateException("cannot write to topic '" + topic.name() + "': " + e.getMessage(), e);
        }
    }

    /** Reads every sent record back in {@code group}; returns the topics whose record decoded to what was sent. */
    private List<String> readBack(String group, Map<String, Sent> sent) {
        Map<String, TopicSpec<?, ?>> specs = new HashMap<>();
        topics.all().forEach(spec -> specs.put(spec.name(), spec));
        List<String> matched = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(ClientSettings.kafka(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.GROUP_ID_CONFIG, group,
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, topics.deadLetters.maxMessageBytes())),
                new StringDeserializer(), new ByteArrayDeserializer())) {
            consumer.subscribe(List.copyOf(sent.keySet()));
            long deadline = System.nanoTime() + timeout.toNanos();
            while (matched.size() < sent.size() && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    Sent expected = sent.get(record.topic());
                    if (record.offset() != expected.metadata.offset() || record.partition() != expected.metadata.partition()) {
                        continue; // an earlier run's record on a shared cluster
                    }
                    Object decoded = specs.get(record.topic()).valueSerde().deserializer().deserialize(record.topic(), record.value());
                    if (!expected.value.equals(decoded)) {
                        throw new IllegalStateException("group " + group + " read back a different record on '"
                                + record.topic() + "': " + decoded);
                    }
                    matched.add(record.topic());
                }
            }
            consumer.commitSync();
        }
        return matched;
    }
}
