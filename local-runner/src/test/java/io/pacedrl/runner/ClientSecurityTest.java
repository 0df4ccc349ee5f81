package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.embedded.EmbeddedKafkaBroker;
import io.pacedrl.embedded.SchemaRegistryServer;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.HttpServers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A managed cluster's security on the embedded broker: SASL/PLAIN on its listener, and the registry
 * over HTTPS (a certificate of its own, generated with keytool) behind HTTP basic auth. A run works
 * with the client settings given as Kafka's tools take them (a properties file and -X) and fails at
 * start-up, saying what is missing, without them.
 */
class ClientSecurityTest {
    private static final String JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required "
            + "username=\"trainer\" password=\"s3cret\";";

    @TempDir
    static Path dir;
    private static EmbeddedKafkaBroker broker;
    private static SchemaRegistryServer registry;
    private static Path weights;
    private static Path truststore;

    @BeforeAll
    static void securedCluster() throws Exception {
        weights = TinyPolicy.train(dir);
        broker = EmbeddedKafkaBroker.startWithSaslPlain(dir.resolve("kafka"), true, Map.of("trainer", "s3cret"));
        ClientSettings.use(Map.of("security.protocol", "SASL_PLAINTEXT", "sasl.mechanism", "PLAIN", "sasl.jaas.config", JAAS));
        Path keystore = dir.resolve("registry.p12");
        truststore = dir.resolve("truststore.p12");
        Path certificate = dir.resolve("registry.crt");
        keytool("-genkeypair", "-alias", "registry", "-keyalg", "RSA", "-keysize", "2048", "-dname", "CN=localhost",
                "-ext", "SAN=ip:127.0.0.1,dns:localhost", "-validity", "2", "-storetype", "PKCS12", "-keystore", keystore.toString(),
                "-storepass", "changeit", "-keypass", "changeit");
        keytool("-exportcert", "-alias", "registry", "-keystore", keystore.toString(), "-storepass", "changeit", "-rfc",
                "-file", certificate.toString());
        keytool("-importcert", "-noprompt", "-alias", "registry", "-file", certificate.toString(), "-storetype", "PKCS12",
                "-keystore", truststore.toString(), "-storepass", "trustit");
        registry = SchemaRegistryServer.start(broker.bootstrapServers(), SchemaRegistryServer.DEFAULT_TOPIC, "127.0.0.1", 0,
                "registry:pa55", HttpServers.serverTls(keystore, "changeit"));
        ClientSettings.use(Map.of());
    }

    private static void keytool(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString()));
        command.addAll(List.of(args));
        Process keytool = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(keytool.getInputStream().readAllBytes());
        assertEquals(0, keytool.waitFor(), "keytool " + args[0] + ": " + output);
    }

    @AfterAll
    static void stop() throws Exception {
        ClientSettings.use(Map.of());
        registry.close();
        broker.close();
    }

    private static String[] train(String runId, String... security) {
        List<String> args = new ArrayList<>(List.of("train", "--bootstrap-servers", broker.bootstrapServers(), "--schema-registry-url",
                registry.url(), "--cluster-wait", "3", "--run-id", runId, "--run-dir", dir.resolve(runId).toString()));
        args.addAll(TinyPolicy.runOptions(weights, 3));
        args.addAll(List.of(security));
        return args.toArray(String[]::new);
    }

    @Test
    void aRunWorksWithTheClusterSecuritySettingsAndFailsClearlyWithoutThem() throws Exception {
        Path properties = dir.resolve("client.properties");
        Files.writeString(properties, "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config=" + JAAS + "\n");

        String[] registryTls = {"-X", "schema.registry.ssl.truststore.location=" + truststore, "-X",
                "schema.registry.ssl.truststore.password=trustit"};
        assertTrue(registry.url().startsWith("https://"), registry.url());

        CommandRun secured = CommandRun.of(train("secured", "--command-config", properties.toString(), "-X",
                "basic.auth.user.info=registry:pa55", registryTls[0], registryTls[1], registryTls[2], registryTls[3]));
        assertEquals(0, secured.exitCode(), secured.out() + secured.err());
        assertTrue(secured.out().lines().anyMatch(l -> l.startsWith("held-out   pass@1 ")), secured.out());

        CommandRun noLogin = CommandRun.of(train("no-login"));
        assertEquals(1, noLogin.exitCode(), noLogin.out() + noLogin.err());
        assertTrue(noLogin.err().contains("no Kafka broker answered at " + broker.bootstrapServers() + " within 3 s")
                && noLogin.err().contains("security settings given (-X, --command-config)"), noLogin.err());

        CommandRun untrusted = CommandRun.of(train("untrusted", "--command-config", properties.toString(), "-X",
                "basic.auth.user.info=registry:pa55"));
        assertEquals(1, untrusted.exitCode(), untrusted.out() + untrusted.err());
        assertTrue(untrusted.err().contains("the schema registry at " + registry.url() + " did not answer")
                && untrusted.err().contains("SSLHandshakeException"), untrusted.err());

        CommandRun noRegistryLogin = CommandRun.of(train("no-registry-login", "--command-config", properties.toString(),
                registryTls[0], registryTls[1], registryTls[2], registryTls[3]));
        assertEquals(1, noRegistryLogin.exitCode(), noRegistryLogin.out() + noRegistryLogin.err());
        assertTrue(noRegistryLogin.err().contains("the schema registry refused a client without credentials (HTTP 401")
                && noRegistryLogin.err().contains("basic.auth.user.info=USER:PASSWORD"), noRegistryLogin.err());

        CommandRun badSetting = CommandRun.of(train("bad", "-X", "basic.auth.user.info=nobody"));
        assertEquals(2, badSetting.exitCode(), badSetting.err());
        assertTrue(badSetting.err().startsWith("basic.auth.user.info must be USER:PASSWORD"), badSetting.err());
    }
}
