package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pacedrl.policy.CharTokenizer;
import io.pacedrl.policy.Transformer;
import io.pacedrl.policy.Weights;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The generator and reward services' commands and benchmarks, end to end on small inputs. */
class ServiceCommandsTest {
    @TempDir
    Path dir;

    @Test
    void theGeneratorBenchmarkSamplesEveryGroupAndReportsItsRates() throws Exception {
        Path weights = dir.resolve("tiny.weights");
        try (NDManager manager = NDManager.newBaseManager(); Transformer model = new Transformer(manager,
                new Transformer.Config(CharTokenizer.ASCII.vocabularySize(), 32, 1, 2, 96, 0f, true), CharTokenizer.ASCII, 1)) {
            Weights.save(model, weights);
        }
        CommandRun run = CommandRun.of("bench", "generator", "--weights", weights.toString(), "--prompts", "12",
                "--group-size", "2", "--max-new-tokens", "6", "--run-dir", dir.resolve("gen").toString());
        assertEquals(0, run.exitCode(), run.out() + run.err());
        JsonNode figures = new ObjectMapper().readTree(dir.resolve("gen/bench-generator.json").toFile());
        assertTrue(figures.path("rolloutsPerSecond").asDouble() > 0, figures.toString());
        assertTrue(figures.path("meanResponseTokens").asDouble() > 0 && figures.path("meanResponseTokens").asDouble() <= 6);
    }

    @Test
    void theRewardBenchmarkTimesEachVerifier() throws Exception {
        CommandRun run = CommandRun.of("bench", "rewards", "--rollouts", "300", "--code-rollouts", "4",
                "--run-dir", dir.resolve("rewards").toString());
        assertEquals(0, run.exitCode(), run.out() + run.err());
        JsonNode figures = new ObjectMapper().readTree(dir.resolve("rewards/bench-rewards.json").toFile());
        for (String verifier : new String[] {"numeric", "countdown", "code"}) {
            assertTrue(figures.path(verifier + "PerSecond").asDouble() > 0, figures.toString());
            assertEquals(0, figures.path(verifier + "DeadLettered").asLong(-1), "every benchmark rollout is well-formed: " + figures);
        }
    }

    @Test
    void anUnknownVerifierOrABadSamplingOptionFailsBeforeStarting() {
        String[] platform = {"--bootstrap-servers", "127.0.0.1:1", "--schema-registry-url", "http://127.0.0.1:1"};
        CommandRun verifier = CommandRun.of(DifficultyCommandsTest.concat(new String[] {"reward-service"},
                DifficultyCommandsTest.concat(platform, "--verifier", "poetry")));
        assertEquals(2, verifier.exitCode());
        assertTrue(verifier.err().startsWith("--verifier poetry: no such verifier on the class path or in --plugins (available: "), verifier.err());
        CommandRun topP = CommandRun.of(DifficultyCommandsTest.concat(new String[] {"generator-service"},
                DifficultyCommandsTest.concat(platform, "--top-p", "1.5")));
        assertEquals(2, topP.exitCode());
        assertTrue(topP.err().startsWith("topP must be in (0, 1], got 1.5"), topP.err());
    }

    @Test
    void everyCommandAnswersVersionWithTheBuildAndABadLogLevelIsRefused() {
        for (String command : new String[] {"train", "generator-service", "learner-service"}) {
            CommandRun version = CommandRun.of(command, "--version");
            assertEquals(0, version.exitCode(), version.err());
            assertTrue(version.out().matches("(?s)paced-rl \\S+ \\(commit ([0-9a-f]{40}(-dirty)?|unknown), .*"), version.out());
        }
        CommandRun level = CommandRun.of("pool", "--log-level", "loud");
        assertEquals(2, level.exitCode());
        assertTrue(level.err().startsWith("--log-level loud: one of error, warn, info, debug, trace"), level.err());
    }
}
