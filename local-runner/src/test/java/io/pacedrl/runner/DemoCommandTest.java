package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pacedrl.embedded.LocalKafka;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.topics.Topics;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's main command, run as a user runs it, on the embedded platform and on an "external" one. */
class DemoCommandTest {
    /** Topics in the catalogue: the demo creates, and round-trips a record of, every one. */
    private static final long CATALOGUE = new Topics(new SchemaRegistryClient("http://127.0.0.1:1")).all().size();

    static final String PYTHON = "/usr/bin/python3";

    @TempDir
    static Path tempDir;
    static LocalKafka external;

    @BeforeAll
    static void startExternalPlatform() throws Exception {
        external = LocalKafka.start(tempDir.resolve("external-kafka"), true);
    }

    @AfterAll
    static void stop() throws Exception {
        external.close();
    }

    record Run(int exitCode, String out, String err) {}

    static Run demo(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var commandLine = PacedRl.commandLine();
        commandLine.setOut(new PrintWriter(out));
        commandLine.setErr(new PrintWriter(err));
        List<String> all = new ArrayList<>(List.of("demo"));
        all.addAll(List.of(args));
        int exitCode = commandLine.execute(all.toArray(String[]::new));
        return new Run(exitCode, out.toString(), err.toString());
    }

    Run demoOnExternal(Path runDir) {
        return demo("--bootstrap-servers", external.bootstrapServers(),
                "--schema-registry-url", external.schemaRegistryUrl(), "--run-dir", runDir.toString());
    }

    @Test
    void roundTripsEverySchemaOnTheEmbeddedBroker() throws Exception {
        Path runDir = tempDir.resolve("embedded-run");
        Run run = demo("--run-dir", runDir.toString());

        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("embedded KRaft broker"), run.out());
        assertTrue(run.out().contains(CATALOGUE + "/" + CATALOGUE + " schemas round-tripped through the registry and 2 consumer groups"), run.out());
        JsonNode report = new ObjectMapper().readTree(runDir.resolve("round-trip.json").toFile());
        assertEquals(CATALOGUE, report.get("topics").size());
        assertEquals(CATALOGUE, report.get("roundTrips").size());
        for (JsonNode trip : report.get("roundTrips")) {
            assertEquals(2, trip.get("readBackBy").size(), trip.toString());
        }
        assertTrue(Files.isDirectory(runDir.resolve("kafka")), "the broker's data stays in the run directory");
    }

    @Test
    void joinsAnExternalClusterCreatingTopicsOnlyOnce() {
        Run first = demoOnExternal(tempDir.resolve("external-1"));
        assertEquals(0, first.exitCode(), first.out() + first.err());
        assertTrue(first.out().contains("external cluster"), first.out());

        Run second = demoOnExternal(tempDir.resolve("external-2"));
        assertEquals(0, second.exitCode(), second.out() + second.err());
        assertEquals(CATALOGUE, second.out().lines().filter(l -> l.startsWith("topic") && l.contains(" checked,")).count(),
                second.out());
        assertTrue(second.out().contains(CATALOGUE + "/" + CATALOGUE + " schemas round-tripped"), second.out());
    }

    @Test
    void aBadConfigurationFailsAtStartNamingTheOption() {
        Run noRegistry = demo("--bootstrap-servers", "127.0.0.1:9");
        assertEquals(2, noRegistry.exitCode());
        assertTrue(noRegistry.err().contains("--schema-registry-url is required with --bootstrap-servers"), noRegistry.err());

        Run badPrefix = demo("--topic-prefix", "run 7/");
        assertEquals(2, badPrefix.exitCode());
        assertTrue(badPrefix.err().contains("--topic-prefix: topic prefix 'run 7/' is not allowed"), badPrefix.err());

        Run badUrl = demo("--bootstrap-servers", external.bootstrapServers(), "--schema-registry-url", "registry:8081",
                "--run-dir", tempDir.resolve("bad-url").toString());
        assertEquals(2, badUrl.exitCode(), badUrl.out() + badUrl.err());
        assertTrue(badUrl.err().contains("--schema-registry-url: schema registry URL 'registry:8081' is invalid"), badUrl.err());
    }

    @Test
    void anUnreachableRegistryFailsWithOneClearLine() throws Exception {
        int closedPort;
        try (var socket = new java.net.ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        Run run = demo("--bootstrap-servers", external.bootstrapServers(),
                "--schema-registry-url", "http://127.0.0.1:" + closedPort, "--topic-prefix", "no-registry.",
                "--run-dir", tempDir.resolve("no-registry").toString());
        assertEquals(1, run.exitCode(), run.out() + run.err());
        assertTrue(run.err().startsWith("paced-rl demo: "), run.err());
        assertTrue(run.err().contains("the schema registry at http://127.0.0.1:" + closedPort + " did not answer within 10 s "
                + "(--cluster-wait sets the wait): schema registry unreachable: GET /subjects"), run.err());
        assertEquals(1, run.err().lines().count(), "one line, no stack trace: " + run.err());
    }

    /** A cluster that is not there is reported within the wait, by the commands and by each service alike. */
    @Test
    void aDeadClusterIsReportedWithinTheWaitNamingTheOption() throws Exception {
        int closedPort;
        try (var socket = new java.net.ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        String[] cluster = {"--bootstrap-servers", "127.0.0.1:" + closedPort, "--schema-registry-url",
                "http://127.0.0.1:" + closedPort, "--cluster-wait", "2"};
        Run run = demo(DifficultyCommandsTest.concat(cluster, "--run-dir", tempDir.resolve("dead-cluster").toString()));
        assertEquals(1, run.exitCode(), run.out() + run.err());
        assertTrue(run.err().startsWith("paced-rl demo: no Kafka broker answered at 127.0.0.1:" + closedPort
                + " within 2 s (--cluster-wait sets the wait)"), run.err());
        String checkpoints = tempDir.resolve("dead-cluster-checkpoints").toString();
        for (String[] service : List.of(new String[] {"generator-service"}, new String[] {"reward-service"},
                new String[] {"difficulty-stream"}, new String[] {"learner-service", "--checkpoint-dir", checkpoints})) {
            CommandRun started = CommandRun.of(DifficultyCommandsTest.concat(service, cluster));
            assertEquals(1, started.exitCode(), service[0] + ": " + started.err());
            assertTrue(started.err().contains("no Kafka broker answered at 127.0.0.1:" + closedPort + " within 2 s"),
                    service[0] + ": " + started.err());
        }
        Run badWait = demo("--cluster-wait", "0");
        assertEquals(2, badWait.exitCode());
        assertTrue(badWait.err().contains("--cluster-wait must be ≥ 1 second, got 0"), badWait.err());
    }

    /** Confluent's own Python client (Debian's python3-confluent-kafka) reads our topics and writes one. */
    @Test
    void aConfluentClientInAnotherLanguageReadsAndWritesOurTopics() throws Exception {
        assumeTrue(pythonClientInstalled(), "Confluent's Python client is not installed "
                + "(apt-get install python3-confluent-kafka python3-avro python3-requests); .ci/run installs it");
        Run run = demoOnExternal(tempDir.resolve("python-run"));
        assertEquals(0, run.exitCode(), run.out() + run.err());
        Topics topics = new Topics(new SchemaRegistryClient(external.schemaRegistryUrl()));
        List<String> command = new ArrayList<>(List.of(PYTHON, Path.of("src/test/python/confluent_client_check.py").toString(),
                external.bootstrapServers(), external.schemaRegistryUrl(), topics.prompts.name()));
        topics.all().forEach(topic -> command.add(topic.name()));
        Process python = new ProcessBuilder(command).redirectErrorStream(false).start();
        String stdout = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String stderr = new String(python.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(python.waitFor(90, TimeUnit.SECONDS));
        assertEquals(0, python.exitValue(), stderr);

        JsonNode decoded = new ObjectMapper().readTree(stdout).get("decoded");
        assertEquals(CATALOGUE, decoded.size(), "every topic decoded: " + decoded);
        SampleRecords samples = new SampleRecords("any", 0);
        assertEquals(samples.prompt.getId(), decoded.get("prompts").get("id").asText());
        assertEquals(samples.rollout.getResponseText(), decoded.get("rollouts").get("responseText").asText());
        assertEquals(4, decoded.get("rollouts").get("behaviourLogProbs").size());
        assertEquals(1.0, decoded.get("scored-rollouts").get("reward").asDouble());
        assertEquals(samples.modelUpdate.getSha256(), decoded.get("model-updates").get("sha256").asText());
        // Float32 little-endian values, as numpy.frombuffer(values, "<f4") reads them.
        assertEquals(samples.embedding.getValues().remaining() * 2, decoded.get("prompt-embeddings").get("values").asText().length());
        assertEquals(0.5, decoded.get("scheduler-decisions").get("decision").get("groups").get(0).get("pHat").asDouble());
        assertEquals("NOT_CONFLUENT_FRAMING", decoded.get("dead-letters").get("errorType").asText());
        assertEquals(0.0021, decoded.get("run-events").get("metrics").get("beta_kl").asDouble());

        Prompt fromPython = readPrompt(topics, "python-0001");
        assertEquals(PromptSplit.HELD_OUT, fromPython.getSplit());
        assertEquals("42", fromPython.getAnswer());
    }

    static Prompt readPrompt(Topics topics, String id) {
        try (var consumer = new KafkaConsumer<>(Map.<String, Object>of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, external.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "java-reads-python",
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"),
                topics.prompts.keySerde().deserializer(), topics.prompts.valueSerde().deserializer())) {
            consumer.subscribe(List.of(topics.prompts.name()));
            long deadline = System.currentTimeMillis() + 30_000;
            while (System.currentTimeMillis() < deadline) {
                for (var record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.value().getId().equals(id)) {
                        return record.value();
                    }
                }
            }
        }
        throw new AssertionError("the Python client's prompt " + id + " never arrived");
    }

    static boolean pythonClientInstalled() {
        try {
            Process check = new ProcessBuilder(PYTHON, "-c", "import confluent_kafka.avro, requests")
                    .redirectErrorStream(true).start();
            check.getInputStream().readAllBytes();
            return check.waitFor(30, TimeUnit.SECONDS) && check.exitValue() == 0;
        } catch (Exception e) {
            return false;
        }
    }
}
