package io.pacedrl.registry;

import io.pacedrl.registry.RecordDecodingException.Reason;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * Reads Confluent-framed Avro into a specific record class, resolving each writer schema by id through
 * the registry and reading it with the class's schema (Avro schema resolution, so older and newer
 * compatible writers both decode). Anything it cannot decode fails with a typed
 * {@link RecordDecodingException} rather than a generic error, so callers can dead-letter it.
 */
public final class AvroDeserializer<T extends SpecificRecord> implements Deserializer<T> {
    private final SchemaRegistryClient registry;
    private final Class<T> type;
    private final Schema readerSchema;
    private final SpecificData data;
    private final Map<Integer, Reading<T>> readingsByWriterId = new ConcurrentHashMap<>();

    /**
     * How values written with one schema id are read: with {@code reader}, or not at all when the
     * writer schema cannot be read as the class ({@code incompatibility} says why). An id's schema
     * never changes, so neither does the answer: a flood of another topic's records costs one
     * compatibility check, not one per record.
     */
    private record Reading<T>(SpecificDatumReader<T> reader, String incompatibility) {}

    public AvroDeserializer(SchemaRegistryClient registry, Class<T> type) {
        this.registry = registry;
        this.type = type;
        this.data = SpecificData.getForClass(type);
        this.readerSchema = data.getSchema(type);
    }

    @Override
    public T deserialize(String topic, byte[] bytes) {
        if (bytes == null) {
            return null; // a tombstone on a compacted topic
        }
        int id = ConfluentWireFormat.schemaId(topic, bytes);
        Reading<T> reading = readingsByWriterId.computeIfAbsent(id, i -> readingFor(topic, i));
        if (reading.reader() == null) {
            throw new RecordDecodingException(Reason.INCOMPATIBLE_SCHEMA, topic, id, reading.incompatibility(), null);
        }
        SpecificDatumReader<T> reader = reading.reader();
        BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(bytes, ConfluentWireFormat.HEADER_BYTES,
                bytes.length - ConfluentWireFormat.HEADER_BYTES, null);
        T value;
        try {
            value = reader.read(null, decoder);
            if (!decoder.isEnd()) {
                throw new IOException("bytes left over after the record");
            }
        } catch (IOException | RuntimeException e) {
            throw new RecordDecodingException(Reason.MALFORMED_PAYLOAD, topic, id, "body does not decode as "
                    + reader.getSchema().getFullName() + " (schema id " + id + "): " + e, e);
        }
        return value;
    }

    /**
     * {@link #deserialize(String, byte[])} for a record received at {@code receivedAtNanos}
     * (System.nanoTime(), at or after the poll that returned it): a schema id the registry never
     * issued is known as such without asking for it (see {@link SchemaRegistryClient#issued}), so
     * records with made-up ids cost next to nothing.
     */
    public T deserialize(String topic, byte[] bytes, long receivedAtNanos) {
        if (bytes != null) {
            int id = ConfluentWireFormat.schemaId(topic, bytes);
            boolean issued;
            try {
                issued = readingsByWriterId.containsKey(id) || registry.issued(id, receivedAtNanos);
            } catch (SchemaRegistryException e) {
                throw new RecordDecodingException(Reason.REGISTRY_UNAVAILABLE, topic, id, "cannot list the schema ids of the "
                        + "registry at " + registry.url() + ": " + e.getMessage(), e);
            }
            if (!issued) {
                throw new RecordDecodingException(Reason.UNKNOWN_SCHEMA_ID, topic, id, "schema id " + id
                        + " was never issued by the registry at " + registry.url(), null);
            }
        }
        return deserialize(topic, bytes);
    }

    /** Throws for an id the registry does not have or cannot say (not remembered: the registry may answer later). */
    private Reading<T> readingFor(String topic, int id) {
        Schema writer;
        try {
            writer = registry.schemaById(id);
        } catch (SchemaRegistryUnavailableException e) {
            throw new RecordDecodingException(Reason.REGISTRY_UNAVAILABLE, topic, id, e.getMessage(), e);
        } catch (SchemaRegistryException e) {
            Reason reason = e.is(RegistryError.SCHEMA_NOT_FOUND) ? Reason.UNKNOWN_SCHEMA_ID : Reason.REGISTRY_UNAVAILABLE;
            throw new RecordDecodingException(reason, topic, id, "schema id " + id + " is not available from the "
                    + "registry at " + registry.url() + ": " + e.getMessage(), e);
        }
        List<String> problems = CompatibilityLevel.readProblems(readerSchema, writer);
        if (!problems.isEmpty()) {
            return new Reading<>(null, "writer schema " + writer.getFullName() + " (id " + id + ") cannot be read as "
                    + type.getName() + ": " + problems);
        }
        return new Reading<>(new SpecificDatumReader<>(writer, readerSchema, data), null);
    }
}
