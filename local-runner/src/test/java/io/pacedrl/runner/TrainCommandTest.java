package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pacedrl.learning.MetricNames;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The main command end to end on the real embedded broker with a tiny policy and a small budget:
 * every service runs, the generator samples with several versions of the policy, the held-out
 * accuracy is measured, nothing is dead-lettered, and the run directory holds its files.
 */
class TrainCommandTest {
    @TempDir
    static Path dir;
    private static Path weights;

    @BeforeAll
    static void tinyWarmStart() throws Exception {
        weights = TinyPolicy.train(dir);
    }

    private static List<String> small(String... more) {
        List<String> args = new ArrayList<>(List.of("train", "--weights", weights.toString(), "--pool-size", "200", "--steps", "5",
                "--set", "prompts-per-step=4", "--set", "group-size=4", "--set", "replay-size=4", "--set", "max-new-tokens=8",
                "--set", "eval-every=2", "--set", "eval-prompts=8", "--set", "eval-samples=2", "--set", "final-samples=4",
                "--set", "probe-prompts=8", "--set", "partition-fit-steps=2"));
        args.addAll(List.of(more));
        return args;
    }

    @Test
    void aPacedRunGoesEndToEndOnTheEmbeddedBroker() throws Exception {
        Path runDir = dir.resolve("paced");
        CommandRun run = CommandRun.of(small("--method", "paced", "--run-id", "e2e", "--run-dir", runDir.toString()).toArray(String[]::new));
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().startsWith("run        e2e: paced, asynchronous (look-ahead 2), 5 updates of 4 prompts × 4 rollouts"), run.out());
        for (String line : List.of("held-out   pass@1 ", "final      pass@1 ", "estimator  mean β·KL", "probe      p̂ against 64 samples",
                "pipeline   ", "learner    model",
                "cpu        learner", "files      ")) {
            assertTrue(run.out().lines().anyMatch(l -> l.startsWith(line)), line + " in " + run.out());
        }
        JsonNode result = new ObjectMapper().readTree(runDir.resolve("metrics.json").toFile());
        assertEquals(0, result.get("deadLetters").asInt(), "nothing dead-lettered");
        JsonNode metrics = result.get("metrics");
        assertEquals(5, metrics.size(), "a metrics event per update");
        Set<Long> sampledWith = new TreeSet<>();
        for (JsonNode row : metrics) {
            long version = row.get("version").asLong();
            row.fieldNames().forEachRemaining(key -> {
                if (key.startsWith("staleness-") && row.get(key).asDouble() > 0) {
                    // Update v learned from batch v − 1, sampled k versions before it.
                    sampledWith.add(version - 1 - Long.parseLong(key.substring("staleness-".length())));
                }
            });
            assertEquals(4.0, row.get("groups").asDouble() + row.get(MetricNames.STALE_GROUPS).asDouble(), "B groups per update");
        }
        assertTrue(sampledWith.size() >= 3, "the generator sampled with several versions of the policy: " + sampledWith);
        assertEquals(5 * 4 * 4, metrics.get(4).get(MetricNames.ROLLOUTS_CONSUMED).asInt());
        List<Long> evaluated = new ArrayList<>();
        result.get("evaluations").forEach(e -> evaluated.add(e.get("version").asLong()));
        assertEquals(List.of(0L, 2L, 4L, 5L), evaluated, "held-out accuracy at versions 0, 2, 4 and the last");
        result.get("evaluations").forEach(e -> assertTrue(e.get(MetricNames.PASS_AT_1).asDouble() >= 0));
        // p̂'s fit on the probe prompts, split by whether the learner has learned from them.
        JsonNode firstEvaluation = result.get("evaluations").get(0);
        assertEquals(0, firstEvaluation.get(MetricNames.PROBE_SCHEDULED).asInt(), "nothing learned from at version 0");
        result.get("evaluations").forEach(e -> {
            assertEquals(8, e.get(MetricNames.PROBE_PROMPTS).asInt());
            assertEquals(8, e.get(MetricNames.PROBE_HELD_OUT).asInt(), "as many held-out probe prompts");
            assertTrue(e.get(MetricNames.PROBE_SCHEDULED).asInt() <= 8);
            double error = e.get(MetricNames.PROBE_CALIBRATION_ERROR).asDouble();
            assertTrue(error >= 0 && error <= 1, e.toString());
            // No estimate ranks above what the observations' ties allow.
            JsonNode spearman = e.get(MetricNames.PROBE_SPEARMAN_UNSCHEDULED);
            JsonNode highest = e.get(MetricNames.PROBE_HIGHEST_SPEARMAN_UNSCHEDULED);
            assertTrue(highest != null, "the highest reachable Spearman is reported: " + e);
            if (spearman.isNumber() && highest.isNumber()) {
                assertTrue(spearman.asDouble() <= highest.asDouble() + 1e-9, e.toString());
            }
            // What family and level alone rank each set at, beside p̂.
            for (String key : List.of(MetricNames.PROBE_SPEARMAN_BY_LEVEL, MetricNames.PROBE_SPEARMAN_BY_LEVEL_SCHEDULED,
                    MetricNames.PROBE_SPEARMAN_BY_LEVEL_UNSCHEDULED, MetricNames.PROBE_SPEARMAN_BY_LEVEL_HELD_OUT)) {
                assertTrue(e.has(key), key + " is reported: " + e);
            }
        });
        assertTrue(result.get("finalEvaluation").has("pass@4"));
        List<String> levels = new java.util.ArrayList<>();
        result.get("finalEvaluation").fieldNames().forEachRemaining(k -> {
            if (k.startsWith(MetricNames.LEVEL_PASS_AT_1_PREFIX)) {
                levels.add(k);
            }
        });
        assertTrue(!levels.isEmpty(), "final pass@1 by family and level: " + result.get("finalEvaluation"));
        assertTrue(result.get("windowCpuSeconds").get("generator").asDouble() > 0);
        // The scheduler task runs on the stream's threads, over the same window: a part of their CPU, not the run's from its start.
        double scheduler = result.get("schedulerCpuSeconds").asDouble();
        assertTrue(scheduler > 0 && scheduler <= result.get("windowCpuSeconds").get("difficulty-stream").asDouble(), result.toString());
        assertTrue(Files.readString(runDir.resolve("config.yaml")).contains("look-ahead: 2"));
        Path finalWeights = runDir.resolve("checkpoints/final.weights");
        assertTrue(run.out().contains("weights    " + finalWeights), run.out());
        CommandRun eval = CommandRun.of("eval", "--weights", finalWeights.toString(), "--pool-size", "200", "--set", "eval-prompts=4",
                "--set", "final-samples=2", "--set", "max-new-tokens=8", "--embedding-probe", "40", "--set", "probe-samples=2");
        assertEquals(0, eval.exitCode(), eval.out() + eval.err());
        assertTrue(eval.out().startsWith("eval       " + finalWeights + " on 4 held-out prompts × 2 samples"), eval.out());
        assertTrue(eval.out().contains("scores     pass@1 "), eval.out());
        assertTrue(eval.out().contains("embedding  40 pool prompts × 2 samples: mean accuracy "), eval.out());
        assertTrue(eval.out().lines().anyMatch(l -> l.matches("embedding  a linear probe of accuracy on the mean embedding, fitted on "
                + "half, ranks the other half at Spearman (-?\\d\\.\\d\\d|NaN); family and level alone (-?\\d\\.\\d\\d|NaN)")), eval.out());
        CommandRun tooFew = CommandRun.of("eval", "--weights", finalWeights.toString(), "--pool-size", "200", "--embedding-probe", "2");
        assertEquals(2, tooFew.exitCode(), tooFew.err());
        assertTrue(tooFew.err().contains("--embedding-probe must be in [4, "), tooFew.err());
        String html = Files.readString(runDir.resolve("report.html"));
        assertTrue(html.contains("<h1>Training run e2e</h1>"));
        assertTrue(html.split("data:image/png;base64,").length >= 6, "the plots are embedded");
        for (String plot : List.of("held-out.png", "p-hat.png", "calibration.png", "staleness.png", "signal.png", "beta-kl.png")) {
            assertTrue(Files.size(runDir.resolve(plot)) > 1000, plot);
        }
    }

    @Test
    void lockStepSamplesEveryBatchWithTheNewestVersion() throws Exception {
        Path runDir = dir.resolve("sync");
        CommandRun run = CommandRun.of(small("--method", "grpo", "--sync", "--run-id", "e2e-sync", "--run-dir", runDir.toString())
                .toArray(String[]::new));
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("grpo, lock-step (look-ahead 1)"), run.out());
        JsonNode result = new ObjectMapper().readTree(runDir.resolve("metrics.json").toFile());
        for (JsonNode row : result.get("metrics")) {
            assertEquals(4.0, row.get("staleness-0").asDouble(), "every group sampled by the version it updates");
        }
        assertEquals(0, result.get("deadLetters").asInt());
    }

    @Test
    void thePipelineBenchmarkMeasuresBothModesOnEqualWork() throws Exception {
        CommandRun run = CommandRun.of("bench", "pipeline", "--weights", weights.toString(), "--pool-size", "200", "--updates", "4",
                "--set", "prompts-per-step=4", "--set", "group-size=4", "--set", "max-new-tokens=8", "--set", "partition-fit-steps=2",
                "--run-dir", dir.resolve("bench").toString());
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().lines().anyMatch(l -> l.startsWith("warm-up") && l.endsWith("(not counted)")), run.out());
        for (String line : List.of("rollouts consumed", "rollouts/s", "CPU utilisation", "  CPU s: generator", "  idle s: learner",
                "compute bound", "throughput / compute bound", "learner outside model compute", "async speed-up over lock-step")) {
            assertTrue(run.out().lines().anyMatch(l -> l.startsWith(line)), line + " in " + run.out());
        }
        JsonNode json = new ObjectMapper().readTree(dir.resolve("bench").resolve("bench-pipeline.json").toFile());
        JsonNode results = json.get("results");
        assertEquals(List.of("async", "lock-step"), List.of(results.get(0).get("mode").asText(), results.get(1).get("mode").asText()),
                "the warm-up is not among the results");
        assertEquals(2, results.size());
        assertEquals(results.get(0).get("rollouts").asDouble(), results.get(1).get("rollouts").asDouble(), "equal work");
        assertEquals(3 * 4 * 4, results.get(0).get("rollouts").asInt(), "updates 2 to 4 in the window");
    }

    @Test
    void aRunTrainsOnAJsonlDataset() throws Exception {
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 12; i++) {
            lines.append(String.format("{\"id\": \"t%d\", \"kind\": \"numeric\", \"text\": \"%d+%d=\", \"answer\": \"%d\"}%n",
                    i, i, i + 1, 2 * i + 1));
        }
        for (int i = 0; i < 4; i++) {
            lines.append(String.format("{\"id\": \"h%d\", \"kind\": \"numeric\", \"split\": \"held_out\", \"text\": \"%d*2=\", "
                    + "\"answer\": \"%d\"}%n", i, i, 2 * i));
        }
        Path data = dir.resolve("data.jsonl");
        Files.writeString(data, lines);
        Path runDir = dir.resolve("dataset");
        List<String> args = small("--method", "grpo", "--dataset", data.toString(), "--run-id", "e2e-data", "--run-dir",
                runDir.toString());
        CommandRun run = CommandRun.of(args.toArray(String[]::new));
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("pool 12, 4 held-out"), run.out());
        JsonNode result = new ObjectMapper().readTree(runDir.resolve("metrics.json").toFile());
        assertEquals(5, result.get("metrics").size());
        assertEquals(4, result.get("evaluations").get(0).get("prompts").asInt(), "evaluated on the dataset's held-out prompts");

        Files.writeString(dir.resolve("bad.jsonl"), "{\"id\": \"q1\", \"kind\": \"numeric\", \"text\": \"1+1=\", \"answr\": \"2\"}\n");
        CommandRun bad = CommandRun.of("train", "--weights", weights.toString(), "--dataset", dir.resolve("bad.jsonl").toString());
        assertEquals(2, bad.exitCode());
        assertTrue(bad.err().contains("--dataset: " + dir.resolve("bad.jsonl") + ":1: unknown field 'answr'"), bad.err());
    }

    @Test
    void badOptionsFailBeforeAnythingStarts() {
        CommandRun run = CommandRun.of("train", "--weights", weights.toString(), "--set", "max-staleness=-1");
        assertEquals(2, run.exitCode());
        assertTrue(run.err().contains("max-staleness must be ≥ 0, got -1"), run.err());
        CommandRun generators = CommandRun.of("train", "--weights", weights.toString(), "--generators", "0");
        assertEquals(2, generators.exitCode());
        assertTrue(generators.err().contains("--generators must be ≥ 1, got 0"), generators.err());
    }
}
