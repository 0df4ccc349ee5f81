package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmark runs to the end and reports every stage; its figures are for reading, not asserting. */
class PlatformBenchmarkTest {
    @TempDir
    Path runDir;

    @Test
    void measuresEveryStageAndWritesTheFigures() throws Exception {
        CommandRun run = CommandRun.of("bench", "platform", "--records", "3000", "--run-dir", runDir.toString());

        assertEquals(0, run.exitCode(), run.out() + run.err());
        for (String stage : new String[] {"encode", "produce", "consume"}) {
            assertTrue(run.out().lines().anyMatch(l -> l.startsWith(stage) && l.contains("records/s")), run.out());
        }
        JsonNode figures = new ObjectMapper().readTree(runDir.resolve("bench-platform.json").toFile());
        assertEquals(3000, figures.get("records").asInt());
        assertTrue(figures.get("consumeRecordsPerSecond").asLong() > 0);
        assertTrue(figures.get("bytesPerRecord").asInt() > 5, "a framed record is header plus body");
    }
}
