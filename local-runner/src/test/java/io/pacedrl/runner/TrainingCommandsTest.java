package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sync-train and scheduler-benchmark commands, end to end on a tiny model. */
class TrainingCommandsTest {
    @TempDir
    static Path dir;
    private static Path weights;

    @BeforeAll
    static void tinyWarmStart() throws Exception {
        weights = TinyPolicy.train(dir);
    }

    @Test
    void syncTrainTakesKeysFromAFileAndTheCommandLineAndWritesItsReport() throws Exception {
        Path config = dir.resolve("run.yaml");
        Files.writeString(config, """
                # a PACED-RL run, small
                steps: 5
                prompts-per-step: 4
                group-size: 4
                replay-size: 4
                max-new-tokens: 12
                eval-every: 2
                eval-prompts: 8
                eval-samples: 2
                final-samples: 4
                probe-prompts: 8
                """);
        Path runDir = dir.resolve("sync");
        CommandRun run = CommandRun.of("sync-train", "--config", config.toString(), "--set", "tau=0.4", "--steps", "3", "--weights", weights.toString(),
                "--pool-size", "300", "--threads", "2", "--run-dir", runDir.toString());
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().startsWith("sync-train paced: 3 steps of 4 prompts × 4 rollouts, pool 300 prompts"), run.out());
        for (String line : new String[] {"held-out   pass@1 ", "final      pass@1 ", "estimator  Spearman", "time       generation"}) {
            assertTrue(run.out().lines().anyMatch(l -> l.startsWith(line)), line + " in " + run.out());
        }
        JsonNode results = new ObjectMapper().readTree(runDir.resolve("sync-paced.json").toFile());
        assertEquals(0.4, results.at("/config/tau").asDouble(), "--set applies after the file");
        assertEquals(3, results.at("/config/steps").asInt(), "the shortcut applies last");
        assertEquals(4, results.at("/config/group-size").asInt(), "the file applies over the defaults");
        assertEquals(3, results.at("/report/history").size());
        assertEquals(3 * 4 * 4, results.at("/report/rollouts").asInt());
        for (String plot : new String[] {"sync-paced-curve.png", "sync-paced-signal.png", "sync-paced-p-hat.png"}) {
            byte[] png = Files.readAllBytes(runDir.resolve(plot));
            assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', plot);
        }

        // A fork at step 2 that changes nothing is the same run, bit for bit; one that changes a key is another.
        String weights3 = weightsLine(run);
        CommandRun same = CommandRun.of("sync-train", "--config", config.toString(), "--set", "tau=0.4", "--steps", "3", "--weights",
                weights.toString(), "--pool-size", "300", "--threads", "2", "--run-dir", dir.resolve("sync-fork").toString(), "--fork-at", "2");
        assertEquals(0, same.exitCode(), same.out() + same.err());
        assertTrue(same.out().lines().anyMatch(l -> l.matches("fork       at step 2 \\(weights SHA-256 [0-9a-f]{64}\\), then no key changed")),
                same.out());
        assertEquals(weights3, weightsLine(same));
        CommandRun changed = CommandRun.of("sync-train", "--config", config.toString(), "--set", "tau=0.4", "--steps", "3", "--weights",
                weights.toString(), "--pool-size", "300", "--threads", "2", "--run-dir", dir.resolve("sync-fork-lr").toString(),
                "--fork-at", "2", "--fork-set", "policy-learning-rate=0.001");
        assertEquals(0, changed.exitCode(), changed.out() + changed.err());
        assertTrue(changed.out().contains("then changed policy-learning-rate: 2.0E-4 → 0.001"), changed.out());
        assertNotEquals(weights3, weightsLine(changed));
    }

    private static String weightsLine(CommandRun run) {
        return run.out().lines().filter(l -> l.startsWith("weights    SHA-256 ")).findFirst().orElseThrow(() -> new AssertionError(run.out()));
    }

    @Test
    void badKeysAndFilesFailBeforeAnythingRunsNamingTheProblem() {
        CommandRun unknown = CommandRun.of("sync-train", "--set", "replay-sise=3", "--weights", weights.toString());
        assertEquals(2, unknown.exitCode());
        assertTrue(unknown.err().startsWith("unknown training key 'replay-sise'; the keys are method, steps,"), unknown.err());
        CommandRun range = CommandRun.of("sync-train", "--set", "tau=1.5", "--weights", weights.toString());
        assertEquals(2, range.exitCode());
        assertTrue(range.err().startsWith("tau must be in [0.0, 1.0], got 1.5"), range.err());
        CommandRun method = CommandRun.of("sync-train", "--method", "ppo", "--weights", weights.toString());
        assertEquals(2, method.exitCode());
        assertTrue(method.err().startsWith("unknown method 'ppo'; one of grpo, flowrl, paced"), method.err());
        CommandRun forkSet = CommandRun.of("sync-train", "--fork-set", "beta=0.1", "--weights", weights.toString());
        assertEquals(2, forkSet.exitCode());
        assertTrue(forkSet.err().startsWith("--fork-set needs --fork-at"), forkSet.err());
        CommandRun missing = CommandRun.of("sync-train", "--weights", dir.resolve("nothing.weights").toString());
        assertEquals(2, missing.exitCode());
        assertTrue(missing.err().startsWith("--weights " + dir.resolve("nothing.weights") + ": no such file"), missing.err());
    }

    @Test
    void schedulerBenchmarkTimesSelectionAndScoring() throws Exception {
        CommandRun run = CommandRun.of("bench", "scheduler", "--pool-size", "20000", "--batch", "32", "--repeats", "5", "--score-sizes", "2000",
                "--threads", "2", "--run-dir", dir.resolve("bench").toString());
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().lines().anyMatch(l -> l.startsWith("difficulty selection")), run.out());
        JsonNode result = new ObjectMapper().readTree(dir.resolve("bench/bench-scheduler.json").toFile()).get("result");
        assertTrue(result.at("/difficultySelect/medianMs").asDouble() > 0);
        assertEquals(1, result.get("scoring").size());
        assertTrue(result.at("/rankedScoring/0/medianMs").asDouble() > 0, "with the copies of Z_φ too");
    }
}
