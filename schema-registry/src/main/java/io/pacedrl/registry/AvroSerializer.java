package io.pacedrl.registry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Writes Avro specific records in the Confluent wire format, registering the record's schema under
 * the topic's value subject on first use (as Confluent's serializer does with auto.register.schemas).
 * The registry refuses a schema that breaks the subject's compatibility rule, and so does this.
 */
public final class AvroSerializer<T extends SpecificRecord> implements Serializer<T> {
    private final SchemaRegistryClient registry;
    private final Map<Schema, SpecificDatumWriter<T>> writers = new ConcurrentHashMap<>();

    public AvroSerializer(SchemaRegistryClient registry) {
        this.registry = registry;
    }

    @Override
    public byte[] serialize(String topic, T record) {
        if (record == null) {
            return null;
        }
        String subject = ConfluentWireFormat.valueSubject(topic);
        int id;
        try {
            id = registry.register(subject, record.getSchema());
        } catch (SchemaRegistryException e) {
            throw new SerializationException("cannot register the schema of " + record.getSchema().getFullName()
                    + " under subject '" + subject + "': " + e.getMessage(), e);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(128);
        ByteBuffer header = ByteBuffer.allocate(ConfluentWireFormat.HEADER_BYTES);
        ConfluentWireFormat.writeHeader(header, id);
        out.writeBytes(header.array());
        try {
            BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
            writers.computeIfAbsent(record.getSchema(), SpecificDatumWriter::new).write(record, encoder);
            encoder.flush();
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("cannot encode " + record.getSchema().getFullName()
                    + " for topic '" + topic + "': " + e.getMessage(), e);
        }
        return out.toByteArray();
    }
}
