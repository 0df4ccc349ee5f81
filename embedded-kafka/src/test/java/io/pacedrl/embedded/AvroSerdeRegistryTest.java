package io.pacedrl.embedded;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.registry.AvroDeserializer;
import io.pacedrl.registry.AvroSerializer;
import io.pacedrl.registry.ConfluentWireFormat;
import io.pacedrl.registry.RecordDecodingException;
import io.pacedrl.registry.RecordDecodingException.Reason;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The serdes against the project's registry on a real broker: round trips, evolution and typed failures. */
class AvroSerdeRegistryTest {
    @TempDir
    static Path dataDir;
    static LocalKafka kafka;
    static SchemaRegistryClient registry;

    static final Prompt PROMPT = Prompt.newBuilder().setId("arith-00042").setKind("numeric").setFamily("arith")
            .setDifficulty(3).setSplit(PromptSplit.TRAIN).setText("37*12=").setAnswer("444").build();

    @BeforeAll
    static void start() throws Exception {
        kafka = LocalKafka.start(dataDir, true);
        registry = new SchemaRegistryClient(kafka.schemaRegistryUrl());
    }

    @AfterAll
    static void stop() throws Exception {
        kafka.close();
    }

    @Test
    void roundTripsThroughTheWireFormat() {
        byte[] bytes = new AvroSerializer<Prompt>(registry).serialize("prompts", PROMPT);
        assertEquals(ConfluentWireFormat.MAGIC_BYTE, bytes[0]);
        int id = ByteBuffer.wrap(bytes, 1, 4).getInt();
        assertEquals(Prompt.getClassSchema(), new SchemaRegistryClient(kafka.schemaRegistryUrl()).schemaById(id));
        assertEquals(PROMPT, new AvroDeserializer<>(registry, Prompt.class).deserialize("prompts", bytes));
    }

    /**
     * Records of a poll with made-up schema ids are answered from one listing of the registry's ids,
     * asked for after the poll; a schema registered after a listing but before a record arrived is
     * still found, because that record's poll is later than the listing.
     */
    @Test
    void aMadeUpSchemaIdIsKnownFromOneListingAskedAfterThePoll() {
        SchemaRegistryClient client = new SchemaRegistryClient(kafka.schemaRegistryUrl());
        AvroDeserializer<Prompt> deserializer = new AvroDeserializer<>(client, Prompt.class);
        byte[] good = new AvroSerializer<Prompt>(registry).serialize("issued-prompts", PROMPT);
        long polled = System.nanoTime();
        for (int made = 0; made < 50; made++) {
            byte[] madeUp = good.clone();
            ByteBuffer.wrap(madeUp).putInt(1, 1_000_000_000 + made);
            RecordDecodingException e = assertThrows(RecordDecodingException.class,
                    () -> deserializer.deserialize("issued-prompts", madeUp, polled));
            assertEquals(Reason.UNKNOWN_SCHEMA_ID, e.reason());
            assertTrue(e.getMessage().contains("was never issued by the registry"), e.getMessage());
        }
        assertEquals(PROMPT, deserializer.deserialize("issued-prompts", good, polled));

        // Registered after the listing above, then written and polled: a new listing finds it.
        Schema later = new Schema.Parser().parse("{\"type\":\"record\",\"name\":\"Prompt\",\"namespace\":"
                + "\"io.pacedrl.schemas\",\"fields\":[{\"name\":\"id\",\"type\":\"string\"},"
                + "{\"name\":\"note\",\"type\":\"string\",\"default\":\"\"}]}");
        int laterId = registry.register("issued-later-value", later);
        assertTrue(client.issued(laterId, System.nanoTime()), "an id issued before the record arrived");
        assertTrue(!client.issued(laterId + 1_000, System.nanoTime()), "one not issued yet");
    }

    @Test
    void readsDataWrittenWithAnOlderCompatibleSchema() throws Exception {
        // An earlier Prompt without the optional answer and spec: a producer that has not upgraded.
        Schema older = new Schema.Parser().parse("""
                {"type":"record","name":"Prompt","namespace":"io.pacedrl.schemas","fields":[
                 {"name":"id","type":"string"},{"name":"kind","type":"string"},{"name":"family","type":"string"},
                 {"name":"difficulty","type":"int"},
                 {"name":"split","type":{"type":"enum","name":"PromptSplit","symbols":["TRAIN","HELD_OUT","UNKNOWN"],"default":"UNKNOWN"}},
                 {"name":"text","type":"string"}]}""");
        GenericRecord record = new GenericData.Record(older);
        record.put("id", "old-1");
        record.put("kind", "numeric");
        record.put("family", "arith");
        record.put("difficulty", 1);
        record.put("split", new GenericData.EnumSymbol(older.getField("split").schema(), "HELD_OUT"));
        record.put("text", "1+1=");
        int id = registry.register("legacy-prompts-value", older);

        Prompt read = new AvroDeserializer<>(registry, Prompt.class).deserialize("legacy-prompts", frame(id, older, record));
        assertEquals("old-1", read.getId());
        assertEquals(PromptSplit.HELD_OUT, read.getSplit());
        assertNull(read.getAnswer(), "a field the writer lacked takes its default");
    }

    @Test
    void failsWithATypedReasonForEachKindOfBadRecord() throws Exception {
        AvroDeserializer<Prompt> deserializer = new AvroDeserializer<>(registry, Prompt.class);
        byte[] good = new AvroSerializer<Prompt>(registry).serialize("prompts", PROMPT);

        byte[] unknownId = good.clone();
        ByteBuffer.wrap(unknownId).putInt(1, 99_999);
        assertReason(Reason.UNKNOWN_SCHEMA_ID, () -> deserializer.deserialize("prompts", unknownId));

        byte[] truncated = Arrays.copyOf(good, good.length - 3);
        assertReason(Reason.MALFORMED_PAYLOAD, () -> deserializer.deserialize("prompts", truncated));

        byte[] trailing = Arrays.copyOf(good, good.length + 2);
        assertReason(Reason.MALFORMED_PAYLOAD, () -> deserializer.deserialize("prompts", trailing));

        Schema other = new Schema.Parser().parse(
                "{\"type\":\"record\",\"name\":\"Prompt\",\"namespace\":\"io.pacedrl.schemas\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}");
        GenericRecord otherRecord = new GenericData.Record(other);
        otherRecord.put("id", 5L);
        int otherId = registry.register("someone-elses-value", other);
        RecordDecodingException incompatible = assertReason(Reason.INCOMPATIBLE_SCHEMA,
                () -> deserializer.deserialize("prompts", frame(otherId, other, otherRecord)));
        assertEquals(otherId, incompatible.schemaId());
        assertTrue(incompatible.getMessage().contains("TYPE_MISMATCH"), incompatible.getMessage());
        // The verdict on an id is remembered (its schema never changes): the next such record gets the same one.
        RecordDecodingException again = assertReason(Reason.INCOMPATIBLE_SCHEMA,
                () -> deserializer.deserialize("prompts", frame(otherId, other, otherRecord)));
        assertEquals(incompatible.getMessage(), again.getMessage());
    }

    @Test
    void refusesToWriteASchemaTheRegistryRejects() {
        registry.register("frozen-value", new Schema.Parser().parse(
                "{\"type\":\"record\",\"name\":\"Prompt\",\"namespace\":\"io.pacedrl.schemas\",\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}"));
        SerializationException e = assertThrows(SerializationException.class,
                () -> new AvroSerializer<Prompt>(registry).serialize("frozen", PROMPT));
        assertTrue(e.getMessage().contains("incompatible"), e.getMessage());
        assertTrue(e.getMessage().contains("frozen-value"), e.getMessage());
    }

    static RecordDecodingException assertReason(Reason reason, org.junit.jupiter.api.function.Executable call) {
        RecordDecodingException e = assertThrows(RecordDecodingException.class, call);
        assertEquals(reason, e.reason(), e.getMessage());
        return e;
    }

    static byte[] frame(int id, Schema schema, GenericRecord record) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0);
        out.write(ByteBuffer.allocate(4).putInt(id).array());
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<GenericRecord>(schema).write(record, encoder);
        encoder.flush();
        return out.toByteArray();
    }
}
