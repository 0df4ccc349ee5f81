package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pacedrl.learning.Method;
import io.pacedrl.learning.TrainingConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The comparison's arithmetic on made-up runs whose answers are known. */
class ComparisonTest {

    @Test
    void statsAreTheMeanAndSampleSpreadOfTheFiniteValues() {
        Comparison.Stat stat = Comparison.Stat.of(List.of(1.0, 3.0, Double.NaN));
        assertEquals(2.0, stat.mean(), 1e-12);
        assertEquals(Math.sqrt(2), stat.spread(), 1e-12);
        assertEquals(2, stat.n());
        assertEquals(0.0, Comparison.Stat.of(List.of(5.0)).spread());
        assertEquals(0, Comparison.Stat.of(List.of(Double.NaN)).n());
    }

    @Test
    void curvesInterpolateBetweenMeasuredPointsOnly() {
        TreeMap<Double, Double> points = new TreeMap<>(Map.of(0.0, 0.1, 100.0, 0.3));
        assertEquals(0.2, Comparison.interpolate(points, 50), 1e-12);
        assertEquals(0.3, Comparison.interpolate(points, 100), 1e-12);
        assertTrue(Double.isNaN(Comparison.interpolate(points, 101)));
    }

    @Test
    void theHeadlineIsRolloutsToTheBestBaselinesFinalAccuracyAsARatio() {
        List<Comparison.Run> runs = new ArrayList<>();
        // GRPO climbs 0.1 → 0.2 over the budget of 100; dynamic sampling to 0.15; PACED-RL reaches 0.3 by 50 rollouts
        // (so 0.2 at 25), but ends with a lower pass@4. Two seeds each, ±0.01 apart at the end.
        for (long seed = 1; seed <= 2; seed++) {
            double jitter = seed == 1 ? -0.01 : 0.01;
            runs.add(run(Method.GRPO, seed, Map.of(0.0, 0.1, 100.0, 0.2 + jitter), 0.6));
            runs.add(run(Method.DYNAMIC_SAMPLING, seed, Map.of(0.0, 0.1, 100.0, 0.15 + jitter), 0.5));
            runs.add(run(Method.PACED, seed, Map.of(0.0, 0.1, 50.0, 0.3 + jitter, 100.0, 0.3 + jitter), 0.4));
        }
        runs.add(new Comparison.Run(Method.PACED, 3, "failed", "dir", "broker gone", null));

        Comparison.Results results = Comparison.summarize(runs, List.of(Method.GRPO, Method.DYNAMIC_SAMPLING, Method.PACED), 100, 50);
        assertEquals("grpo", results.bestBaseline());
        assertEquals(0.2, results.target(), 1e-12);
        Comparison.MethodResult grpo = results.methods().get(0);
        Comparison.MethodResult ds = results.methods().get(1);
        Comparison.MethodResult paced = results.methods().get(2);
        // CPU: the stream 0.9 s and its scheduler task (scheduling + replay) 0.2 s of 19.9 s used.
        assertEquals(0.9 / 19.9, paced.cost().streamShare().mean(), 1e-12);
        assertEquals(0.2 / 19.9, paced.cost().schedulingShare().mean(), 1e-12);
        assertEquals(List.of(0.0, 50.0, 100.0), grpo.accuracy().rollouts());
        assertEquals(0.15, grpo.accuracy().values().get(1).mean(), 1e-12);
        assertEquals(100, grpo.rolloutsToTarget(), 1e-9);
        assertEquals(1.0, grpo.ratioToBest(), 1e-12);
        assertTrue(Double.isNaN(ds.rolloutsToTarget()), "dynamic sampling never gets there");
        assertEquals(25, paced.rolloutsToTarget(), 1e-9);
        assertEquals(0.25, paced.ratioToBest(), 1e-12);
        assertEquals(2, paced.seeds());
        assertEquals(1, paced.failed());
        assertEquals(0.4, paced.finalEvaluation().get("pass@4").mean(), 1e-12);

        List<String> verdicts = results.verdicts();
        assertTrue(verdicts.get(0).startsWith("Headline: PACED-RL reached the best baseline's (grpo) final held-out pass@1 of 0.200 "
                + "after 25 rollouts, 0.25× the rollouts grpo needed."), verdicts.get(0));
        assertTrue(verdicts.contains("Does not win on pass@4 at the end: PACED-RL 0.400 ± 0.000 vs grpo 0.600 ± 0.000."), verdicts.toString());
        assertTrue(verdicts.stream().anyMatch(v -> v.startsWith("Ahead on final held-out pass@1 by more than the spread over seeds")),
                verdicts.toString());
        assertTrue(verdicts.contains("paced: 1 run(s) failed and are left out of its figures."), verdicts.toString());
    }

    @Test
    void aLeadWithinTheSeedsSpreadIsNotCalledAWin() {
        List<Comparison.Run> runs = new ArrayList<>();
        for (long seed = 1; seed <= 2; seed++) {
            double jitter = seed == 1 ? -0.05 : 0.05;
            runs.add(run(Method.GRPO, seed, Map.of(0.0, 0.1, 100.0, 0.20 + jitter), 0.5));
            runs.add(run(Method.PACED, seed, Map.of(0.0, 0.1, 100.0, 0.21 + jitter), 0.5));
        }
        List<String> verdicts = Comparison.summarize(runs, List.of(Method.GRPO, Method.PACED), 100, 50).verdicts();
        assertTrue(verdicts.stream().anyMatch(v -> v.startsWith("Ahead on final held-out pass@1, but by no more than the spread")),
                verdicts.toString());
    }

    /**
     * Five paired seeds: PACED-RL reaches GRPO's final pass@1 in half the rollouts on every seed, so
     * the ratio's interval lies below 1 and the win is called demonstrated; its final pass@1 is
     * GRPO's give or take a seed-dependent amount that changes sign, so that is not.
     */
    @Test
    void pairedIntervalsCallAWinDemonstratedOnlyWhereTheyExcludeParity() {
        List<Comparison.Run> runs = new ArrayList<>();
        double[] level = {0.18, 0.20, 0.22, 0.19, 0.21};
        double[] offset = {0.01, -0.01, 0.02, -0.02, 0.005};
        for (int i = 0; i < level.length; i++) {
            long seed = i + 1;
            runs.add(run(Method.GRPO, seed, Map.of(0.0, 0.1, 100.0, level[i]), 0.5));
            runs.add(run(Method.PACED, seed, Map.of(0.0, 0.1, 50.0, level[i], 100.0, level[i] + offset[i]), 0.5));
        }
        Comparison.Results results = Comparison.summarize(runs, List.of(Method.GRPO, Method.PACED), 100, 25);
        Comparison.Paired paired = results.paired().get(0);
        assertEquals("paced", paired.method());
        assertEquals("grpo", paired.against());
        assertEquals(5, paired.seeds());
        PairedBootstrap.Interval ratio = paired.intervals().get(Comparison.ROLLOUTS_RATIO);
        assertEquals(0.5, ratio.estimate(), 0.02);
        assertTrue(ratio.high() < 1, ratio.toString());
        PairedBootstrap.Interval finalPass = paired.intervals().get("pass@1");
        assertTrue(finalPass.low() < 0 && finalPass.high() > 0, finalPass.toString());
        assertTrue(paired.intervals().get(Comparison.AUC_DIFFERENCE).low() > 0, "ahead all the way: " + paired);
        // By family and level: aggregate/1 carries the final pass@1, arith/1 is the same for both.
        assertEquals(finalPass, paired.byLevel().get("aggregate/1"));
        assertEquals(0.0, paired.byLevel().get("arith/1").high(), 1e-12);
        assertEquals(List.of("aggregate/1", "arith/1"), List.copyOf(results.methods().get(1).byLevel().keySet()));
        assertEquals(0.1, results.methods().get(1).byLevel().get("arith/1").mean(), 1e-12);
        List<String> verdicts = results.verdicts();
        assertTrue(verdicts.stream().anyMatch(v -> v.startsWith("Rollouts to reach grpo's final pass@1, as a ratio: 0.5")
                && v.endsWith("over 5 paired seeds: fewer rollouts, demonstrated.")), verdicts.toString());
        assertTrue(verdicts.stream().anyMatch(v -> v.startsWith("Final pass@1, paced − grpo: ")
                && v.endsWith("not demonstrated either way (the interval includes 0).")), verdicts.toString());
    }

    /** The sweep picks each method's value by its mean pass@1 over the budget; a failed run scores nothing; ties go to the first. */
    @Test
    void theSweepChoosesTheValueWithTheBestMeanAccuracyOverTheBudget() {
        Sweep sweep = Sweep.parse("policy-learning-rate=1e-4,2e-4,3e-4", 100, 1000, TrainingConfig.defaults());
        Map<Method, Map<String, Comparison.Run>> runs = new LinkedHashMap<>();
        // grpo: 2e-4 ends lower than 3e-4 but is ahead over most of the budget (mean 0.175 against 0.15).
        runs.put(Method.GRPO, Map.of("1e-4", run(Method.GRPO, 1000, Map.of(0.0, 0.1, 100.0, 0.1), 0.5),
                "2e-4", run(Method.GRPO, 1000, Map.of(0.0, 0.1, 50.0, 0.25, 100.0, 0.1), 0.5),
                "3e-4", run(Method.GRPO, 1000, Map.of(0.0, 0.1, 100.0, 0.2), 0.5)));
        // paced: 1e-4 failed; 2e-4 and 3e-4 tie.
        runs.put(Method.PACED, Map.of("1e-4", new Comparison.Run(Method.PACED, 1000, "x", "dir", "broker gone", null),
                "2e-4", run(Method.PACED, 1000, Map.of(0.0, 0.1, 100.0, 0.2), 0.5),
                "3e-4", run(Method.PACED, 1000, Map.of(0.0, 0.1, 100.0, 0.2), 0.5)));
        List<Sweep.Choice> choices = sweep.choose(runs);
        assertEquals("2e-4", choices.get(0).chosen());
        assertEquals(0.175, choices.get(0).scores().get("2e-4"), 1e-12);
        assertEquals("2e-4", choices.get(1).chosen());
        assertTrue(Double.isNaN(choices.get(1).scores().get("1e-4")));
    }

    @Test
    void theBootstrapIsSeededAndBracketsTheMean() {
        double[] values = {1, 2, 3, 4, 5, 6, 7, 8};
        PairedBootstrap.Interval interval = PairedBootstrap.interval(values.length, s -> PairedBootstrap.meanOf(values, s), 9);
        assertEquals(4.5, interval.estimate(), 1e-12);
        // The mean of eight values with a standard deviation of 2.45: a standard error of 0.87 either side.
        assertTrue(interval.low() > 2.5 && interval.low() < 3.5 && interval.high() > 5.5 && interval.high() < 6.5, interval.toString());
        assertEquals(interval, PairedBootstrap.interval(values.length, s -> PairedBootstrap.meanOf(values, s), 9));
        PairedBootstrap.Interval constant = PairedBootstrap.interval(3, s -> 2.0, 1);
        assertEquals(2.0, constant.low());
        assertEquals(2.0, constant.high());
        assertTrue(!constant.excludes(2.0) && constant.excludes(1.0));
    }

    /** A comparison resumes from runs' metrics.json, including those written before dead letters were counted by topic. */
    @Test
    void aRunsRecordReadsBackAndSoDoesAnOlderOne() throws Exception {
        ObjectMapper json = new ObjectMapper();
        TrainingRun.Result result = run(Method.PACED, 1, Map.of(0.0, 0.1, 100.0, 0.2), 0.3).result();
        assertEquals(result, json.readValue(json.writeValueAsString(result), TrainingRun.Result.class));
        ObjectNode older = (ObjectNode) json.valueToTree(result);
        older.put("deadLetters", 3);
        older.remove("restarts");
        TrainingRun.Result read = json.treeToValue(older, TrainingRun.Result.class);
        assertEquals(3, read.deadLetters().letters());
        assertEquals(List.of(), read.restarts());
    }

    /** A finished run with these held-out points (rollouts → pass@1), one update per 10 rollouts, and this final pass@4. */
    private static Comparison.Run run(Method method, long seed, Map<Double, Double> heldOut, double passAt4) {
        TrainingConfig config = TrainingConfig.defaults().with(Map.of("method", method.key(), "seed", seed));
        List<Map<String, Object>> evaluations = new ArrayList<>();
        new TreeMap<>(heldOut).forEach((x, y) -> evaluations.add(Map.of("rollouts-consumed", x, "pass@1", y, "version", x / 10)));
        List<Map<String, Object>> metrics = new ArrayList<>();
        for (int v = 1; v <= 10; v++) {
            metrics.add(Map.of("version", (double) v, "rollouts-consumed", 10.0 * v, "beta-kl", 0.001, "informative-share", 0.5,
                    "seconds-compute", 0.5 * v));
        }
        // The final evaluation's pass@1 is the curve's last point.
        Map<String, Object> last = new LinkedHashMap<>(Map.of("pass@1", new TreeMap<>(heldOut).lastEntry().getValue(), "pass@2", 0.3, "pass@4", passAt4, "avg@k", 0.2,
                "distinct-correct-countdown", 1.0, "distinct-correct", 1.2, "level-pass@1:aggregate/1",
                new TreeMap<>(heldOut).lastEntry().getValue(), "level-pass@1:arith/1", 0.1));
        Map<String, Double> cpu = Map.of("generator", 9.0, "reward-service", 1.0, "learner", 9.0, "difficulty-stream", 0.9);
        TrainingRun.Result result = new TrainingRun.Result(method.key() + seed, false, config, 10, metrics, evaluations, last, 9, 90, 1,
                cpu, 0.2, 100, new DeadLetterCounts(0, 0, 0, Map.of()), 2, "abc", List.of());
        return new Comparison.Run(method, seed, method.key() + seed, "dir", null, result);
    }
}
