package io.pacedrl.topics;

import io.pacedrl.registry.AvroDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
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

    /**
     * A value of this topic as a consumer that polled it reads it: {@code receivedAtNanos}
     * (System.nanoTime()) is when the poll returned, so that a made-up schema id costs no request of
     * its own (see {@link AvroDeserializer#deserialize(String, byte[], long)}).
     */
    @SuppressWarnings("unchecked")
    public V decode(byte[] value, long receivedAtNanos) {
        Deserializer<V> deserializer = valueSerde.deserializer();
        return deserializer instanceof AvroDeserializer<?> avro ? (V) avro.deserialize(name, value, receivedAtNanos)
                : deserializer.deserialize(name, value);
    }

    /** The largest record the topic accepts; producers writing to it need max.request.size at least this. */
    public int maxMessageBytes() {
        return Integer.parseInt(configs.get(TopicConfig.MAX_MESSAGE_BYTES_CONFIG));
    }
}
