package io.pacedrl.difficulty;

import io.pacedrl.registry.RecordDecodingException;
import io.pacedrl.topics.DeadLetters;
import io.pacedrl.topics.RunEvents;
import io.pacedrl.topics.TopicSpec;
import java.nio.charset.StandardCharsets;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;

/**
 * Input records are read as bytes and decoded here, so that a record which does not decode, or
 * decodes to something impossible, goes to the dead-letter topic whole, with its topic, partition,
 * offset and the reason, and processing goes on. The failure time is the record's timestamp, not
 * the wall clock, so reprocessing writes the same dead letters.
 */
final class Rejections {
    static final String SERVICE = RunEvents.DIFFICULTY_STREAM;
    static final String UNKNOWN_PROMPT = "UNKNOWN_PROMPT";
    static final String IMPOSSIBLE_VALUE = "IMPOSSIBLE_VALUE";
    static final String KEY_MISMATCH = "KEY_MISMATCH";

    private final ProcessorContext<String, SpecificRecord> context;

    Rejections(ProcessorContext<String, SpecificRecord> context) {
        this.context = context;
    }

    /** The decoded value, or null when it did not decode (it has gone to the dead letters). */
    <T> T decode(TopicSpec<String, T> topic, Record<String, byte[]> record) {
        try {
            return topic.decode(record.value(), PollClock.receivedBy());
        } catch (RecordDecodingException e) {
            if (e.isTransient()) {
                throw e; // the registry is down, the record may be fine: fail and retry from the last commit
            }
            reject(record, e.reason().name(), e.getMessage());
        } catch (SerializationException e) {
            reject(record, DeadLetters.UNDECODABLE, e.getMessage());
        }
        return null;
    }

    /** Sends the record being processed to the dead letters with {@code errorType} and {@code reason}. */
    void reject(Record<String, byte[]> record, String errorType, String reason) {
        RecordSource origin = RecordSource.of(record, context);
        byte[] key = record.key() == null ? null : record.key().getBytes(StandardCharsets.UTF_8);
        context.forward(new Record<>(origin.topic(), DeadLetters.of(origin.topic(), origin.partition(), origin.offset(),
                key, record.value(), errorType, reason, SERVICE, record.timestamp()), record.timestamp()));
    }
}
