package io.pacedrl.difficulty;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * Per-prompt state needs a prompt, its embedding and its scored rollouts in one task, so in the
 * same partition of their three topics. Java's producers put a key where murmur2 says; other
 * clients do not (librdkafka's default partitioner hashes with CRC32), and the contract is Avro in
 * the Confluent format so that any client may write. So each input record is checked: one in the
 * partition Java's default partitioner gives its key goes on directly; any other is sent through a
 * repartition topic keyed the Java way, carrying where it came from in a header
 * ({@link RecordSource}). Records without a key (the embeddings' per-partition end markers) stay
 * where they were written.
 *
 * <p>Two instances split the input: one forwards the records in place, the other the misplaced.
 */
final class Placement implements Processor<String, byte[], String, byte[]> {
    private final boolean forwardsPlaced;
    private final int partitions;
    private ProcessorContext<String, byte[]> context;

    /** @param partitions the input topics' partition count (they are co-partitioned) */
    Placement(boolean forwardsPlaced, int partitions) {
        this.forwardsPlaced = forwardsPlaced;
        this.partitions = partitions;
    }

    /** The partition Java's default producer partitioner gives a string key. */
    static int partitionFor(String key, int partitions) {
        return Utils.toPositive(Utils.murmur2(key.getBytes(StandardCharsets.UTF_8))) % partitions;
    }

    @Override
    public void init(ProcessorContext<String, byte[]> context) {
        this.context = context;
    }

    @Override
    public void process(Record<String, byte[]> record) {
        RecordMetadata origin = context.recordMetadata().orElseThrow();
        boolean placed = record.key() == null || record.key().isEmpty()
                || origin.partition() == partitionFor(record.key(), partitions);
        if (placed != forwardsPlaced) {
            return;
        }
        if (placed) {
            context.forward(record);
        } else {
            Header source = RecordSource.header(origin.topic(), origin.partition(), origin.offset());
            context.forward(record.withHeaders(record.headers().remove(source.key()).add(source)));
        }
    }
}
