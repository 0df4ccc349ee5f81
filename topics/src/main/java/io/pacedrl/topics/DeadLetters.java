package io.pacedrl.topics;

import io.pacedrl.schemas.DeadLetter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/**
 * Input a service cannot process is never dropped and never stops the service: it goes whole to the
 * dead-letter topic, with what went wrong, and the service moves on. Services read values as bytes
 * and decode them themselves ({@link TopicSpec#decode}), so a bad record is passed over inside the
 * batch already fetched: it costs no fetch of its own.
 */
public final class DeadLetters {
    /** Error type of records that fail to deserialise for a reason the serde does not classify. */
    public static final String UNDECODABLE = "UNDECODABLE";

    /**
     * How long a service may hold the dead letters of polls that gave it nothing else to write, with
     * their offsets, before it commits them on their own: a transaction for every poll of a flood
     * would keep the service and the broker committing, and a second is nothing to a dead letter.
     */
    public static final Duration HOLD = Duration.ofSeconds(1);

    private DeadLetters() {}

    /** The dead letter for a record a service decoded but cannot process (unknown prompt, reward out of range, ...). */
    public static DeadLetter of(String topic, int partition, long offset, byte[] key, byte[] value,
            String errorType, String reason, String service, long nowMs) {
        ServiceMeters.deadLetter(service, errorType);
        return DeadLetter.newBuilder().setSourceTopic(topic).setPartition(partition).setOffset(offset)
                .setKey(key == null ? null : ByteBuffer.wrap(key)).setValue(value == null ? null : ByteBuffer.wrap(value))
                .setErrorType(errorType).setReason(reason).setService(service).setFailedAtMs(nowMs).build();
    }

    /** The dead letter for a record read as bytes that a service cannot process, with the record whole. */
    public static DeadLetter of(ConsumerRecord<String, byte[]> record, String errorType, String reason, String service,
            long nowMs) {
        return of(record.topic(), record.partition(), record.offset(),
                record.key() == null ? null : record.key().getBytes(StandardCharsets.UTF_8), record.value(), errorType, reason,
                service, nowMs);
    }
}
