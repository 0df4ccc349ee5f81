package io.pacedrl.learning;

import io.pacedrl.policy.Evaluation;
import io.pacedrl.policy.Transformer;
import io.pacedrl.tasks.CountdownVerifier;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.Verifiers;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * How a run measures its policy, the same way in every learner: held-out pass@1 from
 * {@code eval-samples} samples of the first {@code eval-prompts} held-out prompts (the same seed each
 * time, so a curve compares like with like), p̂ checked against the accuracy of G fresh samples on
 * {@code probe-prompts} pool prompts drawn uniformly once, and at the end pass@k and avg@k from
 * {@code final-samples} samples.
 *
 * <p>Why the probe: the scheduler keeps the p̂ of the groups it picks near τ, so their correlation
 * with observed accuracy measures little; the probe spans the pool's whole range of difficulty.
 */
public final class HeldOutEvaluation {

    /**
     * Held-out pass@1, pass@k for k = 1, 2, 4, … ≤ eval samples and avg@k; the probe's accuracy and
     * its Spearman correlation with p̂ (NaN without p̂), and per probe prompt its p̂ (null without)
     * and observed accuracy, for calibration.
     */
    public record Point(double passAt1, Map<String, Double> passAtK, double averageAtK, double probeAccuracy,
            double probeSpearman, double[] probeEstimates, double[] probeObserved) {}

    /**
     * @param passAtK         unbiased pass@k for k = 1, 2, 4, … ≤ final samples
     * @param averageAtK      avg@k: the mean share correct of the final samples
     * @param distinctCorrect mean distinct correct answers per held-out prompt with at least one
     * @param distinctCorrectCountdown mean distinct correct answers per held-out countdown prompt, solved
     *                        or not (countdown has many correct expressions: how varied the solutions
     *                        are); NaN without countdown prompts
     */
    public record Final(double passAt1, Map<String, Double> passAtK, double averageAtK, double distinctCorrect,
            double distinctCorrectCountdown) {}

    private static final int BATCH_PROMPTS = 512;

    private final TrainingConfig config;
    private final List<TaskPrompt> heldOut;
    private final int[] probe;
    private final List<TaskPrompt> probePrompts;
    private final Verifiers verifiers;
    private final Transformer.SamplingConfig sampling;

    public HeldOutEvaluation(TrainingConfig config, List<TaskPrompt> pool, List<TaskPrompt> heldOut, Verifiers verifiers) {
        if (heldOut.isEmpty()) {
            throw new IllegalArgumentException("there are no held-out prompts to evaluate on");
        }
        this.config = config;
        this.heldOut = List.copyOf(heldOut.subList(0, Math.min(config.evalPrompts(), heldOut.size())));
        this.probe = new UniformSampler(config.seed() + 29).select(new double[pool.size()],
                Math.min(config.probePrompts(), pool.size()), i -> false);
        this.probePrompts = Arrays.stream(probe).mapToObj(pool::get).toList();
        this.verifiers = verifiers;
        this.sampling = new Transformer.SamplingConfig((float) config.temperature(), 1f, config.maxNewTokens());
    }

    public List<TaskPrompt> heldOut() {
        return heldOut;
    }

    /**
     * The policy after {@code step} updates; {@code pHat} gives the estimates of pool prompts (by
     * index), or is null for methods without them.
     */
    public Point evaluate(Transformer policy, java.util.function.Function<int[], double[]> pHat, int step) {
        Evaluation.Result result = Evaluation.run(policy, heldOut, config.evalSamples(), sampling, BATCH_PROMPTS,
                config.seed() + 19, verifiers);
        Evaluation.Result probed = Evaluation.run(policy, probePrompts, config.groupSize(), sampling, BATCH_PROMPTS,
                config.seed() + 31 + step, verifiers);
        double[] estimates = pHat == null ? null : pHat.apply(probe);
        double[] observed = Arrays.stream(probed.correct()).mapToDouble(c -> c / (double) config.groupSize()).toArray();
        double probeSpearman = estimates == null ? Double.NaN : RunMetrics.spearman(estimates, observed);
        return new Point(result.passAt1(), passAtK(result), RunMetrics.averageAtK(result.correct(), result.samplesPerPrompt()),
                probed.passAt1(), probeSpearman, estimates, observed);
    }

    /** pass@k, avg@k and distinct correct answers from {@code final-samples} samples per held-out prompt. */
    public Final finalEvaluation(Transformer policy) {
        Evaluation.Result last = Evaluation.run(policy, heldOut, config.finalSamples(), sampling, BATCH_PROMPTS,
                config.seed() + 23, verifiers);
        double distinct = Arrays.stream(last.distinctCorrect()).filter(d -> d > 0).average().orElse(0);
        double countdown = IntStream.range(0, heldOut.size()).filter(i -> heldOut.get(i).kind().equals(CountdownVerifier.KIND))
                .map(i -> last.distinctCorrect()[i]).average().orElse(Double.NaN);
        return new Final(last.passAt1(), passAtK(last), RunMetrics.averageAtK(last.correct(), config.finalSamples()), distinct,
                countdown);
    }

    private static Map<String, Double> passAtK(Evaluation.Result result) {
        Map<String, Double> passAtK = new LinkedHashMap<>();
        for (int k = 1; k <= result.samplesPerPrompt(); k *= 2) {
            passAtK.put(MetricNames.passAt(k), RunMetrics.meanPassAtK(result.correct(), result.samplesPerPrompt(), k));
        }
        return passAtK;
    }
}
