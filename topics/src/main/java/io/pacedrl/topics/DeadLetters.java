package io.pacedrl.topics;

import io.pacedrl.registry.RecordDecodingException;
import io.pacedrl.schemas.DeadLetter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.errors.RecordDeserializationException;

/**
 * Input a service cannot process is never dropped and never stops the service: it goes whole to the
 * dead-letter topic, with what went wrong, and the service moves on.
 */
public final class DeadLetters {
    /** Error type of records that fail to deserialise for a reason the serde does not classify. */
    public static final String UNDECODABLE = "UNDECODABLE";

    private DeadLetters() {}

    /** The dead letter for a record a service decoded but cannot process (unknown prompt, reward out of range, ...). */
    public static DeadLetter of(String topic, int partition, long offset, byte[] key, byte[] value,
            String errorType, String reason, String service, long nowMs) {
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

    /** The dead letter for a record the consumer could not deserialise, with its original bytes. */
    public static DeadLetter of(RecordDeserializationException e, String service, long nowMs) {
        String errorType = e.getCause() instanceof RecordDecodingException decoding ? decoding.reason().name() : UNDECODABLE;
        String reason = "record " + e.origin().name().toLowerCase() + ": "
                + (e.getCause() == null ? e.getMessage() : e.getCause().getMessage());
        return of(e.topicPartition().topic(), e.topicPartition().partition(), e.offset(), copy(e.keyBuffer()),
                copy(e.valueBuffer()), errorType, reason, service, nowMs);
    }

    /**
     * Polls {@code consumer}; a record that cannot be deserialised is handed to {@code deadLetters} and
     * the consumer moves past it (this poll then returns nothing; the next goes on). A transient
     * failure (the registry unreachable) is rethrown instead: the record is fine and must be retried.
     */
    public static <K, V> ConsumerRecords<K, V> poll(Consumer<K, V> consumer, Duration timeout, String service,
            java.util.function.Consumer<DeadLetter> deadLetters) {
        try {
            return consumer.poll(timeout);
        } catch (RecordDeserializationException e) {
            if (e.getCause() instanceof RecordDecodingException decoding && decoding.isTransient()) {
                throw e;
            }
            deadLetters.accept(of(e, service, System.currentTimeMillis()));
            consumer.seek(e.topicPartition(), e.offset() + 1);
            return ConsumerRecords.empty();
        }
    }

    private static byte[] copy(ByteBuffer buffer) {
        if (buffer == null) {
            return null;
        }
        byte[] bytes = new byte[buffer.remaining()];
        buffer.duplicate().get(bytes);
        return bytes;
    }
}
