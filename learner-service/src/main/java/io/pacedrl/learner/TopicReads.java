package io.pacedrl.learner;

import io.pacedrl.registry.ClientSettings;
import io.pacedrl.topics.TopicScan;
import io.pacedrl.topics.TopicSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/** The learner's reads: committed records only, offsets its own to commit, values as bytes to decode (and dead-letter) itself. */
final class TopicReads {
    private TopicReads() {}

    static KafkaConsumer<String, byte[]> consumer(String bootstrapServers, Map<String, Object> extra) {
        Map<String, Object> properties = new HashMap<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed", ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false));
        properties.putAll(extra);
        return new KafkaConsumer<>(ClientSettings.kafka(properties), new StringDeserializer(), new ByteArrayDeserializer());
    }

    /** Every record of a topic up to its end now, all partitions, without a group. */
    static List<ConsumerRecord<String, byte[]>> readAll(KafkaConsumer<String, byte[]> reader, TopicSpec<?, ?> spec) {
        List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
        TopicScan.toEnd(reader, spec, out::add);
        return out;
    }
}
