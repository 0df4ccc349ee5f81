package io.pacedrl.runner;

import io.pacedrl.learning.Method;
import io.pacedrl.learning.MetricNames;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * What a comparison of methods at equal rollout budgets found, from its runs' records (no Kafka
 * here): each method's held-out accuracy against rollouts consumed (mean and spread over seeds),
 * its final pass@k and diversity, the headline (rollouts each method needed to reach the best
 * baseline's final accuracy, as a ratio to that baseline), estimator health, cost per update, and
 * in plain words where PACED-RL does not win.
 */
final class Comparison {
    /** The methods PACED-RL is measured against; the PACED-RL ablations are not baselines. */
    static final List<Method> BASELINES = List.of(Method.GRPO, Method.FLOWRL, Method.DYNAMIC_SAMPLING);
    /** The estimator's figures on the probe prompts that the health table averages (after the estimator's warm-up). */
    static final List<String> PROBE_HEALTH = List.of(MetricNames.PROBE_SPEARMAN, MetricNames.PROBE_SPEARMAN_UNSCHEDULED,
            MetricNames.PROBE_HIGHEST_SPEARMAN_UNSCHEDULED, MetricNames.PROBE_SPEARMAN_HELD_OUT, MetricNames.PROBE_CALIBRATION_ERROR,
            MetricNames.PROBE_CALIBRATION_ERROR_UNSCHEDULED, MetricNames.PROBE_CALIBRATION_ERROR_HELD_OUT,
            MetricNames.PROBE_SPEARMAN_BY_LEVEL, MetricNames.PROBE_SPEARMAN_BY_LEVEL_UNSCHEDULED, MetricNames.PROBE_SPEARMAN_BY_LEVEL_HELD_OUT);

    private Comparison() {}

    /** One run of the comparison: its result, or the error that stopped it. */
    record Run(Method method, long seed, String runId, String directory, String error, TrainingRun.Result result) {
        boolean done() {
            return result != null;
        }
    }

    /** A mean over seeds and its spread (sample standard deviation; 0 for one seed), from n seeds. */
    record Stat(double mean, double spread, int n) {
        static Stat of(List<Double> values) {
            List<Double> finite = values.stream().filter(Double::isFinite).toList();
            if (finite.isEmpty()) {
                return new Stat(Double.NaN, Double.NaN, 0);
            }
            double mean = finite.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
            double squares = finite.stream().mapToDouble(v -> (v - mean) * (v - mean)).sum();
            return new Stat(mean, finite.size() > 1 ? Math.sqrt(squares / (finite.size() - 1)) : 0, finite.size());
        }
    }

    /** A curve over rollouts consumed: at each grid point, the mean and spread over the seeds that reached it. */
    record Curve(List<Double> rollouts, List<Stat> values) {
        Stat last() {
            for (int i = values.size() - 1; i >= 0; i--) {
                if (values.get(i).n() > 0) {
                    return values.get(i);
                }
            }
            return new Stat(Double.NaN, Double.NaN, 0);
        }
    }

    /**
     * Where an update's time goes, per update and mean over seeds. CPU seconds by part of the
     * pipeline over the steady window (generation: the generators; scoring: the reward service;
     * update: the learner and its publisher; difficulty stream: every prompt's accuracy from every
     * rollout, scheduling and replay, and its commits; other: the broker, registry and the rest), the
     * wall seconds per update, the learner's own split of its step time, the difficulty stream as a
     * share of all CPU time and, within it, scheduling + replay: its scheduler task (scoring, selection,
     * replay draws; over the whole run, against the window's CPU: a slight overestimate). Wall
     * seconds per 1,000 rollouts compare methods at equal budgets (a dynamic-sampling update
     * consumes many more rollouts than the others').
     */
    record Cost(Stat wallSecondsPerUpdate, Stat wallSecondsPerThousandRollouts, Map<String, Stat> cpuSecondsPerUpdate,
            Stat streamShare, Stat schedulingShare, Map<String, Stat> learnerSecondsPerUpdate) {}

    /**
     * One method over its seeds.
     *
     * @param accuracy        held-out pass@1 against rollouts consumed
     * @param finalAccuracy   the curve's last point: held-out pass@1 when the budget is spent
     * @param finalEvaluation the final evaluation's pass@k, avg@k and distinct correct answers
     * @param rolloutsToTarget rollouts the seed-mean curve needed to reach the target (linear between
     *                        evaluations), NaN if it never did
     * @param ratioToBest     rolloutsToTarget over the best baseline's
     * @param spearman        probe Spearman(p̂, observed accuracy) against rollouts (methods with p̂)
     * @param informative     share of groups with 0 &lt; correct &lt; G, per update, in the grid's intervals
     * @param betaKl          β·KL(π_old ‖ π_θ) per update, in the grid's intervals
     * @param health          means over training: probe Spearman (from estimator-warmup-steps on),
     *                        β·KL and informative share per update
     * @param byLevel         final held-out pass@1 per task family and level ("aggregate/2")
     */
    record MethodResult(String method, int seeds, int failed, Curve accuracy, Stat finalAccuracy,
            Map<String, Stat> finalEvaluation, double rolloutsToTarget, double ratioToBest, Curve spearman,
            Curve informative, Curve betaKl, Map<String, Stat> health, Cost cost, Map<String, Stat> byLevel) {}

    /**
     * A method against the best baseline on the seeds both finished, each figure with its paired
     * bootstrap interval: {@link #ROLLOUTS_RATIO} (parity 1), {@link #AUC_DIFFERENCE} and the final
     * pass@k differences (parity 0).
     */
    record Paired(String method, String against, int seeds, Map<String, PairedBootstrap.Interval> intervals,
            Map<String, PairedBootstrap.Interval> byLevel) {}

    /** Rollouts the method needed to reach the baseline's final held-out pass@1, over the baseline's own. */
    static final String ROLLOUTS_RATIO = "rollouts-ratio";
    /** Mean held-out pass@1 over the budget (the area under the curve against rollouts, over the budget): method − baseline. */
    static final String AUC_DIFFERENCE = "auc-difference";

    /** The whole comparison: per method, the headline's target, the paired intervals, and the plain statements. */
    record Results(long rolloutBudget, String bestBaseline, double target, List<MethodResult> methods, List<Paired> paired,
            List<String> verdicts) {}

    /**
     * @param runs         every run, done or failed
     * @param methods      the methods in the order to report them
     * @param rolloutBudget the budget every run had
     * @param gridStep     rollouts between the grid points curves are put on
     */
    static Results summarize(List<Run> runs, List<Method> methods, long rolloutBudget, double gridStep) {
        List<Double> grid = new ArrayList<>();
        for (double x = 0; x < rolloutBudget; x += gridStep) {
            grid.add(x);
        }
        grid.add((double) rolloutBudget);

        List<MethodResult> results = new ArrayList<>();
        for (Method method : methods) {
            List<TrainingRun.Result> done = runs.stream().filter(r -> r.method() == method && r.done()).map(Run::result).toList();
            int failed = (int) runs.stream().filter(r -> r.method() == method && !r.done()).count();
            Curve accuracy = curve(grid, done, r -> r.evaluations(), MetricNames.PASS_AT_1);
            Curve spearman = method.estimatesAccuracy() ? curve(grid, done, r -> r.evaluations(), MetricNames.PROBE_SPEARMAN)
                    : new Curve(grid, grid.stream().map(x -> Stat.of(List.of())).toList());
            Map<String, Stat> finals = new LinkedHashMap<>();
            for (String key : finalKeys(done)) {
                finals.put(key, Stat.of(done.stream().map(r -> number(r.finalEvaluation().get(key))).toList()));
            }
            Map<String, Stat> health = new LinkedHashMap<>();
            for (String probe : PROBE_HEALTH) {
                health.put(probe, method.estimatesAccuracy() ? Stat.of(done.stream().map(r -> mean(r.evaluations().stream()
                        .filter(e -> number(e.get("version")) >= r.config().estimatorWarmupSteps()).toList(), probe)).toList())
                        : Stat.of(List.of()));
            }
            health.put(MetricNames.BETA_KL, Stat.of(done.stream().map(r -> mean(r.metrics(), MetricNames.BETA_KL)).toList()));
            health.put(MetricNames.INFORMATIVE_SHARE, Stat.of(done.stream().map(r -> mean(r.metrics(), MetricNames.INFORMATIVE_SHARE)).toList()));
            Map<String, Stat> byLevel = new LinkedHashMap<>();
            for (String key : levelKeys(done)) {
                byLevel.put(key.substring(MetricNames.LEVEL_PASS_AT_1_PREFIX.length()),
                        Stat.of(done.stream().map(r -> number(r.finalEvaluation().get(key))).toList()));
            }
            results.add(new MethodResult(method.key(), done.size(), failed, accuracy, accuracy.last(), finals, Double.NaN, Double.NaN,
                    spearman, binned(grid, done, MetricNames.INFORMATIVE_SHARE), binned(grid, done, MetricNames.BETA_KL), health, cost(done),
                    byLevel));
        }

        // The headline: the best baseline by final accuracy sets the target.
        MethodResult best = results.stream().filter(r -> BASELINES.contains(Method.of(r.method())) && r.finalAccuracy().n() > 0)
                .max((a, b) -> Double.compare(a.finalAccuracy().mean(), b.finalAccuracy().mean())).orElse(null);
        double target = best == null ? Double.NaN : best.finalAccuracy().mean();
        double bestRollouts = best == null ? Double.NaN : firstReach(best.accuracy(), target);
        List<MethodResult> headlined = results.stream().map(r -> {
            double reach = firstReach(r.accuracy(), target);
            return new MethodResult(r.method(), r.seeds(), r.failed(), r.accuracy(), r.finalAccuracy(), r.finalEvaluation(), reach,
                    bestRollouts > 0 ? reach / bestRollouts : Double.NaN, r.spearman(), r.informative(), r.betaKl(), r.health(),
                    r.cost(), r.byLevel());
        }).toList();
        List<Paired> paired = best == null ? List.of() : methods.stream().filter(m -> !m.key().equals(best.method()))
                .map(m -> paired(runs, grid, m, Method.of(best.method()))).toList();
        return new Results(rolloutBudget, best == null ? null : best.method(), target, headlined, paired,
                verdicts(headlined, paired, best == null ? null : best.method(), target));
    }

    /** {@code method} against {@code baseline} on the seeds both finished, with paired bootstrap intervals. */
    static Paired paired(List<Run> runs, List<Double> grid, Method method, Method baseline) {
        Map<Long, TrainingRun.Result> mine = bySeed(runs, method);
        Map<Long, TrainingRun.Result> theirs = bySeed(runs, baseline);
        List<Long> seeds = mine.keySet().stream().filter(theirs::containsKey).sorted().toList();
        double[][] ours = seeds.stream().map(s -> runCurve(grid, mine.get(s), MetricNames.PASS_AT_1)).toArray(double[][]::new);
        double[][] rival = seeds.stream().map(s -> runCurve(grid, theirs.get(s), MetricNames.PASS_AT_1)).toArray(double[][]::new);
        double[] rivalFinal = Arrays.stream(rival).mapToDouble(Comparison::lastFinite).toArray();
        Map<String, PairedBootstrap.Interval> intervals = new LinkedHashMap<>();
        intervals.put(ROLLOUTS_RATIO, PairedBootstrap.interval(seeds.size(), sample -> {
            double target = PairedBootstrap.meanOf(rivalFinal, sample);
            double theirReach = firstReach(grid, meanCurve(rival, sample), target);
            double ourReach = firstReach(grid, meanCurve(ours, sample), target);
            if (!(theirReach > 0)) {
                return Double.NaN; // the baseline started at its final accuracy: no ratio
            }
            return Double.isNaN(ourReach) ? Double.POSITIVE_INFINITY : ourReach / theirReach;
        }, 101));
        double[] auc = new double[seeds.size()];
        for (int i = 0; i < auc.length; i++) {
            auc[i] = meanOverBudget(grid, ours[i]) - meanOverBudget(grid, rival[i]);
        }
        intervals.put(AUC_DIFFERENCE, PairedBootstrap.interval(seeds.size(), sample -> PairedBootstrap.meanOf(auc, sample), 102));
        List<TrainingRun.Result> paired = seeds.stream().map(mine::get).toList();
        for (String key : finalKeys(paired).stream().filter(k -> k.startsWith(MetricNames.PASS_AT_PREFIX)).toList()) {
            intervals.put(key, finalDifference(seeds, mine, theirs, key));
        }
        Map<String, PairedBootstrap.Interval> byLevel = new LinkedHashMap<>();
        for (String key : levelKeys(paired)) {
            byLevel.put(key.substring(MetricNames.LEVEL_PASS_AT_1_PREFIX.length()), finalDifference(seeds, mine, theirs, key));
        }
        return new Paired(method.key(), baseline.key(), seeds.size(), intervals, byLevel);
    }

    /** The paired interval of a final evaluation figure's difference, method − baseline. */
    private static PairedBootstrap.Interval finalDifference(List<Long> seeds, Map<Long, TrainingRun.Result> mine,
            Map<Long, TrainingRun.Result> theirs, String key) {
        double[] difference = seeds.stream().mapToDouble(s -> number(mine.get(s).finalEvaluation().get(key))
                - number(theirs.get(s).finalEvaluation().get(key))).toArray();
        return PairedBootstrap.interval(seeds.size(), sample -> PairedBootstrap.meanOf(difference, sample), 103);
    }

    /** The final evaluation's per family and level keys, sorted. */
    private static List<String> levelKeys(List<TrainingRun.Result> runs) {
        return runs.stream().flatMap(r -> r.finalEvaluation().keySet().stream())
                .filter(k -> k.startsWith(MetricNames.LEVEL_PASS_AT_1_PREFIX)).distinct().sorted().toList();
    }

    private static Map<Long, TrainingRun.Result> bySeed(List<Run> runs, Method method) {
        Map<Long, TrainingRun.Result> out = new TreeMap<>();
        runs.stream().filter(r -> r.method() == method && r.done()).forEach(r -> out.put(r.seed(), r.result()));
        return out;
    }

    /** The mean over the given runs of their curves, point by point (over the runs with a value there). */
    private static double[] meanCurve(double[][] curves, int[] sample) {
        double[] mean = new double[curves[0].length];
        for (int x = 0; x < mean.length; x++) {
            double sum = 0;
            int n = 0;
            for (int i : sample) {
                if (Double.isFinite(curves[i][x])) {
                    sum += curves[i][x];
                    n++;
                }
            }
            mean[x] = n == 0 ? Double.NaN : sum / n;
        }
        return mean;
    }

    /** The area under a curve against rollouts over the span it covers, divided by that span: its mean over the budget. */
    static double meanOverBudget(List<Double> grid, double[] curve) {
        double area = 0;
        double first = Double.NaN;
        double last = Double.NaN;
        for (int i = 0; i + 1 < curve.length; i++) {
            if (Double.isFinite(curve[i]) && Double.isFinite(curve[i + 1])) {
                area += (grid.get(i + 1) - grid.get(i)) * (curve[i] + curve[i + 1]) / 2;
                first = Double.isNaN(first) ? grid.get(i) : first;
                last = grid.get(i + 1);
            }
        }
        return last > first ? area / (last - first) : Double.NaN;
    }

    private static double lastFinite(double[] curve) {
        for (int i = curve.length - 1; i >= 0; i--) {
            if (Double.isFinite(curve[i])) {
                return curve[i];
            }
        }
        return Double.NaN;
    }

    /** Each run's values of {@code key} in {@code rows} put on the grid by linear interpolation, then mean and spread over runs. */
    private static Curve curve(List<Double> grid, List<TrainingRun.Result> runs,
            Function<TrainingRun.Result, List<Map<String, Object>>> rows, String key) {
        List<List<Double>> perRun = new ArrayList<>();
        for (TrainingRun.Result run : runs) {
            perRun.add(Arrays.stream(runCurve(grid, rows.apply(run), key)).boxed().toList());
        }
        return onGrid(grid, perRun);
    }

    /** One run's evaluations of {@code key} put on the grid by linear interpolation (NaN outside them). */
    private static double[] runCurve(List<Double> grid, TrainingRun.Result run, String key) {
        return runCurve(grid, run.evaluations(), key);
    }

    private static double[] runCurve(List<Double> grid, List<Map<String, Object>> rows, String key) {
        TreeMap<Double, Double> points = new TreeMap<>();
        for (Map<String, Object> row : rows) {
            double x = number(row.get(MetricNames.ROLLOUTS_CONSUMED));
            double y = number(row.get(key));
            if (Double.isFinite(x) && Double.isFinite(y)) {
                points.put(x, y);
            }
        }
        return grid.stream().mapToDouble(x -> interpolate(points, x)).toArray();
    }

    /** Each run's per-update {@code key} averaged within each grid interval (up to and including its point), then over runs. */
    private static Curve binned(List<Double> grid, List<TrainingRun.Result> runs, String key) {
        List<List<Double>> perRun = new ArrayList<>();
        for (TrainingRun.Result run : runs) {
            List<Double> values = new ArrayList<>();
            for (int i = 0; i < grid.size(); i++) {
                double from = i == 0 ? Double.NEGATIVE_INFINITY : grid.get(i - 1);
                double to = grid.get(i);
                boolean last = i == grid.size() - 1;
                values.add(mean(run.metrics().stream().filter(m -> {
                    double x = number(m.get(MetricNames.ROLLOUTS_CONSUMED));
                    return x > from && (x <= to || last);
                }).toList(), key));
            }
            perRun.add(values);
        }
        return onGrid(grid, perRun);
    }

    private static Curve onGrid(List<Double> grid, List<List<Double>> perRun) {
        List<Stat> values = new ArrayList<>();
        for (int i = 0; i < grid.size(); i++) {
            int at = i;
            values.add(Stat.of(perRun.stream().map(run -> run.get(at)).toList()));
        }
        return new Curve(grid, values);
    }

    /** y at x between the nearest measured points; NaN outside them. */
    static double interpolate(TreeMap<Double, Double> points, double x) {
        Map.Entry<Double, Double> below = points.floorEntry(x);
        Map.Entry<Double, Double> above = points.ceilingEntry(x);
        if (below == null || above == null) {
            return Double.NaN;
        }
        if (below.getKey().equals(above.getKey())) {
            return below.getValue();
        }
        double t = (x - below.getKey()) / (above.getKey() - below.getKey());
        return below.getValue() + t * (above.getValue() - below.getValue());
    }

    /** Rollouts at which the curve's mean first reaches {@code target}, linear between grid points; NaN if never. */
    static double firstReach(Curve curve, double target) {
        return firstReach(curve.rollouts(), curve.values().stream().mapToDouble(v -> v.n() == 0 ? Double.NaN : v.mean()).toArray(),
                target);
    }

    /** Rollouts at which {@code values} (on the grid, NaN where unknown) first reach {@code target}, linear between points; NaN if never. */
    static double firstReach(List<Double> grid, double[] values, double target) {
        if (!Double.isFinite(target)) {
            return Double.NaN;
        }
        double previousX = Double.NaN;
        double previousY = Double.NaN;
        for (int i = 0; i < grid.size(); i++) {
            if (Double.isNaN(values[i])) {
                continue;
            }
            double x = grid.get(i);
            double y = values[i];
            if (y >= target) {
                return Double.isNaN(previousX) ? x : previousX + (target - previousY) / (y - previousY) * (x - previousX);
            }
            previousX = x;
            previousY = y;
        }
        return Double.NaN;
    }

    /** The final evaluation's keys, in the order pass@1, pass@2, …, then avg@k and the distinct-answer counts. */
    private static List<String> finalKeys(List<TrainingRun.Result> runs) {
        List<String> keys = new ArrayList<>();
        runs.stream().flatMap(r -> r.finalEvaluation().keySet().stream()).filter(k -> k.startsWith(MetricNames.PASS_AT_PREFIX)).distinct()
                .sorted((a, b) -> Integer.compare(Integer.parseInt(a.substring(5)), Integer.parseInt(b.substring(5))))
                .forEach(keys::add);
        keys.addAll(List.of(MetricNames.AVERAGE_AT_K, MetricNames.DISTINCT_CORRECT_COUNTDOWN, MetricNames.DISTINCT_CORRECT));
        return keys;
    }

    private static Cost cost(List<TrainingRun.Result> runs) {
        Map<String, List<String>> parts = new LinkedHashMap<>();
        parts.put("generation", List.of("generator"));
        parts.put("scoring", List.of("reward-service"));
        parts.put("update", List.of("learner", "learner-publisher"));
        parts.put("difficulty stream", List.of("difficulty-stream"));
        parts.put("other", List.of("broker and other"));
        Map<String, Stat> cpu = new LinkedHashMap<>();
        parts.forEach((part, services) -> cpu.put(part, Stat.of(runs.stream().map(r -> services.stream()
                .mapToDouble(s -> r.windowCpuSeconds().getOrDefault(s, Double.NaN)).sum() / windowUpdates(r)).toList())));
        Stat streamShare = Stat.of(runs.stream().map(r -> {
            double total = r.windowCpuSeconds().values().stream().mapToDouble(Double::doubleValue).sum();
            return total > 0 ? r.windowCpuSeconds().getOrDefault("difficulty-stream", Double.NaN) / total : Double.NaN;
        }).toList());
        Stat schedulingShare = Stat.of(runs.stream().map(r -> {
            double total = r.windowCpuSeconds().values().stream().mapToDouble(Double::doubleValue).sum();
            return total > 0 ? r.schedulerCpuSeconds() / total : Double.NaN;
        }).toList());
        Map<String, Stat> learner = new LinkedHashMap<>();
        for (String key : List.of("compute", "waiting", "assembling", "evaluating", "snapshot", "hand-off")) {
            learner.put(key, Stat.of(runs.stream().map(r -> {
                Map<String, Object> end = r.metrics().isEmpty() ? Map.of() : r.metrics().get(r.metrics().size() - 1);
                return number(end.get("seconds-" + key)) / r.metrics().size();
            }).toList()));
        }
        return new Cost(Stat.of(runs.stream().map(r -> r.windowSeconds() / windowUpdates(r)).toList()),
                Stat.of(runs.stream().map(r -> 1000 * r.windowSeconds() / r.windowRollouts()).toList()), cpu, streamShare, schedulingShare,
                learner);
    }

    /** Updates in a run's steady window: from the first update's metrics to the last's. */
    private static double windowUpdates(TrainingRun.Result r) {
        return r.metrics().size() > 1 ? r.metrics().size() - 1 : Double.NaN;
    }

    /**
     * Plain statements of where PACED-RL (the full method) stands against the best baseline on each
     * measure: behind it, ahead by less than the seeds' spread (no demonstrated win), or ahead.
     */
    private static List<String> verdicts(List<MethodResult> results, List<Paired> paired, String bestBaseline, double target) {
        List<String> lines = new ArrayList<>();
        MethodResult paced = results.stream().filter(r -> r.method().equals(Method.PACED.key())).findFirst().orElse(null);
        if (paced == null || paced.seeds() == 0) {
            lines.add("PACED-RL has no finished run in this comparison, so nothing is claimed for it.");
            return lines;
        }
        List<MethodResult> baselines = results.stream().filter(r -> BASELINES.contains(Method.of(r.method())) && r.seeds() > 0).toList();
        if (baselines.isEmpty()) {
            lines.add("No baseline finished a run, so PACED-RL is compared with nothing.");
            return lines;
        }
        if (Double.isFinite(paced.rolloutsToTarget())) {
            lines.add(String.format("Headline: PACED-RL reached the best baseline's (%s) final held-out pass@1 of %.3f after %,.0f "
                    + "rollouts, %.2f× the rollouts %s needed%s.", bestBaseline, target, paced.rolloutsToTarget(),
                    paced.ratioToBest(), bestBaseline, paced.ratioToBest() < 1 ? "" : ": it was not more sample-efficient"));
        } else {
            lines.add(String.format("Headline: PACED-RL never reached the best baseline's (%s) final held-out pass@1 of %.3f within "
                    + "the budget: it was not more sample-efficient.", bestBaseline, target));
        }
        paired.stream().filter(p -> p.method().equals(Method.PACED.key())).findFirst().ifPresent(p -> lines.addAll(demonstrated(p)));
        record Measure(String name, Function<MethodResult, Stat> value, boolean higherIsBetter) {}
        List<Measure> measures = new ArrayList<>();
        measures.add(new Measure("final held-out pass@1", MethodResult::finalAccuracy, true));
        paced.finalEvaluation().keySet().stream().filter(k -> k.startsWith(MetricNames.PASS_AT_PREFIX) && !k.equals(MetricNames.PASS_AT_1))
                .reduce((a, b) -> b).ifPresent(k -> measures.add(new Measure(k + " at the end", r -> stat(r.finalEvaluation(), k), true)));
        measures.add(new Measure("avg@k at the end", r -> stat(r.finalEvaluation(), MetricNames.AVERAGE_AT_K), true));
        measures.add(new Measure("distinct correct answers per countdown prompt",
                r -> stat(r.finalEvaluation(), MetricNames.DISTINCT_CORRECT_COUNTDOWN), true));
        measures.add(new Measure("share of groups with signal", r -> r.health().get(MetricNames.INFORMATIVE_SHARE), true));
        measures.add(new Measure("wall seconds per 1,000 rollouts", r -> r.cost().wallSecondsPerThousandRollouts(), false));
        for (Measure measure : measures) {
            Stat ours = measure.value().apply(paced);
            MethodResult rival = null;
            for (MethodResult b : baselines) {
                Stat theirs = measure.value().apply(b);
                if (theirs.n() > 0 && (rival == null || better(theirs.mean(), measure.value().apply(rival).mean(), measure.higherIsBetter()))) {
                    rival = b;
                }
            }
            if (rival == null || ours.n() == 0) {
                continue;
            }
            Stat theirs = measure.value().apply(rival);
            String figures = String.format("PACED-RL %s vs %s %s", format(ours), rival.method(), format(theirs));
            double margin = Math.abs(ours.mean() - theirs.mean());
            double spread = Math.hypot(nanToZero(ours.spread()), nanToZero(theirs.spread()));
            if (!better(ours.mean(), theirs.mean(), measure.higherIsBetter()) && ours.mean() != theirs.mean()) {
                lines.add(String.format("Does not win on %s: %s.", measure.name(), figures));
            } else if (margin <= spread || ours.n() < 2 || theirs.n() < 2) {
                lines.add(String.format("Ahead on %s, but by no more than the spread over seeds (or with one seed): not a "
                        + "demonstrated win. %s.", measure.name(), figures));
            } else {
                lines.add(String.format("Ahead on %s by more than the spread over seeds: %s.", measure.name(), figures));
            }
        }
        for (MethodResult ablation : results) {
            if ((ablation.method().equals(Method.PACED_SELECTION.key()) || ablation.method().equals(Method.PACED_REPLAY.key()))
                    && ablation.seeds() > 0 && ablation.finalAccuracy().mean() > paced.finalAccuracy().mean()) {
                lines.add(String.format("The ablation %s ended above the full method: held-out pass@1 %s vs %s.", ablation.method(),
                        format(ablation.finalAccuracy()), format(paced.finalAccuracy())));
            }
        }
        results.stream().filter(r -> r.failed() > 0).forEach(r -> lines.add(String.format("%s: %d run(s) failed and are left out of "
                + "its figures.", r.method(), r.failed())));
        return lines;
    }

    /**
     * What the paired intervals show for PACED-RL against the best baseline: "demonstrated" only where
     * the 95 % interval excludes parity.
     */
    static List<String> demonstrated(Paired p) {
        List<String> lines = new ArrayList<>();
        if (p.seeds() < 2) {
            lines.add(String.format("Intervals: %s and %s share %d seed(s); a paired interval needs at least two, so nothing is "
                    + "demonstrated.", p.method(), p.against(), p.seeds()));
            return lines;
        }
        PairedBootstrap.Interval ratio = p.intervals().get(ROLLOUTS_RATIO);
        lines.add(String.format("Rollouts to reach %s's final pass@1, as a ratio: %s over %d paired seeds: %s.", p.against(),
                format(ratio), p.seeds(), ratio.high() < 1 ? "fewer rollouts, demonstrated"
                        : ratio.low() > 1 ? "more rollouts, demonstrated" : "not demonstrated either way (the interval includes 1)"));
        PairedBootstrap.Interval auc = p.intervals().get(AUC_DIFFERENCE);
        lines.add(String.format("Mean held-out pass@1 over the budget, %s − %s: %s: %s.", p.method(), p.against(), format(auc),
                difference(auc)));
        p.intervals().forEach((key, interval) -> {
            if (key.startsWith(MetricNames.PASS_AT_PREFIX)) {
                lines.add(String.format("Final %s, %s − %s: %s: %s.", key, p.method(), p.against(), format(interval),
                        difference(interval)));
            }
        });
        return lines;
    }

    private static String difference(PairedBootstrap.Interval interval) {
        return interval.low() > 0 ? "higher, demonstrated" : interval.high() < 0 ? "lower, demonstrated"
                : "not demonstrated either way (the interval includes 0)";
    }

    /** An estimate and its interval, "0.84 [0.61, 1.12]". */
    static String format(PairedBootstrap.Interval interval) {
        if (interval.seeds() == 0 || Double.isNaN(interval.estimate())) {
            return "n/a";
        }
        return String.format("%.3f [%.3f, %.3f]", interval.estimate(), interval.low(), interval.high());
    }

    private static Stat stat(Map<String, Stat> stats, String key) {
        return Objects.requireNonNullElse(stats.get(key), new Stat(Double.NaN, Double.NaN, 0));
    }

    private static boolean better(double a, double b, boolean higherIsBetter) {
        return higherIsBetter ? a > b : a < b;
    }

    private static double nanToZero(double value) {
        return Double.isFinite(value) ? value : 0;
    }

    static String format(Stat stat) {
        if (stat.n() == 0) {
            return "n/a";
        }
        int digits = Math.abs(stat.mean()) >= 10 ? 1 : Math.abs(stat.mean()) >= 0.01 || stat.mean() == 0 ? 3 : 5;
        return stat.n() > 1 ? String.format("%." + digits + "f ± %." + digits + "f", stat.mean(), stat.spread())
                : String.format("%." + digits + "f", stat.mean());
    }

    static double number(Object value) {
        return value instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    private static double mean(List<Map<String, Object>> rows, String key) {
        return rows.stream().mapToDouble(row -> number(row.get(key))).filter(Double::isFinite).average().orElse(Double.NaN);
    }
}
