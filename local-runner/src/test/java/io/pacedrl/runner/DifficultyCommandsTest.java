package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The difficulty-stream service's command and its benchmark. */
class DifficultyCommandsTest {
    @TempDir
    Path dir;

    @Test
    void theBenchmarkFeedsTheAppOnTheEmbeddedBrokerAndReportsItsRate() throws Exception {
        CommandRun run = CommandRun.of("bench", "difficulty", "--pool-size", "300", "--groups", "400", "--run-dir", dir.toString());
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("scored rollouts"), run.out());
        JsonNode figures = new ObjectMapper().readTree(dir.resolve("bench-difficulty.json").toFile());
        assertTrue(figures.path("scoredRolloutsPerSecond").asLong() > 0, figures.toString());
    }

    @Test
    void theSelectionBenchmarkPlaysALearnerAgainstTheRealStreamAndPrintsItsTable() throws Exception {
        CommandRun run = CommandRun.of("bench", "selection", "--pools", "100,300", "--versions", "3", "--warm-up", "1",
                "--learner-steps", "1", "--run-dir", dir.toString());
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("| pool | records written / version |"), run.out());
        JsonNode figures = new ObjectMapper().readTree(dir.resolve("bench-selection.json").toFile());
        assertTrue(figures.path("learnerStepSeconds").asDouble() > 0, figures.toString());
        JsonNode pools = figures.path("pools");
        assertEquals(2, pools.size());
        for (JsonNode pool : pools) {
            assertEquals(3, pool.path("versions").size(), pool.toString());
            assertEquals(pool.path("pool").asInt(), pool.path("candidates").asInt(), "a small pool is scored whole");
            assertTrue(pool.path("cpuMs").asDouble() > 0 && pool.path("recordsWritten").asDouble() > 0, pool.toString());
        }
        CommandRun bad = CommandRun.of("bench", "selection", "--pools", "10", "--run-dir", dir.toString());
        assertEquals(2, bad.exitCode());
        assertTrue(bad.err().contains("every pool needs ≥ 2 batches of prompts"), bad.err());
    }

    @Test
    void aBadConfigFailsAtStartUpNamingTheKey() {
        String[] platform = {"difficulty-stream", "--bootstrap-servers", "127.0.0.1:1", "--schema-registry-url", "http://127.0.0.1:1"};
        CommandRun range = CommandRun.of(concat(platform, "--set", "look-ahead=0"));
        assertEquals(2, range.exitCode());
        assertTrue(range.err().startsWith("look-ahead must be ≥ 1"), range.err());
        CommandRun unknown = CommandRun.of(concat(platform, "--set", "lookahead=2"));
        assertEquals(2, unknown.exitCode());
        assertTrue(unknown.err().startsWith("unknown training key 'lookahead'"), unknown.err());
        CommandRun missing = CommandRun.of(concat(platform, "--config", dir.resolve("none.yaml").toString()));
        assertTrue(missing.err().startsWith("config file " + dir.resolve("none.yaml") + " does not exist"), missing.err());
    }

    static String[] concat(String[] head, String... tail) {
        String[] all = java.util.Arrays.copyOf(head, head.length + tail.length);
        System.arraycopy(tail, 0, all, head.length, tail.length);
        return all;
    }
}
