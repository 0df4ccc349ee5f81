package io.pacedrl.runner;

import io.pacedrl.learning.Method;
import io.pacedrl.learning.MetricNames;
import io.pacedrl.learning.TrainingConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The same small tuning sweep for every method before a comparison: one training key, a few values,
 * one run of each method with each value on a smaller budget and a seed of its own (not one of the
 * comparison's, so the tuning does not select on the seeds it is then judged on). Each method then
 * runs with the value that gave it the highest mean held-out pass@1 over the sweep's budget (the
 * area under its curve against rollouts): no method gets more tuning than another. Plain logic;
 * {@link CompareCommand} runs the plans.
 *
 * @param key    the training key swept (default {@code policy-learning-rate})
 * @param values its values, as given
 * @param budget rollouts per sweep run
 * @param seed   the sweep's seed
 */
record Sweep(String key, List<String> values, long budget, long seed) {

    /** What the sweep found for one method: each value's score (NaN for a failed run) and the value chosen. */
    record Choice(String method, Map<String, Double> scores, String chosen) {}

    Sweep {
        if (values.isEmpty()) {
            throw new IllegalArgumentException("a sweep needs at least one value of " + key);
        }
        values = List.copyOf(values);
    }

    /**
     * {@code KEY=V1,V2,…}; every value is checked against the configuration now, so a bad key or value
     * fails before any run.
     */
    static Sweep parse(String spec, long budget, long seed, TrainingConfig base) {
        int equals = spec.indexOf('=');
        if (equals <= 0 || equals == spec.length() - 1) {
            throw new IllegalArgumentException("a sweep is KEY=V1,V2,…, got '" + spec + "'");
        }
        String key = spec.substring(0, equals).trim();
        List<String> values = new ArrayList<>();
        for (String value : spec.substring(equals + 1).split(",")) {
            base.with(Map.of(key, value.trim()));
            values.add(value.trim());
        }
        return new Sweep(key, values, budget, seed);
    }

    /** The configuration of {@code method}'s sweep run with {@code value}. */
    TrainingConfig config(TrainingConfig base, Method method, String value, int steps) {
        return base.with(Map.of("method", method.key(), "seed", seed, key, value, "rollout-budget", budget, "steps", steps));
    }

    /**
     * The value each method runs the comparison with: the best mean held-out pass@1 over the budget
     * among its sweep runs that finished (the first value on ties; the first value, said so, if none did).
     *
     * @param runs each method's sweep runs, by value
     */
    List<Choice> choose(Map<Method, Map<String, Comparison.Run>> runs) {
        List<Choice> choices = new ArrayList<>();
        runs.forEach((method, byValue) -> {
            Map<String, Double> scores = new LinkedHashMap<>();
            String best = null;
            for (String value : values) {
                Comparison.Run run = byValue.get(value);
                double score = run == null || !run.done() ? Double.NaN : score(run.result());
                scores.put(value, score);
                if (Double.isFinite(score) && (best == null || score > scores.get(best))) {
                    best = value;
                }
            }
            choices.add(new Choice(method.key(), scores, best == null ? values.get(0) : best));
        });
        return choices;
    }

    /** Mean held-out pass@1 over the run's budget: the area under its curve against rollouts, over the span measured. */
    static double score(TrainingRun.Result result) {
        List<Double> x = new ArrayList<>();
        List<Double> y = new ArrayList<>();
        for (Map<String, Object> row : result.evaluations()) {
            double rollouts = Comparison.number(row.get(MetricNames.ROLLOUTS_CONSUMED));
            double pass = Comparison.number(row.get(MetricNames.PASS_AT_1));
            if (Double.isFinite(rollouts) && Double.isFinite(pass)) {
                x.add(rollouts);
                y.add(pass);
            }
        }
        return Comparison.meanOverBudget(x, y.stream().mapToDouble(Double::doubleValue).toArray());
    }
}
