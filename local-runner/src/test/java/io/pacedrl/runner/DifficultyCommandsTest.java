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
    void theBenchmarkFeedsTheAppOnTheEmbeddedBrokerAndReportsBothFigures() throws Exception {
        CommandRun run = CommandRun.of("bench", "difficulty", "--pool-size", "300", "--groups", "400", "--selection-pool",
                "5000", "--repeats", "3", "--run-dir", dir.toString());
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("scored rollouts"), run.out());
        JsonNode figures = new ObjectMapper().readTree(dir.resolve("bench-difficulty.json").toFile());
        assertTrue(figures.path("scoredRolloutsPerSecond").asLong() > 0, figures.toString());
        assertEquals(5000, figures.path("selection").path("poolSize").asInt());
        assertTrue(figures.path("selection").path("medianMs").asDouble() > 0);
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
