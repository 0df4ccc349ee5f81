package io.pacedrl.topics;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;

/** Reading a whole topic as it is now, without a group: every partition from its start to its end at the time of the call. */
public final class TopicScan {
    private TopicScan() {}

    /**
     * Hands {@code action} every record of {@code spec}'s topic up to its end now (what a
     * read_committed {@code reader} sees: committed records only), each partition's in order.
     */
    public static <V> void toEnd(KafkaConsumer<String, V> reader, TopicSpec<?, ?> spec, Consumer<ConsumerRecord<String, V>> action) {
        List<TopicPartition> partitions = new ArrayList<>();
        for (int p = 0; p < spec.partitions(); p++) {
            partitions.add(new TopicPartition(spec.name(), p));
        }
        reader.assign(partitions);
        reader.seekToBeginning(partitions);
        Map<TopicPartition, Long> end = reader.endOffsets(partitions);
        while (partitions.stream().anyMatch(p -> reader.position(p) < end.get(p))) {
            for (ConsumerRecord<String, V> record : reader.poll(Duration.ofMillis(200))) {
                // Records written after the call began are not part of "now".
                if (record.offset() < end.get(new TopicPartition(record.topic(), record.partition()))) {
                    action.accept(record);
                }
            }
        }
    }
}
