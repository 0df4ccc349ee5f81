package io.pacedrl.registry;

import org.apache.kafka.common.errors.SerializationException;

/**
 * A record's bytes could not be decoded. The {@link Reason} says why in a form a service can act on:
 * every reason but {@link Reason#REGISTRY_UNAVAILABLE} is a property of the record itself and sends it
 * to the dead-letter topic; an unavailable registry is transient and worth a retry.
 *
 * <p>Thrown from a consumer's deserializer it reaches the caller wrapped in Kafka's
 * {@code RecordDeserializationException}, which carries the partition, offset and original bytes.
 */
public final class RecordDecodingException extends SerializationException {
    public enum Reason {
        /** Too short for the 5-byte header, or the first byte is not the magic byte 0. */
        NOT_CONFLUENT_FRAMING,
        /** The schema id in the header is not in the registry. */
        UNKNOWN_SCHEMA_ID,
        /** The writer schema cannot be read with the consumer's schema. */
        INCOMPATIBLE_SCHEMA,
        /** The Avro body does not decode with its writer schema, or has bytes left over. */
        MALFORMED_PAYLOAD,
        /** The registry could not be asked; the record itself may be fine. */
        REGISTRY_UNAVAILABLE
    }

    private final Reason reason;
    private final String topic;
    private final int schemaId;

    public RecordDecodingException(Reason reason, String topic, int schemaId, String message, Throwable cause) {
        super("cannot decode record on topic '" + topic + "': " + reason + ": " + message, cause);
        this.reason = reason;
        this.topic = topic;
        this.schemaId = schemaId;
    }

    /**
     * Without a stack trace: one is thrown for every bad record each consumer meets (a flood is
     * thousands a second), where filling in the trace would cost more than the rest of the rejection;
     * the reason, topic and id say what went wrong, and a cause keeps its own trace.
     */
    @Override
    public synchronized Throwable fillInStackTrace() {
        return this;
    }

    public Reason reason() {
        return reason;
    }

    public String topic() {
        return topic;
    }

    /** The schema id from the record's header, or -1 where the header could not be read. */
    public int schemaId() {
        return schemaId;
    }

    /** True when retrying later may succeed; otherwise the record belongs on the dead-letter topic. */
    public boolean isTransient() {
        return reason == Reason.REGISTRY_UNAVAILABLE;
    }
}
