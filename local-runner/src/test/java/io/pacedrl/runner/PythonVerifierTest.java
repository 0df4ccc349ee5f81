package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pacedrl.embedded.CommittedRecords;
import io.pacedrl.learning.MetricNames;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.topics.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped Python verifier (verifiers/python/numeric_verifier.py, Confluent's Python client
 * with its own partitioner) joins a run as its own consumer group: it scores every numeric
 * rollout, no Java verifier does, nothing is dead-lettered, and the learner learns from its scores.
 */
class PythonVerifierTest {
    private static final Path SCRIPT = Path.of("..", "verifiers", "python", "numeric_verifier.py");

    @TempDir
    Path dir;

    @Test
    void aPythonVerifierScoresARunsNumericRolloutsForTheLearner() throws Exception {
        assumeTrue(DemoCommandTest.pythonClientInstalled(), "Confluent's Python client is not installed "
                + "(apt-get install python3-confluent-kafka python3-avro python3-requests); .ci/run installs it");
        Path weights = TinyPolicy.train(dir);
        try (Platform platform = Platform.embedded(dir.resolve("kafka"))) {
            String[] cluster = {"--bootstrap-servers", platform.bootstrapServers(), "--schema-registry-url", platform.schemaRegistryUrl()};
            CommandRun pool = CommandRun.of(DifficultyCommandsTest.concat(new String[] {"pool", "--pool-size", "200", "--topic-prefix", "py."},
                    cluster));
            assertEquals(0, pool.exitCode(), pool.out() + pool.err());

            Process python = new ProcessBuilder(DemoCommandTest.PYTHON, SCRIPT.toString(), "--bootstrap-servers", platform.bootstrapServers(),
                    "--schema-registry-url", platform.schemaRegistryUrl(), "--topic-prefix", "py.")
                    .redirectErrorStream(true).redirectOutput(dir.resolve("python.log").toFile()).start();
            try {
                List<String> args = new ArrayList<>(List.of("train", "--run-id", "py", "--run-dir", dir.resolve("run").toString(),
                        "--external-verifier", "numeric"));
                args.addAll(List.of(cluster));
                args.addAll(TinyPolicy.runOptions(weights, 4));
                CommandRun train = CommandRun.of(args.toArray(String[]::new));
                assertEquals(0, train.exitCode(), train.out() + train.err() + Files.readString(dir.resolve("python.log")));
                assertTrue(python.isAlive(), "the Python verifier runs on: " + Files.readString(dir.resolve("python.log")));

                JsonNode result = new ObjectMapper().readTree(dir.resolve("run/metrics.json").toFile());
                assertEquals(0, result.get("deadLetters").asInt(), "nothing dead-lettered: the audit leaves numeric to Python");
                JsonNode metrics = result.get("metrics");
                assertEquals(4 * 16, metrics.get(metrics.size() - 1).get(MetricNames.ROLLOUTS_CONSUMED).asInt(),
                        "the learner learned from every group, Python's scores among them");

                Topics topics = new Topics("py.", new SchemaRegistryClient(platform.schemaRegistryUrl()));
                List<ScoredRollout> scored = CommittedRecords.read(platform.bootstrapServers(), topics.scoredRollouts.name(),
                        topics.scoredRollouts.valueSerde().deserializer(), read -> false, Duration.ofSeconds(3));
                Map<String, Map<String, Integer>> byKind = new TreeMap<>();
                scored.forEach(s -> byKind.computeIfAbsent(s.getRollout().getPrompt().getKind(), k -> new TreeMap<>())
                        .merge(s.getVerifier(), 1, Integer::sum));
                assertTrue(byKind.containsKey("numeric") && byKind.get("numeric").keySet().equals(Set.of("python-numeric")),
                        "every numeric rollout scored by Python, none by Java: " + byKind);
            } finally {
                python.destroy();
                python.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }
}
