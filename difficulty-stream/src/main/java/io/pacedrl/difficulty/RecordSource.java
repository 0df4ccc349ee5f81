package io.pacedrl.difficulty;

import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;

/**
 * Where an input record was written: its topic, partition and offset, also for a record that came
 * the long way round through the repartition topic ({@link Placement}), whose header says so.
 */
record RecordSource(String topic, int partition, long offset) {
    static final String HEADER = "pacedrl-source";

    static Header header(String topic, int partition, long offset) {
        // Topic names cannot hold ':' (Kafka allows [a-zA-Z0-9._-]).
        return new RecordHeader(HEADER, (topic + ":" + partition + ":" + offset).getBytes(StandardCharsets.UTF_8));
    }

    static RecordSource of(Record<?, ?> record, ProcessorContext<?, ?> context) {
        Header header = record.headers().lastHeader(HEADER);
        if (header != null) {
            String[] parts = new String(header.value(), StandardCharsets.UTF_8).split(":");
            return new RecordSource(parts[0], Integer.parseInt(parts[1]), Long.parseLong(parts[2]));
        }
        RecordMetadata metadata = context.recordMetadata().orElseThrow();
        return new RecordSource(metadata.topic(), metadata.partition(), metadata.offset());
    }
}
