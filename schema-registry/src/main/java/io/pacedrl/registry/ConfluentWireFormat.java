package io.pacedrl.registry;

import java.nio.ByteBuffer;

/**
 * Confluent's framing of a serialized value: magic byte 0, the writer schema's registry id as a
 * 4-byte big-endian integer, then the Avro binary encoding. Any Confluent-protocol client reads it.
 */
public final class ConfluentWireFormat {
    public static final byte MAGIC_BYTE = 0;
    public static final int HEADER_BYTES = 5;

    private ConfluentWireFormat() {}

    /** Subject of a topic's values under Confluent's default TopicNameStrategy. */
    public static String valueSubject(String topic) {
        return topic + "-value";
    }

    static void writeHeader(ByteBuffer target, int schemaId) {
        target.put(MAGIC_BYTE).putInt(schemaId);
    }

    /** The schema id of a framed record; fails with {@link RecordDecodingException.Reason#NOT_CONFLUENT_FRAMING}. */
    public static int schemaId(String topic, byte[] data) {
        if (data.length < HEADER_BYTES) {
            throw new RecordDecodingException(RecordDecodingException.Reason.NOT_CONFLUENT_FRAMING, topic, -1,
                    "record of " + data.length + " bytes is shorter than the 5-byte header (magic byte, schema id)", null);
        }
        if (data[0] != MAGIC_BYTE) {
            throw new RecordDecodingException(RecordDecodingException.Reason.NOT_CONFLUENT_FRAMING, topic, -1,
                    String.format("first byte is 0x%02x, not the magic byte 0x00", data[0]), null);
        }
        return ByteBuffer.wrap(data, 1, 4).getInt();
    }
}
