package io.pacedrl.learning;

import io.pacedrl.learning.PolicyLearner.Group;
import io.pacedrl.learning.PolicyLearner.Trajectory;
import io.pacedrl.policy.Transformer;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.Verifiers;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The synchronous reference trainer: one loop of schedule → sample G rollouts per prompt →
 * verify → update → refresh p̂, running any {@link Method} in memory on a prompt pool. It is the
 * correctness reference for the asynchronous services and the synchronous side of the async
 * speed-up benchmark, so it measures what they measure.
 */
public final class SyncTrainer implements AutoCloseable {

    /** What one step did ({@link LearnerUpdate.Figures}, the learner service's own) and cost. */
    public record StepRecord(int step, long rollouts, LearnerUpdate.Figures figures, int samplingRounds, double generationSeconds,
                             double scoringSeconds, double updateSeconds, double schedulingSeconds) {}

    /**
     * Held-out pass@1 after {@code step} updates and {@code rollouts} rollouts consumed; the
     * accuracy of {@code probe-samples} fresh samples on the probe prompts (drawn uniformly from the
     * pool) and p̂'s fit to it on all of them, on those learned from so far and on those never
     * scheduled (Spearman and calibration error, NaN without p̂), the same on held-out probe prompts
     * (never learned from, and not selected by the scheduler).
     */
    public record EvalPoint(int step, long rollouts, double passAt1, double probeAccuracy, HeldOutEvaluation.EstimatorFit probe,
                            HeldOutEvaluation.EstimatorFit probeScheduled, HeldOutEvaluation.EstimatorFit probeNeverScheduled,
                            HeldOutEvaluation.EstimatorFit probeHeldOut, double seconds) {
        public double probeSpearman() {
            return probe.spearman();
        }
    }

    /**
     * The run's results.
     *
     * @param passAtK              unbiased pass@k on the held-out prompts at the end, k = 1, 2, 4, … ≤ final samples
     * @param averageAtK           avg@k: the mean share correct of the final samples
     * @param distinctCorrect      mean distinct correct answers per held-out prompt with at least one
     * @param pHatSpearman         Spearman of p̂ (before each update) against observed group accuracy,
     *                             over every scheduled group after the estimator warm-up
     * @param probeSpearman        the same on the uniformly drawn probe prompts at the last evaluation:
     *                             unlike scheduled groups, whose p̂ the scheduler keeps near τ, these
     *                             span the pool's range of difficulty
     * @param timeShare            share of the loop's time per phase
     */
    public record Report(TrainingConfig config, int steps, long rollouts, double seconds, double initialPassAt1,
                         double finalPassAt1, Map<String, Double> passAtK, double averageAtK, double distinctCorrect,
                         double pHatSpearman, double probeSpearman, double meanBetaKl, double meanSignalShare, Map<String, Double> timeShare,
                         List<EvalPoint> evaluations, List<StepRecord> history) {}

    /**
     * Where a run stands after {@code step} steps: the learner's state, the replay buffer and which
     * probe prompts it has learned from; every other choice is seeded from the step. A trainer started from it (with the same keys, or changed
     * ones: a fork) carries on from there.
     */
    public record Snapshot(int step, long rollouts, PolicyLearner.State learner, ReplayBuffer<Trajectory> replay,
                           List<String> learnedProbes) {}

    /** Progress after each step. */
    public record Progress(int step, int steps, long rollouts, double meanReward, double heldOutPassAt1) {}

    private final TrainingConfig config;
    private final Method method;
    private final List<TaskPrompt> pool;
    private final HeldOutEvaluation evaluation;
    private final Verifiers verifiers;
    private final PolicyLearner learner;
    private final Transformer policy;
    private final ReferenceSchedule<Trajectory> schedule;
    private final Transformer.SamplingConfig sampling;

    /**
     * @param referenceWeights π_ref (the warm start): the policy starts from it, embeds the pool with
     *                         it before the first update, and a frozen copy scores against it where a
     *                         loss needs it
     * @param pool             the training prompts the sampler chooses from
     * @param heldOut          prompts evaluated, never trained on (the first {@code eval-prompts})
     */
    public SyncTrainer(TrainingConfig config, byte[] referenceWeights, List<TaskPrompt> pool, List<TaskPrompt> heldOut,
                       Verifiers verifiers) {
        this.config = config;
        this.method = config.method();
        this.pool = List.copyOf(pool);
        this.verifiers = verifiers;
        if (pool.size() < config.promptsPerStep()) {
            throw new IllegalArgumentException("the pool has " + pool.size() + " prompts; prompts-per-step is " + config.promptsPerStep());
        }
        this.evaluation = new HeldOutEvaluation(config, pool, heldOut, verifiers);
        this.learner = new PolicyLearner(config, referenceWeights, pool.stream().map(TaskPrompt::text).toList(),
                evaluation.heldOutProbes().stream().map(TaskPrompt::text).toList());
        this.policy = learner.policy();
        this.sampling = new Transformer.SamplingConfig((float) config.temperature(), 1f, config.maxNewTokens());
        this.schedule = new ReferenceSchedule<>(config, pool.stream().map(TaskPrompt::id).toList());
    }

    public Transformer policy() {
        return policy;
    }

    /** The current p̂ of every pool prompt (all zero for methods without it). */
    public double[] accuracyEstimates() {
        return learner.accuracyEstimates();
    }

    /** log Z_φ of every pool prompt, before p̂'s clip (null for methods without it). */
    public double[] logPartition() {
        return learner.logPartition();
    }

    /** Runs every step, reporting progress after each; evaluates on the held-out prompts as it goes. */
    public Report run(Consumer<Progress> progress) {
        return runFrom(0, 0, progress);
    }

    /** Runs the steps after {@code from}'s, starting from its state (a fork: this trainer's keys may differ from its run's). */
    public Report run(Snapshot from, Consumer<Progress> progress) {
        learner.restore(from.learner());
        schedule.restoreReplay(from.replay());
        evaluation.restoreLearned(from.learnedProbes());
        return runFrom(from.step(), from.rollouts(), progress);
    }

    /** The run as it stands after {@code report}'s last step. */
    public Snapshot snapshot(Report report) {
        int step = report.history().isEmpty() ? 0 : report.history().get(report.history().size() - 1).step();
        return new Snapshot(step, report.rollouts(), learner.state(), schedule.replay(), evaluation.learnedProbes());
    }

    private Report runFrom(int first, long rolloutsBefore, Consumer<Progress> progress) {
        long start = System.nanoTime();
        List<StepRecord> history = new ArrayList<>();
        List<EvalPoint> evaluations = new ArrayList<>();
        List<double[]> estimatorPairs = new ArrayList<>();
        long rollouts = rolloutsBefore;
        evaluations.add(evaluate(first, rollouts, start));
        for (int step = first + 1; !config.finished(step - 1, rollouts); step++) {
            StepRecord record = step(step, rollouts, estimatorPairs);
            rollouts = record.rollouts();
            history.add(record);
            if (step % config.evalEvery() == 0 || config.finished(step, rollouts)) {
                evaluations.add(evaluate(step, rollouts, start));
            }
            progress.accept(new Progress(step, config.steps(), rollouts, record.figures().meanReward(),
                    evaluations.get(evaluations.size() - 1).passAt1()));
        }
        return report(history, evaluations, estimatorPairs, rollouts, start);
    }

    private EvalPoint evaluate(int step, long rollouts, long start) {
        HeldOutEvaluation.Point point = evaluation.evaluate(policy, method.estimatesAccuracy() ? learner.estimates() : null, step);
        return new EvalPoint(step, rollouts, point.passAt1(), point.probeAccuracy(), point.probe(), point.probeScheduled(),
                point.probeNeverScheduled(), point.probeHeldOut(), (System.nanoTime() - start) / 1e9);
    }

    /** One step: schedule (batch step − 1), generate, score, update version step − 1 → step. */
    StepRecord step(int step, long rolloutsBefore, List<double[]> estimatorPairs) {
        Timer timer = new Timer();
        long batch = step - 1;
        List<Group> groups;
        double[] chosenPHat = null;
        int rounds = 1;
        long generated;
        if (method.prompts() == Method.Prompts.DYNAMIC) {
            DynamicSampling<Group> dynamic = new DynamicSampling<>(config.promptsPerStep(), config.oversample(), config.maxSamplingRounds());
            while (dynamic.needsMore()) {
                int[] chosen = timer.time(Phase.SCHEDULING, () -> schedule.uniform(batch, dynamic.rounds(), dynamic.promptsToDraw()));
                List<Group> drawn = generateAndScore(step * 100 + dynamic.rounds(), chosen, timer);
                dynamic.offer(drawn, drawn.stream().map(Group::rewards).toList());
            }
            groups = dynamic.batch();
            rounds = dynamic.rounds();
            generated = (long) dynamic.offered() * config.groupSize();
        } else {
            ReferenceSchedule.Choice choice = timer.time(Phase.SCHEDULING, () -> schedule.choose(batch,
                    method.estimatesAccuracy() ? learner::accuracyEstimates : null));
            chosenPHat = choice.pHat();
            groups = generateAndScore(step * 100, choice.prompts(), timer);
            generated = (long) groups.size() * config.groupSize();
        }

        groups.forEach(g -> evaluation.learnedFrom(g.prompt()));
        double[] estimates = new double[groups.size()];
        Arrays.fill(estimates, Double.NaN);
        for (int g = 0; g < groups.size(); g++) {
            if (chosenPHat != null) {
                estimates[g] = chosenPHat[g];
            }
            if (method.estimatesAccuracy() && step > config.estimatorWarmupSteps()) {
                estimatorPairs.add(new double[] {estimates[g], groups.get(g).correct() / (double) config.groupSize()});
            }
        }
        List<Trajectory> replayed = method.replay()
                ? schedule.drawReplay(batch, method.estimatesAccuracy() ? learner::accuracyEstimates : null).stream()
                        .map(ReplayBuffer.Entry::item).toList()
                : List.of();
        LearnerUpdate.Batch update = new LearnerUpdate.Batch(batch, groups, estimates, replayed, true);
        LearnerUpdate.Figures figures = timer.time(Phase.UPDATE, () -> LearnerUpdate.apply(learner, update));

        if (method.replay()) {
            List<ReplayBuffer.Group<Trajectory>> scored = new ArrayList<>();
            for (int g = 0; g < groups.size(); g++) {
                scored.add(new ReplayBuffer.Group<>(pool.get(groups.get(g).prompt()).id(), estimates[g],
                        groups.get(g).trajectories().stream().map(r -> new ReplayBuffer.Trajectory<>(r.id(), r.correct(),
                                ReplayBuffer.responseOf(r.response()), r)).toList()));
            }
            schedule.offerReplay(scored);
        }
        return new StepRecord(step, rolloutsBefore + generated, figures, rounds, timer.seconds(Phase.GENERATION),
                timer.seconds(Phase.SCORING), timer.seconds(Phase.UPDATE), timer.seconds(Phase.SCHEDULING));
    }

    /** G rollouts for each chosen prompt from the current policy, verified. */
    private List<Group> generateAndScore(int round, int[] chosen, Timer timer) {
        List<int[]> rows = new ArrayList<>();
        for (int prompt : chosen) {
            for (int s = 0; s < config.groupSize(); s++) {
                rows.add(learner.promptTokens(prompt));
            }
        }
        List<Transformer.Completion> completions = timer.time(Phase.GENERATION,
                () -> policy.sample(rows, sampling, config.seed() * 1_000_003L + round));
        return timer.time(Phase.SCORING, () -> {
            List<Group> groups = new ArrayList<>();
            for (int p = 0; p < chosen.length; p++) {
                List<Trajectory> rollouts = new ArrayList<>();
                for (int s = 0; s < config.groupSize(); s++) {
                    Transformer.Completion completion = completions.get(p * config.groupSize() + s);
                    boolean correct = verifiers.verify(pool.get(chosen[p]), policy.tokenizer().decode(completion.tokens())).correct();
                    rollouts.add(new Trajectory(String.format("%07d-%05d-%03d", round, p, s), chosen[p], learner.promptTokens(chosen[p]),
                            completion.tokens(), completion.logProbs(), correct ? 1.0 : 0.0, correct));
                }
                groups.add(new Group(chosen[p], rollouts));
            }
            return groups;
        });
    }

    private Report report(List<StepRecord> history, List<EvalPoint> evaluations, List<double[]> estimatorPairs,
                          long rollouts, long start) {
        HeldOutEvaluation.Final last = evaluation.finalEvaluation(policy);
        double spearman = estimatorPairs.size() < 3 ? Double.NaN : RunMetrics.spearman(
                estimatorPairs.stream().mapToDouble(p -> p[0]).toArray(), estimatorPairs.stream().mapToDouble(p -> p[1]).toArray());
        Map<String, Double> time = new LinkedHashMap<>();
        time.put("generation", history.stream().mapToDouble(StepRecord::generationSeconds).sum());
        time.put("scoring", history.stream().mapToDouble(StepRecord::scoringSeconds).sum());
        time.put("update", history.stream().mapToDouble(StepRecord::updateSeconds).sum());
        time.put("scheduling", history.stream().mapToDouble(StepRecord::schedulingSeconds).sum());
        double total = time.values().stream().mapToDouble(Double::doubleValue).sum();
        time.replaceAll((phase, seconds) -> seconds / total);
        EvalPoint first = evaluations.get(0);
        EvalPoint end = evaluations.get(evaluations.size() - 1);
        return new Report(config, history.size(), rollouts, (System.nanoTime() - start) / 1e9, first.passAt1(), end.passAt1(),
                last.passAtK(), last.averageAtK(), last.distinctCorrect(), spearman, end.probeSpearman(),
                mean(history, r -> r.figures().betaKl()), mean(history, r -> r.figures().informativeShare()), time, List.copyOf(evaluations),
                List.copyOf(history));
    }

    private static double mean(List<StepRecord> history, java.util.function.ToDoubleFunction<StepRecord> field) {
        return history.stream().mapToDouble(field).filter(Double::isFinite).average().orElse(Double.NaN);
    }

    private enum Phase { GENERATION, SCORING, UPDATE, SCHEDULING }

    /** Wall time per phase within one step. */
    private static final class Timer {
        private final double[] seconds = new double[Phase.values().length];

        <T> T time(Phase phase, java.util.function.Supplier<T> work) {
            long start = System.nanoTime();
            try {
                return work.get();
            } finally {
                seconds[phase.ordinal()] += (System.nanoTime() - start) / 1e9;
            }
        }

        double seconds(Phase phase) {
            return seconds[phase.ordinal()];
        }
    }

    @Override
    public void close() {
        learner.close();
    }
}
