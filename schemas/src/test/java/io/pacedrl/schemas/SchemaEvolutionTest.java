package io.pacedrl.schemas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.avro.AvroTypeException;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.SchemaCompatibilityType;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificRecord;
import org.apache.avro.util.RandomData;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The schemas are a contract with consumers in other processes and languages: every current schema
 * must read data written with every released version (BACKWARD, the registry's default rule).
 */
class SchemaEvolutionTest {
    static final Path CURRENT = Path.of("src/main/avro");
    static final Path RELEASED = Path.of("released");

    static List<String> recordNames() throws IOException {
        try (Stream<Path> files = Files.list(CURRENT)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".avsc"))
                    .map(n -> n.substring(0, n.length() - ".avsc".length())).sorted().toList();
        }
    }

    static Schema currentSchema(String name) throws ClassNotFoundException {
        return SpecificData.get().getSchema(Class.forName("io.pacedrl.schemas." + name));
    }

    static List<Path> releasedVersions(String name) throws IOException {
        Path dir = RELEASED.resolve(name);
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.toString().endsWith(".avsc")).sorted().toList();
        }
    }

    @Test
    void everyRecordThatCrossesATopicHasASchemaAndARelease() throws Exception {
        List<String> names = recordNames();
        assertEquals(List.of("DeadLetter", "ModelUpdate", "ModelVersion", "Prompt", "PromptEmbedding", "ReplayRecord", "ReplaySeed", "Rollout",
                "RunEvent", "ScheduledPrompt", "SchedulerDecision", "ScoredRollout"), names);
        for (String name : names) {
            assertFalse(releasedVersions(name).isEmpty(), name + " has no released version: copy its full schema "
                    + "(Schema.toString(true) of the generated class) to released/" + name + "/v1.avsc");
        }
    }

    @TestFactory
    List<DynamicTest> everyCurrentSchemaReadsEveryReleasedVersion() throws Exception {
        List<DynamicTest> tests = new ArrayList<>();
        for (String name : recordNames()) {
            for (Path released : releasedVersions(name)) {
                tests.add(DynamicTest.dynamicTest(name + " reads " + released, () -> {
                    Schema reader = currentSchema(name);
                    Schema writer = new Schema.Parser().parse(released.toFile());
                    var compatibility = SchemaCompatibility.checkReaderWriterCompatibility(reader, writer);
                    assertEquals(SchemaCompatibilityType.COMPATIBLE, compatibility.getType(),
                            () -> name + " can no longer read " + released + ": "
                                    + compatibility.getResult().getIncompatibilities());
                    // Not only declared compatible: data written with the release decodes.
                    for (Object datum : new RandomData(writer, 25, 42L)) {
                        SpecificRecord read = decode(encode(writer, datum), writer, reader);
                        assertEquals(reader.getFullName(), read.getSchema().getFullName());
                    }
                }));
            }
        }
        return tests;
    }

    @Test
    void anIncompatibleChangeIsCaught() throws Exception {
        Schema released = new Schema.Parser().parse(RELEASED.resolve("Rollout/v1.avsc").toFile());
        // A change a careless edit could make: the policy version becomes a string.
        Schema changed = new Schema.Parser().parse(released.toString().replace(
                "{\"name\":\"policyVersion\",\"type\":\"long\"",
                "{\"name\":\"policyVersion\",\"type\":\"string\""));
        assertTrue(changed.toString().contains("\"policyVersion\",\"type\":\"string\""), "the edit applied");

        var compatibility = SchemaCompatibility.checkReaderWriterCompatibility(changed, released);
        assertEquals(SchemaCompatibilityType.INCOMPATIBLE, compatibility.getType());
        String problems = compatibility.getResult().getIncompatibilities().toString();
        int field = released.getField("policyVersion").pos();
        assertTrue(problems.contains("TYPE_MISMATCH, location:/fields/" + field + "/type"), problems);

        Object datum = new RandomData(released, 1, 7L).iterator().next();
        assertThrows(AvroTypeException.class, () -> decodeGeneric(encode(released, datum), released, changed));
    }

    static byte[] encode(Schema writer, Object datum) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<>(writer).write(datum, encoder);
        encoder.flush();
        return out.toByteArray();
    }

    static SpecificRecord decode(byte[] bytes, Schema writer, Schema reader) throws IOException {
        BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(bytes, null);
        SpecificRecord read = new SpecificDatumReader<SpecificRecord>(writer, reader).read(null, decoder);
        if (!decoder.isEnd()) {
            fail("bytes left over after decoding");
        }
        return read;
    }

    static Object decodeGeneric(byte[] bytes, Schema writer, Schema reader) throws IOException {
        return new org.apache.avro.generic.GenericDatumReader<>(writer, reader)
                .read(null, DecoderFactory.get().binaryDecoder(bytes, null));
    }
}
