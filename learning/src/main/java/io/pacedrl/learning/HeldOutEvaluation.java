package io.pacedrl.learning;

import io.pacedrl.policy.Evaluation;
import io.pacedrl.policy.Transformer;
import io.pacedrl.tasks.CountdownVerifier;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.Verifiers;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.IntStream;

/**
 * How a run measures its policy, the same way in every learner: held-out pass@1 from
 * {@code eval-samples} samples of the first {@code eval-prompts} held-out prompts (the same seed each
 * time, so a curve compares like with like), p̂ checked against the accuracy of
 * {@code probe-samples} fresh samples on {@code probe-prompts} pool prompts drawn uniformly once, and
 * at the end pass@k and avg@k from {@code final-samples} samples.
 *
 * <p>The same check runs on as many held-out prompts (the first {@code probe-prompts} of the held-out
 * list), which no update learns from. The pool's never-scheduled probes are not a uniform sample
 * once the scheduler has run a while: it schedules the prompts p̂ puts near τ and leaves those it
 * puts far from it, so late in a run they are mostly prompts p̂ calls unsolvable, among them the
 * ones it underrates, which nothing then corrects (docs/method.md measures it). The held-out probes
 * are what Z_φ generalises to from the embedding alone, with no selection.
 *
 * <p>Why the probe: the scheduler keeps the p̂ of the groups it picks near τ, so their correlation
 * with observed accuracy measures little; the probe spans the pool's whole range of difficulty. It
 * is split by whether the learner has learned from a prompt yet: on the others p̂ is what Z_φ
 * generalises from the embedding alone, not an echo of the prompt's last group.
 */
public final class HeldOutEvaluation {

    /** Bins of the calibration error: tenths of [0, 1]. */
    public static final int CALIBRATION_BINS = 10;

    /**
     * p̂ against observed accuracy on some probe prompts: how many, Spearman, the expected
     * calibration error over {@link #CALIBRATION_BINS} bins (NaN where there are too few), and two
     * references on the same prompts: the highest Spearman any estimate without ties could reach
     * against the same observations ({@link RunMetrics#highestSpearman}), and the Spearman of what
     * the prompt's face alone predicts, its family and level's mean accuracy on the other probe set
     * ({@link #levelPrediction(List, double[], List)}).
     */
    public record EstimatorFit(int prompts, double spearman, double calibrationError, double highestSpearman,
            double levelSpearman) {
        static EstimatorFit of(double[] estimates, double[] observed, double[] byLevel) {
            boolean few = estimates.length < 3;
            return new EstimatorFit(estimates.length, few ? Double.NaN : RunMetrics.spearman(estimates, observed),
                    RunMetrics.Calibration.of(estimates, observed, CALIBRATION_BINS).error(), RunMetrics.highestSpearman(observed),
                    few ? Double.NaN : RunMetrics.spearman(byLevel, observed));
        }

        static final EstimatorFit NONE = new EstimatorFit(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
    }

    /**
     * Held-out pass@1, pass@k for k = 1, 2, 4, … ≤ eval samples and avg@k; the probe's accuracy, p̂'s
     * fit on all probe prompts, on those learned from and on those never scheduled
     * and on the held-out probes ({@link EstimatorFit#NONE} without p̂), and per probe prompt its p̂
     * (null without) and observed accuracy, for calibration plots.
     */
    public record Point(double passAt1, Map<String, Double> passAtK, double averageAtK, double probeAccuracy, EstimatorFit probe,
            EstimatorFit probeScheduled, EstimatorFit probeNeverScheduled, EstimatorFit probeHeldOut,
            double[] probeEstimates, double[] probeObserved) {
        public double probeSpearman() {
            return probe.spearman();
        }

        /** The estimator's figures under their run-event names (none without p̂). */
        public Map<String, Double> estimatorMetrics() {
            Map<String, Double> metrics = new LinkedHashMap<>();
            if (probeEstimates == null) {
                return metrics;
            }
            metrics.put(MetricNames.PROBE_SPEARMAN, probe.spearman());
            metrics.put(MetricNames.PROBE_CALIBRATION_ERROR, probe.calibrationError());
            metrics.put(MetricNames.PROBE_HIGHEST_SPEARMAN, probe.highestSpearman());
            metrics.put(MetricNames.PROBE_PROMPTS, (double) probe.prompts());
            metrics.put(MetricNames.PROBE_SCHEDULED, (double) probeScheduled.prompts());
            metrics.put(MetricNames.PROBE_SPEARMAN_SCHEDULED, probeScheduled.spearman());
            metrics.put(MetricNames.PROBE_HIGHEST_SPEARMAN_SCHEDULED, probeScheduled.highestSpearman());
            metrics.put(MetricNames.PROBE_CALIBRATION_ERROR_SCHEDULED, probeScheduled.calibrationError());
            metrics.put(MetricNames.PROBE_SPEARMAN_UNSCHEDULED, probeNeverScheduled.spearman());
            metrics.put(MetricNames.PROBE_HIGHEST_SPEARMAN_UNSCHEDULED, probeNeverScheduled.highestSpearman());
            metrics.put(MetricNames.PROBE_CALIBRATION_ERROR_UNSCHEDULED, probeNeverScheduled.calibrationError());
            metrics.put(MetricNames.PROBE_HELD_OUT, (double) probeHeldOut.prompts());
            metrics.put(MetricNames.PROBE_SPEARMAN_HELD_OUT, probeHeldOut.spearman());
            metrics.put(MetricNames.PROBE_HIGHEST_SPEARMAN_HELD_OUT, probeHeldOut.highestSpearman());
            metrics.put(MetricNames.PROBE_CALIBRATION_ERROR_HELD_OUT, probeHeldOut.calibrationError());
            metrics.put(MetricNames.PROBE_SPEARMAN_BY_LEVEL, probe.levelSpearman());
            metrics.put(MetricNames.PROBE_SPEARMAN_BY_LEVEL_SCHEDULED, probeScheduled.levelSpearman());
            metrics.put(MetricNames.PROBE_SPEARMAN_BY_LEVEL_UNSCHEDULED, probeNeverScheduled.levelSpearman());
            metrics.put(MetricNames.PROBE_SPEARMAN_BY_LEVEL_HELD_OUT, probeHeldOut.levelSpearman());
            return metrics;
        }
    }

    /**
     * @param passAtK         unbiased pass@k for k = 1, 2, 4, … ≤ final samples
     * @param averageAtK      avg@k: the mean share correct of the final samples
     * @param distinctCorrect mean distinct correct answers per held-out prompt with at least one
     * @param distinctCorrectCountdown mean distinct correct answers per held-out countdown prompt, solved
     *                        or not (countdown has many correct expressions: how varied the solutions
     *                        are); NaN without countdown prompts
     * @param passAt1ByLevel  pass@1 of the held-out prompts of each "family/level", in that order
     */
    public record Final(double passAt1, Map<String, Double> passAtK, double averageAtK, double distinctCorrect,
            double distinctCorrectCountdown, Map<String, Double> passAt1ByLevel) {}

    static final int BATCH_PROMPTS = 512;

    private final TrainingConfig config;
    private final List<TaskPrompt> heldOut;
    private final int[] probe;
    private final List<TaskPrompt> probePrompts;
    private final List<TaskPrompt> heldOutProbes;
    /** Each probe prompt's "family/level", pool probes and held-out probes, for the level reference. */
    private final List<String> probeLevels;
    private final List<String> heldOutProbeLevels;
    private final Verifiers verifiers;
    private final Transformer.SamplingConfig sampling;
    /** Pool index → position among the probe prompts. */
    private final Map<Integer, Integer> probePosition = new HashMap<>();
    /** Probe prompts (by position) the learner has learned from. */
    private final BitSet learned = new BitSet();

    public HeldOutEvaluation(TrainingConfig config, List<TaskPrompt> pool, List<TaskPrompt> heldOut, Verifiers verifiers) {
        if (heldOut.isEmpty()) {
            throw new IllegalArgumentException("there are no held-out prompts to evaluate on");
        }
        this.config = config;
        this.heldOut = List.copyOf(heldOut.subList(0, Math.min(config.evalPrompts(), heldOut.size())));
        this.heldOutProbes = List.copyOf(heldOut.subList(0, Math.min(config.probePrompts(), heldOut.size())));
        this.probe = new UniformSampler(config.seed() + 29).select(new double[pool.size()],
                Math.min(config.probePrompts(), pool.size()), i -> false);
        this.probePrompts = Arrays.stream(probe).mapToObj(pool::get).toList();
        this.probeLevels = probePrompts.stream().map(TaskPrompt::level).toList();
        this.heldOutProbeLevels = heldOutProbes.stream().map(TaskPrompt::level).toList();
        for (int i = 0; i < probe.length; i++) {
            probePosition.put(probe[i], i);
        }
        this.verifiers = verifiers;
        this.sampling = new Transformer.SamplingConfig((float) config.temperature(), 1f, config.maxNewTokens());
    }

    public List<TaskPrompt> heldOut() {
        return heldOut;
    }

    /** The held-out probe prompts, in the order their estimates are asked for. */
    public List<TaskPrompt> heldOutProbes() {
        return heldOutProbes;
    }

    /** The learner has learned from pool prompt {@code poolIndex} (a group of it was in an update). */
    public void learnedFrom(int poolIndex) {
        Integer position = probePosition.get(poolIndex);
        if (position != null) {
            learned.set(position);
        }
    }

    /** The ids of the probe prompts learned from so far: what a checkpoint keeps. */
    public List<String> learnedProbes() {
        return learned.stream().mapToObj(i -> probePrompts.get(i).id()).toList();
    }

    /** Marks these prompts as learned from, where they are probe prompts (a resumed or forked run's). */
    public void restoreLearned(Collection<String> promptIds) {
        Set<String> ids = new HashSet<>(promptIds);
        for (int i = 0; i < probePrompts.size(); i++) {
            if (ids.contains(probePrompts.get(i).id())) {
                learned.set(i);
            }
        }
    }

    /** p̂ now, where a method has it: of pool prompts by index, and of the {@link #heldOutProbes()} in order. */
    public interface Estimates {
        double[] pool(int[] prompts);

        double[] heldOutProbes();
    }

    /** The policy after {@code step} updates; {@code pHat} is null for methods without estimates. */
    public Point evaluate(Transformer policy, Estimates pHat, int step) {
        Evaluation.Result result = Evaluation.run(policy, heldOut, config.evalSamples(), sampling, BATCH_PROMPTS,
                config.seed() + 19, verifiers);
        Evaluation.Result probed = Evaluation.run(policy, probePrompts, config.probeSamples(), sampling, BATCH_PROMPTS,
                config.seed() + 31 + step, verifiers);
        double[] estimates = pHat == null ? null : pHat.pool(probe);
        double[] observed = Arrays.stream(probed.correct()).mapToDouble(c -> c / (double) config.probeSamples()).toArray();
        EstimatorFit all = EstimatorFit.NONE;
        EstimatorFit scheduled = EstimatorFit.NONE;
        EstimatorFit never = EstimatorFit.NONE;
        EstimatorFit heldOutFit = EstimatorFit.NONE;
        if (estimates != null) {
            Evaluation.Result heldOutProbed = Evaluation.run(policy, heldOutProbes, config.probeSamples(), sampling, BATCH_PROMPTS,
                    config.seed() + 37 + step, verifiers);
            double[] heldOutObserved = Arrays.stream(heldOutProbed.correct()).mapToDouble(c -> c / (double) config.probeSamples())
                    .toArray();
            double[] byLevel = levelPrediction(heldOutProbeLevels, heldOutObserved, probeLevels);
            all = EstimatorFit.of(estimates, observed, byLevel);
            int[] seen = IntStream.range(0, probe.length).filter(learned::get).toArray();
            int[] unseen = IntStream.range(0, probe.length).filter(i -> !learned.get(i)).toArray();
            scheduled = EstimatorFit.of(pick(estimates, seen), pick(observed, seen), pick(byLevel, seen));
            never = EstimatorFit.of(pick(estimates, unseen), pick(observed, unseen), pick(byLevel, unseen));
            heldOutFit = EstimatorFit.of(pHat.heldOutProbes(), heldOutObserved,
                    levelPrediction(probeLevels, observed, heldOutProbeLevels));
        }
        return new Point(result.passAt1(), passAtK(result), RunMetrics.averageAtK(result.correct(), result.samplesPerPrompt()),
                probed.passAt1(), all, scheduled, never, heldOutFit, estimates, observed);
    }

    /**
     * A reference for p̂ that reads only the prompt's face: each of {@code predicted}'s strata
     * ("family/level") gets the mean observed accuracy of that stratum among other, fitted prompts
     * (the fitted prompts' mean for a stratum they lack). The evaluation fits it on the other probe
     * set at the same moment, never on a prompt's own observation: fitted on the prompts it predicts,
     * each level's mean would carry each prompt's own result into its prediction. It knows every
     * level's present accuracy, which p̂ has to learn; what p̂ reaches beyond it is what the embedding
     * tells apart within a level.
     */
    static double[] levelPrediction(List<String> fittedStrata, double[] observed, List<String> predicted) {
        Map<String, double[]> sums = new HashMap<>();
        for (int i = 0; i < observed.length; i++) {
            double[] sum = sums.computeIfAbsent(fittedStrata.get(i), k -> new double[2]);
            sum[0] += observed[i];
            sum[1]++;
        }
        double overall = Arrays.stream(observed).average().orElse(0);
        return predicted.stream().mapToDouble(stratum -> {
            double[] sum = sums.get(stratum);
            return sum == null ? overall : sum[0] / sum[1];
        }).toArray();
    }

    private static double[] pick(double[] values, int[] positions) {
        return Arrays.stream(positions).mapToDouble(i -> values[i]).toArray();
    }

    /** pass@k, avg@k and distinct correct answers from {@code final-samples} samples per held-out prompt. */
    public Final finalEvaluation(Transformer policy) {
        Evaluation.Result last = Evaluation.run(policy, heldOut, config.finalSamples(), sampling, BATCH_PROMPTS,
                config.seed() + 23, verifiers);
        double distinct = Arrays.stream(last.distinctCorrect()).filter(d -> d > 0).average().orElse(0);
        double countdown = IntStream.range(0, heldOut.size()).filter(i -> heldOut.get(i).kind().equals(CountdownVerifier.KIND))
                .map(i -> last.distinctCorrect()[i]).average().orElse(Double.NaN);
        Map<String, int[]> byLevel = new TreeMap<>();
        for (int i = 0; i < heldOut.size(); i++) {
            int[] counts = byLevel.computeIfAbsent(heldOut.get(i).level(), k -> new int[2]);
            counts[0] += last.correct()[i];
            counts[1] += config.finalSamples();
        }
        Map<String, Double> passAt1ByLevel = new LinkedHashMap<>();
        byLevel.forEach((level, counts) -> passAt1ByLevel.put(level, counts[0] / (double) counts[1]));
        return new Final(last.passAt1(), passAtK(last), RunMetrics.averageAtK(last.correct(), config.finalSamples()), distinct,
                countdown, passAt1ByLevel);
    }

    private static Map<String, Double> passAtK(Evaluation.Result result) {
        Map<String, Double> passAtK = new LinkedHashMap<>();
        for (int k = 1; k <= result.samplesPerPrompt(); k *= 2) {
            passAtK.put(MetricNames.passAt(k), RunMetrics.meanPassAtK(result.correct(), result.samplesPerPrompt(), k));
        }
        return passAtK;
    }
}
