package io.pacedrl.runner;

import io.pacedrl.registry.ClientSettings;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.topics.PromptRecords;
import io.pacedrl.topics.TopicScan;
import io.pacedrl.topics.Topics;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Puts a pool of prompts on a run's {@code prompts} topic idempotently: what the topic already
 * holds, the same, is not written again; a prompt id it holds with other content is refused (a
 * changed pool is a new run), so loading twice, or after a crash half-way, leaves one pool.
 */
final class PoolLoader {
    /** What a load did: prompts written, prompts already there. */
    record Loaded(int written, int alreadyThere) {}

    private PoolLoader() {}

    /**
     * Writes the prompts the topic lacks, every write acknowledged. One request in flight: right
     * after the topics are made, a partition may still refuse writes, and its retried first batch
     * must not fall behind a later one.
     */
    static Loaded load(String bootstrapServers, Topics topics, List<TaskPrompt> prompts) throws Exception {
        Map<String, Prompt> onTopic = read(bootstrapServers, topics);
        List<Prompt> missing = prompts.stream().map(PromptRecords::toRecord).filter(prompt -> {
            Prompt there = onTopic.get(prompt.getId());
            if (there != null && !there.equals(prompt)) {
                throw new IllegalStateException(topics.prompts.name() + " already holds prompt " + prompt.getId()
                        + " with other content; this is another pool: load it under another --topic-prefix (a new run)");
            }
            return there == null;
        }).toList();
        try (var producer = new KafkaProducer<>(ClientSettings.kafka(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                bootstrapServers, ProducerConfig.LINGER_MS_CONFIG, 20, ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1)),
                new StringSerializer(), topics.prompts.valueSerde().serializer())) {
            Sends.sendAll(producer, missing.stream().map(prompt -> new ProducerRecord<>(topics.prompts.name(), prompt.getId(), prompt)));
        }
        return new Loaded(missing.size(), prompts.size() - missing.size());
    }

    /** The prompts the topic holds now, by id (the latest per id, as compaction keeps); undecodable records are not prompts. */
    private static Map<String, Prompt> read(String bootstrapServers, Topics topics) {
        Map<String, Prompt> prompts = new HashMap<>();
        try (var reader = new KafkaConsumer<>(ClientSettings.kafka(Map.<String, Object>of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                bootstrapServers, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed")), new StringDeserializer(),
                new ByteArrayDeserializer())) {
            TopicScan.toEnd(reader, topics.prompts, record -> {
                try {
                    Prompt prompt = topics.prompts.decode(record.value(), System.nanoTime());
                    prompts.put(prompt.getId(), prompt);
                } catch (RuntimeException notAPrompt) {
                    // the services dead-letter it; it holds no prompt to compare
                }
            });
        }
        return prompts;
    }
}
