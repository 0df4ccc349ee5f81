package io.pacedrl.embedded;

import io.pacedrl.registry.ClientSettings;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads what a topic holds, committed records only, from the beginning: how tests and the local
 * runner check what the services wrote.
 */
public final class CommittedRecords {
    private CommittedRecords() {}

    /**
     * The topic's committed values from the beginning, read until {@code done} holds for what has
     * been read or {@code patience} runs out (then whatever was read).
     */
    public static <V> List<V> read(String bootstrapServers, String topic, Deserializer<V> values, Predicate<List<V>> done,
            Duration patience) {
        List<V> read = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(ClientSettings.kafka(Map.<String, Object>of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.GROUP_ID_CONFIG, "reader-" + System.nanoTime(), ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed", ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 8 << 20)),
                new StringDeserializer(), values)) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + patience.toNanos();
            do {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> read.add(r.value()));
            } while (!done.test(read) && System.nanoTime() < deadline);
        }
        return read;
    }
}
