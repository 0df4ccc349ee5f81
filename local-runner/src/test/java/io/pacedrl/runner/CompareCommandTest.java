package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pacedrl.learning.MetricNames;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The comparison command on the real embedded broker with a tiny policy and a tiny budget: two
 * methods, one seed. The report and results.json are complete and agree with the runs' own
 * records; a comparison started again keeps its finished runs; a run that fails is reported and
 * the others go on.
 */
class CompareCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    private static Path weights;

    @BeforeAll
    static void tinyWarmStart() throws Exception {
        weights = TinyPolicy.train(dir);
    }

    /** Budget 80 = 5 updates of 4 prompts × 4 rollouts; evaluations every 2 updates (32 rollouts). */
    private static String[] tiny(String id, String... more) {
        List<String> given = List.of(more);
        List<String> args = new ArrayList<>(List.of("compare", "--weights", weights.toString(), "--pool-size", "200",
                "--methods", "grpo,paced", "--seeds", "1", "--id", id,
                "--run-dir", dir.resolve(id).toString(), "--set", "prompts-per-step=4", "--set", "group-size=4",
                "--set", "replay-size=4", "--set", "max-new-tokens=8", "--set", "eval-every=2", "--set", "eval-prompts=8",
                "--set", "eval-samples=2", "--set", "final-samples=4", "--set", "probe-prompts=8", "--set", "partition-fit-steps=2",
                "--set", "estimator-warmup-steps=2"));
        args.addAll(given);
        // Defaults for what the test does not set itself (an option given twice is an error).
        if (!given.contains("--rollout-budget")) {
            args.addAll(List.of("--rollout-budget", "80"));
        }
        if (!given.contains("--sweep")) {
            args.addAll(List.of("--sweep", "none"));
        }
        return args.toArray(String[]::new);
    }

    @Test
    void twoMethodsOneSeedMakeACompleteConsistentReport() throws Exception {
        CommandRun run = CommandRun.of(tiny("smoke"));
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().startsWith("compare    smoke: [grpo, paced] × 1 seeds = 2 runs, 80 rollouts each"), run.out());
        assertTrue(run.out().contains("[1/2] grpo seed 1: held-out pass@1 "), run.out());
        assertTrue(run.out().contains("[2/2] paced seed 1: held-out pass@1 "), run.out());
        assertTrue(run.out().lines().anyMatch(l -> l.startsWith("verdict    Headline: PACED-RL ")), run.out());

        Path compareDir = dir.resolve("smoke");
        JsonNode json = JSON.readTree(compareDir.resolve("results.json").toFile());
        assertEquals(80, json.get("rolloutBudget").asLong());
        assertFalse(json.get("commit").asText().isBlank());
        assertEquals(2, json.get("runs").size());
        JsonNode results = json.get("results");
        assertEquals("grpo", results.get("bestBaseline").asText(), "the only baseline is the best");
        JsonNode grpo = results.get("methods").get(0);
        JsonNode paced = results.get("methods").get(1);
        for (int m = 0; m < 2; m++) {
            JsonNode runRow = json.get("runs").get(m);
            JsonNode method = results.get("methods").get(m);
            String name = List.of("grpo", "paced").get(m);
            assertEquals(name, method.get("method").asText());
            assertEquals(name, runRow.get("method").asText());
            assertEquals("done", runRow.get("status").asText());
            assertEquals(name, runRow.get("config").get("method").asText(), "each run's own configuration");
            assertEquals(80, runRow.get("config").get("rollout-budget").asLong());
            assertEquals(json.get("commit").asText(), runRow.get("commit").asText(), "the commit each run ran on");
            assertEquals(1, method.get("seeds").asInt());

            // The comparison's figures are the run's own.
            JsonNode record = JSON.readTree(Path.of(runRow.get("directory").asText()).resolve("metrics.json").toFile());
            assertEquals(5, record.get("metrics").size(), "the budget buys 5 updates of 16 rollouts");
            assertEquals(80, record.get("metrics").get(4).get(MetricNames.ROLLOUTS_CONSUMED).asLong());
            JsonNode evaluations = record.get("evaluations");
            JsonNode curve = method.get("accuracy");
            assertEquals(List.of(0.0, 32.0, 64.0, 80.0), doubles(curve.get("rollouts")), "one grid point per evaluation");
            assertEquals(evaluations.get(0).get(MetricNames.PASS_AT_1).asDouble(), curve.get("values").get(0).get("mean").asDouble(), 1e-12);
            assertEquals(evaluations.get(evaluations.size() - 1).get(MetricNames.PASS_AT_1).asDouble(),
                    method.get("finalAccuracy").get("mean").asDouble(), 1e-12);
            for (String k : List.of("pass@1", "pass@2", "pass@4", "avg@k", "distinct-correct-countdown")) {
                assertEquals(record.get("finalEvaluation").get(k).asDouble(), method.get("finalEvaluation").get(k).get("mean").asDouble(),
                        1e-12, k);
            }
            assertTrue(method.get("cost").get("wallSecondsPerUpdate").get("mean").asDouble() > 0);
            assertTrue(method.get("cost").get("cpuSecondsPerUpdate").get("generation").get("mean").asDouble() > 0);
            assertTrue(Files.isRegularFile(Path.of(runRow.get("directory").asText()).resolve("report.html")));
        }
        assertEquals(grpo.get("finalAccuracy").get("mean").asDouble(), results.get("target").asDouble(), 1e-12);
        double grpoReach = grpo.get("rolloutsToTarget").asDouble();
        if (grpoReach > 0) {
            assertEquals(1.0, grpo.get("ratioToBest").asDouble(), 1e-12, "the best baseline's ratio to itself");
            if (paced.get("rolloutsToTarget").isNumber()) {
                assertEquals(paced.get("rolloutsToTarget").asDouble() / grpoReach, paced.get("ratioToBest").asDouble(), 1e-9);
            }
        }
        // p̂'s health: the mean probe Spearman from estimator-warmup-steps on (undefined where the tiny policy solves none).
        JsonNode pacedRecord = JSON.readTree(Path.of(json.get("runs").get(1).get("directory").asText()).resolve("metrics.json").toFile());
        double sum = 0;
        int count = 0;
        for (JsonNode e : pacedRecord.get("evaluations")) {
            if (e.get("version").asLong() >= 2 && e.get(MetricNames.PROBE_SPEARMAN).isNumber()) {
                sum += e.get(MetricNames.PROBE_SPEARMAN).asDouble();
                count++;
            }
        }
        JsonNode spearman = paced.get("health").get(MetricNames.PROBE_SPEARMAN);
        assertEquals(count > 0 ? 1 : 0, spearman.get("n").asInt());
        if (count > 0) {
            assertEquals(sum / count, spearman.get("mean").asDouble(), 1e-12);
        }
        assertEquals(0, grpo.get("health").get(MetricNames.PROBE_SPEARMAN).get("n").asInt(), "GRPO has no p̂");

        String html = Files.readString(compareDir.resolve("report.html"));
        assertTrue(html.contains("<h1>Comparison smoke</h1>"));
        assertTrue(html.contains("Where PACED-RL stands") && html.contains("Headline: PACED-RL "));
        // One seed: the paired table is there, and the verdict says an interval needs two.
        assertTrue(html.contains("Against the best baseline, with 95 % intervals"), html);
        assertTrue(run.out().contains("a paired interval needs at least two, so nothing is demonstrated"), run.out());
        assertTrue(html.contains(json.get("commit").asText()));
        List<String> plots = new ArrayList<>(List.of("held-out.png", "pass-at-k.png", "signal.png", "beta-kl.png", "cost.png"));
        if (count > 0) {
            plots.add("spearman.png");
        }
        assertEquals(plots.size() + 1, html.split("data:image/png;base64,").length, "the plots are embedded");
        for (String plot : plots) {
            assertTrue(Files.size(compareDir.resolve(plot)) > 1000, plot);
        }

        // Started again with the same id, the finished runs are kept and the results are the same.
        CommandRun again = CommandRun.of(tiny("smoke"));
        assertEquals(0, again.exitCode(), again.out() + again.err());
        assertTrue(again.out().contains("[1/2] grpo seed 1: finished earlier, kept"), again.out());
        assertTrue(again.out().contains("[2/2] paced seed 1: finished earlier, kept"), again.out());
        assertEquals(results, JSON.readTree(compareDir.resolve("results.json").toFile()).get("results"));
    }

    /**
     * Every method runs the same sweep (two learning rates, on 32 rollouts, with a seed of its own)
     * and then the comparison with the rate that gave it the higher mean held-out pass@1.
     */
    @Test
    void theSameSweepTunesEveryMethodBeforeTheComparison() throws Exception {
        CommandRun run = CommandRun.of(tiny("tuned", "--sweep", "policy-learning-rate=1e-4,3e-4", "--sweep-budget", "32",
                "--rollout-budget", "32"));
        assertEquals(0, run.exitCode(), run.out() + run.err());
        assertTrue(run.out().contains("first a sweep of policy-learning-rate over [1e-4, 3e-4], 4 runs of 32 rollouts (seed 1000)"),
                run.out());
        assertTrue(run.out().contains("[1/6] grpo sweep policy-learning-rate 1e-4: held-out pass@1 "), run.out());
        assertTrue(run.out().contains("[6/6] paced seed 1: held-out pass@1 "), run.out());
        JsonNode json = JSON.readTree(dir.resolve("tuned").resolve("results.json").toFile());
        assertEquals(2, json.get("tuning").size());
        for (JsonNode choice : json.get("tuning")) {
            String method = choice.get("method").asText();
            JsonNode scores = choice.get("scores");
            String best = scores.get("1e-4").asDouble() >= scores.get("3e-4").asDouble() ? "1e-4" : "3e-4";
            assertEquals(best, choice.get("chosen").asText(), choice.toString());
            assertTrue(run.out().contains("sweep      " + method + ": mean held-out pass@1 over 32 rollouts by policy-learning-rate:"),
                    run.out());
            JsonNode row = null;
            for (JsonNode r : json.get("runs")) {
                if (r.get("method").asText().equals(method)) {
                    row = r;
                }
            }
            assertEquals(Double.parseDouble(best), row.get("config").get("policy-learning-rate").asDouble(), 1e-12,
                    method + " ran the comparison with the rate its sweep chose");
            assertEquals(1, row.get("seed").asLong(), "the comparison's seeds are not the sweep's");
        }
        assertTrue(Files.readString(dir.resolve("tuned").resolve("report.html")).contains("<h2>Tuning</h2>"));
        assertTrue(Files.isRegularFile(dir.resolve("tuned").resolve("sweep").resolve("paced-3e-4").resolve("metrics.json")));
    }

    @Test
    void aFailedRunIsReportedAndTheOthersGoOn() throws Exception {
        System.setProperty(CompareCommand.FAIL_METHOD, "grpo");
        CommandRun run;
        try {
            run = CommandRun.of(tiny("failing"));
        } finally {
            System.clearProperty(CompareCommand.FAIL_METHOD);
        }
        assertEquals(1, run.exitCode(), "a comparison with a failed run exits with 1: " + run.out() + run.err());
        assertTrue(run.out().contains("[1/2] grpo seed 1: FAILED: fault injected"), run.out() + run.err());
        assertTrue(run.out().contains("[2/2] paced seed 1: held-out pass@1 "), run.out() + run.err());
        JsonNode json = JSON.readTree(dir.resolve("failing").resolve("results.json").toFile());
        assertTrue(json.get("runs").get(0).get("status").asText().startsWith("failed: fault injected"));
        assertEquals("done", json.get("runs").get(1).get("status").asText());
        assertEquals(1, json.get("results").get("methods").get(0).get("failed").asInt());
        assertEquals(1, json.get("results").get("methods").get(1).get("seeds").asInt());
        assertTrue(Files.readString(dir.resolve("failing").resolve("grpo-seed1").resolve("error.txt")).contains("fault injected"));
        assertTrue(Files.readString(dir.resolve("failing").resolve("report.html")).contains("failed: fault injected"));
    }

    @Test
    void badOptionsStopItBeforeAnythingRunsNamingTheOption() throws Exception {
        List<List<String>> cases = List.of(List.of("--methods", "grpo,sarsa", "--methods: unknown method 'sarsa'"),
                List.of("--seeds", "0", "--seeds must be ≥ 1"), List.of("--rollout-budget", "0", "--rollout-budget must be ≥ 1"),
                List.of("--method", "paced", "--method: a comparison runs the methods of --methods"),
                List.of("--id", "a b", "--id: topic prefix 'a b' is not allowed"),
                List.of("--set", "tau=2", "tau must be in [0.0, 1.0], got 2.0"),
                List.of("--sweep", "learning-rate=1e-4", "--sweep: unknown training key 'learning-rate'"),
                List.of("--sweep", "policy-learning-rate", "--sweep: a sweep is KEY=V1,V2,…, got 'policy-learning-rate'"));
        for (List<String> c : cases) {
            CommandRun run = CommandRun.of("compare", c.get(0), c.get(1), "--run-dir", dir.resolve("bad").toString());
            assertEquals(2, run.exitCode(), c + ": " + run.out() + run.err());
            assertTrue(run.err().contains(c.get(2)), c + ": " + run.err());
        }
        assertFalse(Files.exists(dir.resolve("bad")), "nothing was started");
    }

    private static List<Double> doubles(JsonNode array) {
        List<Double> values = new ArrayList<>();
        array.forEach(v -> values.add(v.asDouble()));
        return values;
    }
}
