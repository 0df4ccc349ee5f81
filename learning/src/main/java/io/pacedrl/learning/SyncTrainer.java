package io.pacedrl.learning;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.GradientCollector;
import io.pacedrl.policy.AdamW;
import io.pacedrl.policy.Evaluation;
import io.pacedrl.policy.GradMode;
import io.pacedrl.policy.TokenLogProbs;
import io.pacedrl.policy.Transformer;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.Verifiers;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * The synchronous reference trainer: one loop of schedule → sample G rollouts per prompt →
 * verify → update → refresh p̂, running any {@link Method} in memory on a prompt pool. It is the
 * correctness reference for the asynchronous services and the synchronous side of the async
 * speed-up benchmark, so it measures what they measure.
 */
public final class SyncTrainer implements AutoCloseable {

    /** One sampled and scored response, with what an off-policy update needs of it. */
    public record Rollout(String id, int prompt, int[] promptTokens, int[] response, float[] behaviourLogProbs,
                          double reward, boolean correct) {
        double behaviourLogProb() {
            double sum = 0;
            for (float logProb : behaviourLogProbs) {
                sum += logProb;
            }
            return sum;
        }
    }

    /** A prompt's G rollouts. */
    public record Group(int prompt, List<Rollout> rollouts) {
        int correct() {
            return (int) rollouts.stream().filter(Rollout::correct).count();
        }

        double[] rewards() {
            return rollouts.stream().mapToDouble(Rollout::reward).toArray();
        }
    }

    /** What one step did and cost. Estimator fields are NaN for methods without p̂. */
    public record StepRecord(int step, long rollouts, int groups, double meanReward, double signalShare, double loss,
                             double gradientNorm, double betaKl, double pHatSpearman, double meanPHat, int replayed,
                             int samplingRounds, double generationSeconds, double scoringSeconds, double updateSeconds,
                             double schedulingSeconds) {}

    /**
     * Held-out pass@1 after {@code step} updates and {@code rollouts} rollouts consumed; the
     * accuracy of G fresh samples on the probe prompts (drawn uniformly from the pool) and
     * Spearman of p̂ against it (NaN without p̂).
     */
    public record EvalPoint(int step, long rollouts, double passAt1, double probeAccuracy, double probeSpearman,
                            double seconds) {}

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

    /** Progress after each step. */
    public record Progress(int step, int steps, long rollouts, double meanReward, double heldOutPassAt1) {}

    private final TrainingConfig config;
    private final Method method;
    private final List<TaskPrompt> pool;
    private final List<TaskPrompt> heldOut;
    private final int[] probe;
    private final Verifiers verifiers;
    private final NDManager manager;
    private final Transformer policy;
    private final Transformer reference;
    private final AdamW policyOptimizer;
    private final PartitionFunction partition;
    private final AdamW partitionOptimizer;
    private final NDArray poolEmbeddings;
    private final int[][] poolTokens;
    private final PromptSampler sampler;
    private final UniformSampler uniform;
    private final ReplayBuffer<Rollout> replay;
    private final TrajectoryBalanceLoss trajectoryBalance;
    private final FlowRlLoss flowRl;
    private final GrpoLoss grpo;
    private final Transformer.SamplingConfig sampling;
    private final SplittableRandom replayRandom;
    private double[] pHat;

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
        this.heldOut = List.copyOf(heldOut.subList(0, Math.min(config.evalPrompts(), heldOut.size())));
        this.verifiers = verifiers;
        if (pool.size() < config.promptsPerStep()) {
            throw new IllegalArgumentException("the pool has " + pool.size() + " prompts; prompts-per-step is " + config.promptsPerStep());
        }
        Engine.getInstance().setRandomSeed((int) config.seed());
        this.manager = NDManager.newBaseManager();
        this.policy = Transformer.fromBytes(manager, referenceWeights);
        this.grpo = new GrpoLoss(config.clipEpsilon(), config.klCoefficient());
        // A frozen copy only where a loss scores against π_ref; until the first update the policy is π_ref.
        boolean scoresAgainstReference = method.loss() == Method.Loss.FLOWRL
                || (method.loss() == Method.Loss.GRPO && grpo.usesReference());
        this.reference = scoresAgainstReference ? Transformer.fromBytes(manager, referenceWeights) : null;
        this.policyOptimizer = new AdamW(policy.parameters(), AdamW.Config.DEFAULT.withLearningRate((float) config.policyLearningRate()));
        this.sampling = new Transformer.SamplingConfig((float) config.temperature(), 1f, config.maxNewTokens());
        this.poolTokens = new int[pool.size()][];
        for (int i = 0; i < pool.size(); i++) {
            poolTokens[i] = policy.tokenizer().encodePrompt(pool.get(i).text());
        }
        this.trajectoryBalance = new TrajectoryBalanceLoss(config.beta());
        this.flowRl = new FlowRlLoss(config.flowrlBeta(), config.clipEpsilon());
        if (method.learnsPartition()) {
            poolEmbeddings = embedPool();
            double initialLogZ = method.estimatesAccuracy() ? config.initialPHat() / config.beta() : 0;
            partition = new PartitionFunction(manager, policy.config().dModel(),
                    new PartitionFunction.Config(config.partitionHidden(), (float) config.partitionDropout(), initialLogZ),
                    config.seed() + 11);
            partitionOptimizer = new AdamW(partition.parameters(),
                    AdamW.Config.DEFAULT.withLearningRate((float) config.partitionLearningRate()));
        } else {
            poolEmbeddings = null;
            partition = null;
            partitionOptimizer = null;
        }
        pHat = method.estimatesAccuracy() ? partition.accuracyEstimates(poolEmbeddings, config.beta()) : new double[pool.size()];
        this.probe = new UniformSampler(config.seed() + 29).select(pHat, config.probePrompts(), i -> false);
        this.uniform = new UniformSampler(config.seed() + 13);
        this.sampler = method.prompts() == Method.Prompts.DIFFICULTY
                ? new DifficultyScheduler(pool.stream().map(TaskPrompt::id).toList(), config.tau()) : uniform;
        this.replay = new ReplayBuffer<>(config.replayCapacity(), config.replayAdd());
        this.replayRandom = new SplittableRandom(config.seed() + 17);
    }

    /** e(x) for the whole pool, computed once, before any update: with π_ref's weights. */
    private NDArray embedPool() {
        NDManager embeddings = manager.newSubManager();
        List<NDArray> chunks = new ArrayList<>();
        int chunk = 1024;
        for (int start = 0; start < poolTokens.length; start += chunk) {
            int end = Math.min(poolTokens.length, start + chunk);
            chunks.add(policy.embedPrompts(embeddings, Arrays.asList(poolTokens).subList(start, end)));
        }
        if (chunks.size() == 1) {
            return chunks.get(0);
        }
        NDArray all = NDArrays.concat(new NDList(chunks));
        chunks.forEach(NDArray::close);
        return all;
    }

    public Transformer policy() {
        return policy;
    }

    /** The current p̂ of every pool prompt (all zero for methods without it). */
    public double[] accuracyEstimates() {
        return pHat.clone();
    }

    /** Runs every step, reporting progress after each; evaluates on the held-out prompts as it goes. */
    public Report run(Consumer<Progress> progress) {
        long start = System.nanoTime();
        List<StepRecord> history = new ArrayList<>();
        List<EvalPoint> evaluations = new ArrayList<>();
        List<double[]> estimatorPairs = new ArrayList<>();
        long rollouts = 0;
        evaluations.add(evaluate(0, 0, start));
        for (int step = 1; step <= config.steps(); step++) {
            StepRecord record = step(step, rollouts, estimatorPairs);
            rollouts = record.rollouts();
            history.add(record);
            if (step % config.evalEvery() == 0 || step == config.steps()) {
                evaluations.add(evaluate(step, rollouts, start));
            }
            progress.accept(new Progress(step, config.steps(), rollouts, record.meanReward(),
                    evaluations.get(evaluations.size() - 1).passAt1()));
        }
        return report(history, evaluations, estimatorPairs, rollouts, start);
    }

    private EvalPoint evaluate(int step, long rollouts, long start) {
        Evaluation.Result result = Evaluation.run(policy, heldOut, config.evalSamples(), sampling, 512, config.seed() + 19, verifiers);
        Evaluation.Result probed = Evaluation.run(policy, Arrays.stream(probe).mapToObj(pool::get).toList(), config.groupSize(),
                sampling, 512, config.seed() + 31 + step, verifiers);
        double probeSpearman = method.estimatesAccuracy() ? RunMetrics.spearman(Arrays.stream(probe).mapToDouble(i -> pHat[i]).toArray(),
                Arrays.stream(probed.correct()).asDoubleStream().toArray()) : Double.NaN;
        return new EvalPoint(step, rollouts, result.passAt1(), probed.passAt1(), probeSpearman, (System.nanoTime() - start) / 1e9);
    }

    /** One step: schedule, generate, score, update, refresh. */
    StepRecord step(int step, long rolloutsBefore, List<double[]> estimatorPairs) {
        Timer timer = new Timer();
        List<Group> groups;
        int rounds = 1;
        long generated;
        if (method.prompts() == Method.Prompts.DYNAMIC) {
            DynamicSampling<Group> dynamic = new DynamicSampling<>(config.promptsPerStep(), config.oversample(), config.maxSamplingRounds());
            while (dynamic.needsMore()) {
                int[] chosen = timer.time(Phase.SCHEDULING, () -> uniform.select(pHat, dynamic.promptsToDraw(), i -> false));
                List<Group> drawn = generateAndScore(step * 100 + dynamic.rounds(), chosen, timer);
                dynamic.offer(drawn, drawn.stream().map(Group::rewards).toList());
            }
            groups = dynamic.batch();
            rounds = dynamic.rounds();
            generated = (long) dynamic.offered() * config.groupSize();
        } else {
            int[] chosen = timer.time(Phase.SCHEDULING, () -> sampler.select(pHat, config.promptsPerStep(), i -> false));
            groups = generateAndScore(step * 100, chosen, timer);
            generated = (long) groups.size() * config.groupSize();
        }

        double[] estimates = new double[groups.size()];
        double[] observed = new double[groups.size()];
        int signal = 0;
        double rewardSum = 0;
        for (int g = 0; g < groups.size(); g++) {
            Group group = groups.get(g);
            estimates[g] = pHat[group.prompt()];
            observed[g] = group.correct() / (double) config.groupSize();
            signal += group.correct() > 0 && group.correct() < config.groupSize() ? 1 : 0;
            rewardSum += Arrays.stream(group.rewards()).sum();
            if (method.estimatesAccuracy() && step > config.estimatorWarmupSteps()) {
                estimatorPairs.add(new double[] {estimates[g], observed[g]});
            }
        }
        List<Rollout> fresh = groups.stream().flatMap(group -> group.rollouts().stream()).toList();
        List<Rollout> replayed = method.replay()
                ? replay.sample(config.replaySize(), replayRandom).stream().map(ReplayBuffer.Entry::item).toList() : List.of();

        double[] update = fresh.isEmpty() ? new double[] {Double.NaN, Double.NaN, Double.NaN}
                : timer.time(Phase.UPDATE, () -> update(step, groups, fresh, replayed));

        if (method.replay()) {
            List<ReplayBuffer.Group<Rollout>> scored = new ArrayList<>();
            for (int g = 0; g < groups.size(); g++) {
                scored.add(new ReplayBuffer.Group<>(pool.get(groups.get(g).prompt()).id(), estimates[g],
                        groups.get(g).rollouts().stream().map(r -> new ReplayBuffer.Trajectory<>(r.id(), r.correct(), r)).toList()));
            }
            replay.add(scored);
        }
        if (method.estimatesAccuracy()) {
            pHat = timer.time(Phase.SCHEDULING, () -> partition.accuracyEstimates(poolEmbeddings, config.beta()));
        }
        return new StepRecord(step, rolloutsBefore + generated, groups.size(),
                fresh.isEmpty() ? Double.NaN : rewardSum / fresh.size(),
                groups.isEmpty() ? Double.NaN : signal / (double) groups.size(), update[0], update[1], update[2],
                method.estimatesAccuracy() ? RunMetrics.spearman(estimates, observed) : Double.NaN,
                method.estimatesAccuracy() ? Arrays.stream(estimates).average().orElse(Double.NaN) : Double.NaN,
                replayed.size(), rounds, timer.seconds(Phase.GENERATION), timer.seconds(Phase.SCORING),
                timer.seconds(Phase.UPDATE), timer.seconds(Phase.SCHEDULING));
    }

    /** G rollouts for each chosen prompt from the current policy, verified. */
    private List<Group> generateAndScore(int round, int[] chosen, Timer timer) {
        List<int[]> rows = new ArrayList<>();
        for (int prompt : chosen) {
            for (int s = 0; s < config.groupSize(); s++) {
                rows.add(poolTokens[prompt]);
            }
        }
        List<Transformer.Completion> completions = timer.time(Phase.GENERATION,
                () -> policy.sample(rows, sampling, config.seed() * 1_000_003L + round));
        return timer.time(Phase.SCORING, () -> {
            List<Group> groups = new ArrayList<>();
            for (int p = 0; p < chosen.length; p++) {
                List<Rollout> rollouts = new ArrayList<>();
                for (int s = 0; s < config.groupSize(); s++) {
                    Transformer.Completion completion = completions.get(p * config.groupSize() + s);
                    boolean correct = verifiers.verify(pool.get(chosen[p]), policy.tokenizer().decode(completion.tokens())).correct();
                    rollouts.add(new Rollout(String.format("%07d-%05d-%03d", round, p, s), chosen[p], poolTokens[chosen[p]],
                            completion.tokens(), completion.logProbs(), correct ? 1.0 : 0.0, correct));
                }
                groups.add(new Group(chosen[p], rollouts));
            }
            return groups;
        });
    }

    /**
     * One optimiser step on the fresh rollouts plus the replayed ones; returns the loss, the
     * policy's gradient norm, and β·KL(π_old‖π_θ) estimated on the fresh rollouts after the step.
     */
    private double[] update(int step, List<Group> groups, List<Rollout> fresh, List<Rollout> replayed) {
        List<Rollout> batch = new ArrayList<>(fresh);
        batch.addAll(replayed);
        List<int[]> prompts = batch.stream().map(Rollout::promptTokens).toList();
        List<int[]> responses = batch.stream().map(Rollout::response).toList();
        float temperature = sampling.scoringTemperature();
        double loss;
        double gradientNorm;
        if (method.estimatesAccuracy()) {
            fitPartition(fresh, config.partitionFitSteps());
        }
        try (NDManager scratch = manager.newSubManager()) {
            NDArray referenceTokens = null;
            if (reference != null) {
                try (GradMode noGrad = GradMode.off()) {
                    referenceTokens = reference.logProbs(scratch, prompts, responses, temperature, false).values();
                }
            }
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                TokenLogProbs theta = policy.logProbs(scratch, prompts, responses, temperature, true);
                NDArray value = switch (method.loss()) {
                    case GRPO -> grpo.loss(theta, theta.spread(behaviourRows(batch)), referenceTokens,
                            scratch.create(advantages(groups)));
                    case FLOWRL -> flowRl.losses(logZ(scratch, batch), theta, theta.spread(behaviourRows(batch)), referenceTokens,
                            scratch.create(advantages(groups))).mean();
                    case TRAJECTORY_BALANCE -> trajectoryBalance.losses(logZ(scratch, batch), theta.sequenceSum(),
                            scratch.create(toFloats(batch.stream().mapToDouble(Rollout::behaviourLogProb).toArray())),
                            scratch.create(toFloats(batch.stream().mapToDouble(Rollout::reward).toArray()))).mean();
                };
                collector.backward(value);
                loss = value.getFloat();
            }
            double warmup = Math.min(1.0, step / (double) Math.max(1, config.policyWarmupSteps()));
            gradientNorm = policyOptimizer.step((float) (config.policyLearningRate() * warmup));
            if (partitionOptimizer != null) {
                partitionOptimizer.step((float) config.partitionLearningRate());
            }
        }
        return new double[] {loss, gradientNorm, betaKl(fresh)};
    }

    /**
     * Z_φ-only steps on the fresh rollouts. They were just sampled from the current policy, so
     * log π_θ − log π_old is zero for them and the trajectory-balance residual is log Z − r/β.
     */
    private void fitPartition(List<Rollout> fresh, int steps) {
        float[] targets = toFloats(fresh.stream().mapToDouble(r -> r.reward() / config.beta()).toArray());
        for (int i = 0; i < steps; i++) {
            try (NDManager scratch = manager.newSubManager()) {
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    NDArray loss = logZ(scratch, fresh).sub(scratch.create(targets)).square().mean();
                    collector.backward(loss);
                }
                partitionOptimizer.step((float) config.partitionLearningRate());
            }
        }
    }

    /** log Z_φ of each rollout's prompt, with gradients. */
    private NDArray logZ(NDManager scratch, List<Rollout> batch) {
        NDArray rows = poolEmbeddings.get(new NDIndex("{}", scratch.create(batch.stream().mapToLong(Rollout::prompt).toArray())));
        rows.attach(scratch);
        return partition.logZ(rows, true);
    }

    /**
     * β·KL(π_old‖π_θ) on the fresh rollouts after the update: they were drawn from π_old, so the
     * mean of log π_old − log π_θ estimates the KL. It is the gap between β·log Z* and the
     * accuracy it stands for, which p̂ assumes small.
     */
    private double betaKl(List<Rollout> fresh) {
        try (GradMode noGrad = GradMode.off(); NDManager scratch = manager.newSubManager()) {
            float[] after = policy.logProbs(scratch, fresh.stream().map(Rollout::promptTokens).toList(),
                    fresh.stream().map(Rollout::response).toList(), sampling.scoringTemperature(), false).sequenceSum().toFloatArray();
            double sum = 0;
            for (int i = 0; i < after.length; i++) {
                sum += fresh.get(i).behaviourLogProb() - after[i];
            }
            return config.beta() * sum / after.length;
        }
    }

    /** GRPO-standardised rewards of the fresh rollouts, group by group, in batch order. */
    private float[] advantages(List<Group> groups) {
        List<Double> all = new ArrayList<>();
        for (Group group : groups) {
            for (double a : GroupAdvantages.of(group.rewards())) {
                all.add(a);
            }
        }
        return toFloats(all.stream().mapToDouble(Double::doubleValue).toArray());
    }

    private static List<float[]> behaviourRows(List<Rollout> batch) {
        return batch.stream().map(Rollout::behaviourLogProbs).toList();
    }

    private static float[] toFloats(double[] values) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (float) values[i];
        }
        return out;
    }

    private Report report(List<StepRecord> history, List<EvalPoint> evaluations, List<double[]> estimatorPairs,
                          long rollouts, long start) {
        Evaluation.Result last = Evaluation.run(policy, heldOut, config.finalSamples(), sampling, 512, config.seed() + 23, verifiers);
        Map<String, Double> passAtK = new LinkedHashMap<>();
        for (int k = 1; k <= config.finalSamples(); k *= 2) {
            passAtK.put("pass@" + k, RunMetrics.meanPassAtK(last.correct(), config.finalSamples(), k));
        }
        double distinct = Arrays.stream(last.distinctCorrect()).filter(d -> d > 0).average().orElse(0);
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
                passAtK, RunMetrics.averageAtK(last.correct(), config.finalSamples()), distinct, spearman, end.probeSpearman(),
                mean(history, StepRecord::betaKl), mean(history, StepRecord::signalShare), time, List.copyOf(evaluations),
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
        policyOptimizer.close();
        if (partitionOptimizer != null) {
            partitionOptimizer.close();
        }
        manager.close();
    }
}
