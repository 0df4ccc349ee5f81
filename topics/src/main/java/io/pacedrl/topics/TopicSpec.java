package io.pacedrl.topics;

import java.util.Map;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.Serde;

/**
 * One topic: its name, what its keys are, how its keys and values are serialised, and the partition
 * count and topic config it must have on the cluster.
 */
public record TopicSpec<K, V>(
        String name,
        String keyDescription,
        Serde<K> keySerde,
        Serde<V> valueSerde,
        Class<V> valueType,
        int partitions,
        Map<String, String> configs) {

    public TopicSpec {
        configs = Map.copyOf(configs);
    }

    public String cleanupPolicy() {
        return configs.get(TopicConfig.CLEANUP_POLICY_CONFIG);
    }

    /** The largest record the topic accepts; producers writing to it need max.request.size at least this. */
    public int maxMessageBytes() {
        return Integer.parseInt(configs.get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG));
    }
}
