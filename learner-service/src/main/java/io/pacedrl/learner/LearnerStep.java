package io.pacedrl.learner;

import io.pacedrl.learning.HeldOutEvaluation;
import io.pacedrl.learning.LearnerUpdate;
import io.pacedrl.learning.MetricNames;
import io.pacedrl.learning.PolicyLearner;
import io.pacedrl.learning.RunMetrics;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.learning.UniformSampler;
import io.pacedrl.policy.Weights;
import io.pacedrl.schemas.ReplayRecord;
import io.pacedrl.tasks.TaskPrompt;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * What the learner does with a batch, without Kafka: the assembled batch becomes the learning
 * rules' groups and trajectories, {@link LearnerUpdate} (the synchronous reference's own update)
 * runs on it, and the step's figures come back typed and named, with the batch's own (staleness,
 * released and dropped groups) and p̂ over the pool. Also the held-out evaluations. The service
 * shell feeds it and publishes what it returns.
 */
final class LearnerStep {
    private static final int BINS = MetricNames.P_HAT_BINS;
    /** Pool prompts, a seeded sample, whose p̂ makes each version's histogram (the whole pool when smaller). */
    static final int HISTOGRAM_SAMPLE = 4096;

    /** One update's outcome: its figures, and every metric of its run event. */
    record Result(LearnerUpdate.Figures figures, Map<String, Double> metrics) {}

    private final TrainingConfig config;
    private final PolicyLearner learner;
    private final HeldOutEvaluation evaluation;
    private final UpdateInputs inputs;
    private final int[] histogramSample;

    LearnerStep(TrainingConfig config, PolicyLearner learner, List<TaskPrompt> pool, HeldOutEvaluation evaluation) {
        this.config = config;
        this.learner = learner;
        this.evaluation = evaluation;
        this.inputs = new UpdateInputs(pool);
        this.histogramSample = pool.size() <= HISTOGRAM_SAMPLE ? IntStream.range(0, pool.size()).toArray()
                : new UniformSampler(config.seed() + 37).select(new double[pool.size()], HISTOGRAM_SAMPLE, i -> false);
    }

    /** Whether a prompt is in the pool the learner learns on. */
    boolean knows(String promptId) {
        return inputs.knows(promptId);
    }

    /** Update {@code batch.version()} → + 1. */
    Result apply(BatchAssembler.Batch batch) {
        LearnerUpdate.Batch update = inputs.batch(batch.version(), batch.groups(),
                batch.replay().stream().map(ReplayRecord::getTrajectory).toList());
        LearnerUpdate.Figures figures = LearnerUpdate.apply(learner, update);
        update.groups().forEach(g -> evaluation.learnedFrom(g.prompt()));
        Map<String, Double> metrics = figures.asMetrics();
        metrics.put(MetricNames.STALE_GROUPS, (double) batch.stale().size());
        metrics.put(MetricNames.DISCARDED_GROUPS, (double) batch.discarded().size());
        metrics.put(MetricNames.RELEASED_GROUPS, (double) batch.released());
        batch.staleness().forEach((behind, count) -> metrics.put(MetricNames.staleness(behind), (double) count));
        metrics.put(MetricNames.MEAN_STALENESS, batch.staleness().entrySet().stream().mapToDouble(e -> e.getKey() * (double) e.getValue())
                .sum() / Math.max(1, batch.staleness().values().stream().mapToInt(Integer::intValue).sum()));
        if (config.method().estimatesAccuracy()) {
            int[] histogram = new int[BINS];
            for (double p : learner.accuracyEstimates(histogramSample)) {
                histogram[RunMetrics.bin(p, BINS)]++;
            }
            for (int b = 0; b < BINS; b++) {
                metrics.put(MetricNames.pHatBin(b), (double) histogram[b]);
            }
        }
        return new Result(figures, metrics);
    }

    /** The held-out evaluation of the policy at {@code version}, with p̂'s calibration on the probe prompts. */
    Map<String, Double> evaluate(long version) {
        HeldOutEvaluation.Point point = evaluation.evaluate(learner.policy(),
                config.method().estimatesAccuracy() ? learner.estimates() : null, (int) version);
        Map<String, Double> metrics = new LinkedHashMap<>(point.passAtK());
        metrics.put(MetricNames.PASS_AT_1, point.passAt1());
        metrics.put(MetricNames.AVERAGE_AT_K, point.averageAtK());
        metrics.put(MetricNames.PROBE_ACCURACY, point.probeAccuracy());
        metrics.putAll(point.estimatorMetrics());
        metrics.put(MetricNames.PROBE_SAMPLES, (double) config.probeSamples());
        metrics.put(MetricNames.SAMPLES, (double) config.evalSamples());
        metrics.put(MetricNames.PROMPTS, (double) evaluation.heldOut().size());
        if (point.probeEstimates() != null) {
            // The probe prompts binned by p̂: each bin's mean p̂ and mean observed accuracy.
            RunMetrics.Calibration calibration = RunMetrics.Calibration.of(point.probeEstimates(), point.probeObserved(), BINS);
            for (int b = 0; b < BINS; b++) {
                metrics.put(MetricNames.calibrationCount(b), (double) calibration.count()[b]);
                if (calibration.count()[b] > 0) {
                    metrics.put(MetricNames.calibrationPHat(b), calibration.meanEstimate()[b]);
                    metrics.put(MetricNames.calibrationAccuracy(b), calibration.meanObserved()[b]);
                }
            }
        }
        return metrics;
    }

    /** pass@k, avg@k and distinct correct answers from {@code final-samples} samples per held-out prompt. */
    Map<String, Double> finalEvaluation() {
        HeldOutEvaluation.Final last = evaluation.finalEvaluation(learner.policy());
        Map<String, Double> metrics = new LinkedHashMap<>(last.passAtK());
        metrics.put(MetricNames.AVERAGE_AT_K, last.averageAtK());
        metrics.put(MetricNames.DISTINCT_CORRECT, last.distinctCorrect());
        metrics.put(MetricNames.DISTINCT_CORRECT_COUNTDOWN, last.distinctCorrectCountdown());
        last.passAt1ByLevel().forEach((level, pass) -> metrics.put(MetricNames.levelPassAt1(level), pass));
        metrics.put(MetricNames.SAMPLES, (double) config.finalSamples());
        return metrics;
    }

    /** The probe prompts learned from so far: what a checkpoint keeps. */
    List<String> learnedProbes() {
        return evaluation.learnedProbes();
    }

    /** A resumed (or forked) run's probe prompts learned from before. */
    void restoreLearned(List<String> promptIds) {
        evaluation.restoreLearned(promptIds);
    }

    /** Writes the policy as it is now as a weights file (what --weights and eval take). */
    void savePolicy(Path file) throws IOException {
        Weights.save(learner.policy(), file);
    }
}
