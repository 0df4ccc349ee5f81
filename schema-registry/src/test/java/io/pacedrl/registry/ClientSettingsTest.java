package io.pacedrl.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Client settings split between Kafka's clients and the registry's, as Confluent names them; bad ones named at start-up. */
class ClientSettingsTest {
    @TempDir
    Path dir;

    @AfterEach
    void reset() {
        ClientSettings.use(Map.of());
    }

    @Test
    void kafkaSettingsGoOverEveryClientsConfigAndRegistryKeysStayOut() throws Exception {
        Path file = dir.resolve("client.properties");
        Files.writeString(file, "security.protocol=SASL_SSL\nrequest.timeout.ms=5000\nbasic.auth.user.info=key:secret\n");
        Map<String, String> settings = new LinkedHashMap<>(ClientSettings.read(file));
        settings.put("request.timeout.ms", "7000"); // -X over the file
        ClientSettings.use(settings);
        Map<String, Object> config = ClientSettings.kafka(Map.of("bootstrap.servers", "b:9092", "request.timeout.ms", 30000));
        assertEquals(Map.of("bootstrap.servers", "b:9092", "security.protocol", "SASL_SSL", "request.timeout.ms", "7000"), config);
        assertEquals("Basic a2V5OnNlY3JldA==", ClientSettings.registryAuthorization().orElseThrow());
    }

    @Test
    void badSettingsAreRefusedNamingTheKeyOrFile() {
        IllegalArgumentException userInfo = assertThrows(IllegalArgumentException.class,
                () -> ClientSettings.use(Map.of("basic.auth.user.info", "nobody")));
        assertEquals("basic.auth.user.info must be USER:PASSWORD", userInfo.getMessage());
        IllegalArgumentException source = assertThrows(IllegalArgumentException.class,
                () -> ClientSettings.use(Map.of("basic.auth.credentials.source", "SASL_INHERIT")));
        assertTrue(source.getMessage().startsWith("basic.auth.credentials.source=SASL_INHERIT is not supported"));
        IllegalArgumentException file = assertThrows(IllegalArgumentException.class, () -> ClientSettings.read(dir.resolve("missing")));
        assertTrue(file.getMessage().startsWith("cannot read client settings from " + dir.resolve("missing")));
        ClientSettings.use(Map.of("schema.registry.ssl.truststore.location", dir.resolve("none.p12").toString()));
        IllegalArgumentException truststore = assertThrows(IllegalArgumentException.class,
                () -> new SchemaRegistryClient("https://registry.example:8081"));
        assertTrue(truststore.getMessage().startsWith("cannot use the registry truststore " + dir.resolve("none.p12")));
    }
}
