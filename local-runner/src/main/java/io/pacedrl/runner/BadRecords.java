package io.pacedrl.runner;

import io.pacedrl.registry.ConfluentWireFormat;
import io.pacedrl.topics.TopicSpec;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.apache.avro.specific.SpecificRecord;

/**
 * Values no consumer can use, of the kinds a careless or hostile producer writes: bytes that are not
 * the Confluent format, a schema id the registry never issued, the id of another topic's schema,
 * and a valid header over a cut-off body. Seeded, so a flood can be repeated.
 */
final class BadRecords {
    /** What is wrong with a value. */
    enum Kind {
        /** Not the Confluent wire format (no magic byte). */
        NOT_CONFLUENT,
        /** The magic byte and an id no schema has. */
        UNKNOWN_SCHEMA_ID,
        /** A whole record of another topic's schema, which the topic's reader cannot read. */
        OTHER_SCHEMA,
        /** The topic's own schema id over a body cut in half. */
        TRUNCATED
    }

    private final Random random;
    private final byte[] otherSchema;

    /** {@code otherSchema}: a serialised record of a schema no flooded topic uses. */
    BadRecords(long seed, byte[] otherSchema) {
        this.random = new Random(seed);
        this.otherSchema = otherSchema;
    }

    /** A bad value for {@code topic}, whose well-formed records look like {@code good} (serialised). */
    byte[] value(Kind kind, byte[] good) {
        return switch (kind) {
            case NOT_CONFLUENT -> {
                byte[] junk = new byte[16 + random.nextInt(200)];
                random.nextBytes(junk);
                junk[0] = (byte) (1 + random.nextInt(255));
                yield junk;
            }
            case UNKNOWN_SCHEMA_ID -> {
                // Far above any id a registry hands out, so it stays unknown for the whole run.
                int id = 1_000_000_000 + random.nextInt(1_000_000_000);
                byte[] body = Arrays.copyOfRange(good, ConfluentWireFormat.HEADER_BYTES, good.length);
                yield ByteBuffer.allocate(ConfluentWireFormat.HEADER_BYTES + body.length)
                        .put(ConfluentWireFormat.MAGIC_BYTE).putInt(id).put(body).array();
            }
            case OTHER_SCHEMA -> otherSchema.clone();
            case TRUNCATED -> Arrays.copyOf(good, ConfluentWireFormat.HEADER_BYTES + (good.length - ConfluentWireFormat.HEADER_BYTES) / 2);
        };
    }

    /** The kinds in turn: record {@code n} of a flood is of kind {@code n mod 4}. */
    static Kind kind(long n) {
        List<Kind> kinds = List.of(Kind.values());
        return kinds.get((int) (n % kinds.size()));
    }

    /** {@code record} serialised as {@code spec}'s producers write it. */
    static <V extends SpecificRecord> byte[] serialised(TopicSpec<String, V> spec, V record) {
        return spec.valueSerde().serializer().serialize(spec.name(), record);
    }
}
