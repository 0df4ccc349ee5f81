package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The warm-start and model-benchmark commands, end to end on a tiny model. */
class ModelCommandsTest {
    private static final String[] TINY_MODEL = {"--d-model", "32", "--layers", "1", "--heads", "2", "--context", "48", "--threads", "1"};

    @TempDir
    Path dir;

    private static String[] concat(String[] first, String... rest) {
        String[] all = java.util.Arrays.copyOf(first, first.length + rest.length);
        System.arraycopy(rest, 0, all, first.length, rest.length);
        return all;
    }

    @Test
    void warmStartTrainsReportsPlotsAndThenLoadsFromTheCache() throws Exception {
        String[] args = concat(new String[] {"warmstart"}, concat(TINY_MODEL, "--steps", "20", "--batch-size", "16",
                "--warmup-steps", "2", "--train-size", "200", "--held-out-size", "40", "--eval-prompts", "20", "--samples", "2",
                "--cache-dir", dir.resolve("cache").toString(), "--run-dir", dir.resolve("run").toString()));
        CommandRun first = CommandRun.of(args);
        assertEquals(0, first.exitCode(), first.out() + first.err());
        assertTrue(first.out().contains("(trained now)"), first.out());
        assertTrue(first.out().lines().anyMatch(l -> l.startsWith("held-out   pass@1 ")), first.out());
        for (String plot : new String[] {"warmstart-accuracy.png", "warmstart-levels.png", "warmstart-loss.png"}) {
            byte[] png = Files.readAllBytes(dir.resolve("run").resolve(plot));
            assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', plot);
        }
        JsonNode results = new ObjectMapper().readTree(dir.resolve("run/warmstart.json").toFile());
        assertEquals(20, results.at("/report/steps").asInt());
        assertEquals(3, results.at("/report/poolHistogram").size());

        CommandRun second = CommandRun.of(args);
        assertEquals(0, second.exitCode(), second.out() + second.err());
        assertTrue(second.out().contains("(loaded from the cache)"), second.out());
        assertEquals(results.at("/report/checksum"), new ObjectMapper().readTree(dir.resolve("run/warmstart.json").toFile())
                .at("/report/checksum"));
    }

    @Test
    void badModelOptionsFailBeforeAnythingRunsNamingTheProblem() {
        CommandRun run = CommandRun.of("warmstart", "--d-model", "30", "--heads", "4", "--cache-dir", dir.toString());
        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("model options: dModel must be a positive multiple of heads"), run.err());
        CommandRun steps = CommandRun.of("warmstart", "--steps", "0", "--cache-dir", dir.toString());
        assertEquals(2, steps.exitCode());
        assertTrue(steps.err().startsWith("steps must be ≥ 1, got 0"), steps.err());
    }

    @Test
    void modelBenchmarkPrintsEveryFigureAgainstTheRoofline() throws Exception {
        CommandRun run = CommandRun.of(concat(new String[] {"bench", "model"}, concat(TINY_MODEL, "--train-batch", "16", "--train-steps", "3",
                "--sample-batch", "16", "--new-tokens", "8", "--run-dir", dir.toString())));
        assertEquals(0, run.exitCode(), run.out() + run.err());
        for (String figure : new String[] {"matmul roofline", "training", "sampling, KV cache", "sampling, no cache"}) {
            assertTrue(run.out().lines().anyMatch(l -> l.startsWith(figure)), figure + " in " + run.out());
        }
        JsonNode result = new ObjectMapper().readTree(dir.resolve("bench-model.json").toFile()).get("result");
        for (String field : new String[] {"matmulGflops", "trainTokensPerSecond", "trainGflops", "sampleTokensPerSecondCached",
                "sampleTokensPerSecondRecomputed", "cacheSpeedup"}) {
            assertTrue(result.get(field).asDouble() > 0, field);
        }
    }
}
