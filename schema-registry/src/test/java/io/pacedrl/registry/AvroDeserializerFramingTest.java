package io.pacedrl.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.schemas.Prompt;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Framing is checked before any registry call, so these need no registry; the last one has none on purpose. */
class AvroDeserializerFramingTest {
    static int closedPort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }

    @Test
    void rejectsBytesWithoutConfluentFramingByName() throws Exception {
        var deserializer = new AvroDeserializer<>(new SchemaRegistryClient("http://127.0.0.1:" + closedPort()), Prompt.class);
        RecordDecodingException tooShort = assertThrows(RecordDecodingException.class,
                () -> deserializer.deserialize("prompts", new byte[] {0, 0, 1}));
        assertEquals(RecordDecodingException.Reason.NOT_CONFLUENT_FRAMING, tooShort.reason());
        assertTrue(tooShort.getMessage().contains("shorter than the 5-byte header"), tooShort.getMessage());

        RecordDecodingException json = assertThrows(RecordDecodingException.class,
                () -> deserializer.deserialize("prompts", "{\"id\":\"p1\"}".getBytes(StandardCharsets.UTF_8)));
        assertEquals(RecordDecodingException.Reason.NOT_CONFLUENT_FRAMING, json.reason());
        assertTrue(json.getMessage().contains("0x7b"), json.getMessage());
        assertEquals("prompts", json.topic());
        assertFalse(json.isTransient());

        assertNull(deserializer.deserialize("prompts", null), "a tombstone stays a tombstone");
    }

    @Test
    void anUnreachableRegistryIsTransientNotTheRecordsFault() throws Exception {
        var deserializer = new AvroDeserializer<>(new SchemaRegistryClient("http://127.0.0.1:" + closedPort()), Prompt.class);
        RecordDecodingException e = assertThrows(RecordDecodingException.class,
                () -> deserializer.deserialize("prompts", new byte[] {0, 0, 0, 0, 7, 2, 'x'}));
        assertEquals(RecordDecodingException.Reason.REGISTRY_UNAVAILABLE, e.reason());
        assertEquals(7, e.schemaId());
        assertTrue(e.isTransient());
    }

    @Test
    void aRegistryUrlMustBeHttp() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SchemaRegistryClient("localhost:8081"));
        assertTrue(e.getMessage().contains("localhost:8081"), e.getMessage());
    }
}
