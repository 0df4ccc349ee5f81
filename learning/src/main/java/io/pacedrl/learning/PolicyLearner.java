package io.pacedrl.learning;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.pacedrl.policy.AdamW;
import io.pacedrl.policy.GradMode;
import io.pacedrl.policy.TokenLogProbs;
import io.pacedrl.policy.Transformer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What every learner does to the model, synchronous or not: the policy and its optimiser, Z_φ over
 * the pool's cached embeddings and its optimiser, the frozen π_ref where a loss needs it, and one
 * update of the configured {@link Method} on a batch of fresh groups plus replayed trajectories.
 * The {@link SyncTrainer} and the learner service both drive it, so the asynchronous learner runs
 * exactly the reference's mathematics.
 */
public final class PolicyLearner implements AutoCloseable {

    /** One sampled and scored response, with what an off-policy update needs of it. */
    public record Trajectory(String id, int prompt, int[] promptTokens, int[] response, float[] behaviourLogProbs,
                             double reward, boolean correct) {
        public double behaviourLogProb() {
            double sum = 0;
            for (float logProb : behaviourLogProbs) {
                sum += logProb;
            }
            return sum;
        }
    }

    /** A prompt's G trajectories. */
    public record Group(int prompt, List<Trajectory> trajectories) {
        public int correct() {
            return (int) trajectories.stream().filter(Trajectory::correct).count();
        }

        public double[] rewards() {
            return trajectories.stream().mapToDouble(Trajectory::reward).toArray();
        }
    }

    /**
     * What an update did: the loss, the policy's gradient norm before clipping, and β·KL(π_old‖π_θ)
     * estimated on the fresh trajectories after the step.
     */
    public record UpdateResult(double loss, double gradientNorm, double betaKl) {}

    private final TrainingConfig config;
    private final Method method;
    private final NDManager manager;
    private final Transformer policy;
    private final Transformer reference;
    private final AdamW policyOptimizer;
    private final PartitionFunction partition;
    /** Z_φ with the copies p̂ is ranked with; null for methods without p̂. */
    private final PartitionEnsemble estimator;
    private final AdamW partitionOptimizer;
    private final PartitionMemory partitionMemory;
    private final NDArray poolEmbeddings;
    /** The same embeddings in Java, row after row: what the scheduler receives, and what p̂ is computed from. */
    private final float[] poolEmbeddingValues;
    /** e(x) of the held-out probe prompts, scaled as the pool's: p̂ of prompts never learned from. */
    private final float[] heldOutEmbeddingValues;
    private final int heldOutCount;
    private final int[][] poolTokens;
    private final TrajectoryBalanceLoss trajectoryBalance;
    private final FlowRlLoss flowRl;
    private final GrpoLoss grpo;
    private final float temperature;

    /**
     * @param referenceWeights π_ref (the warm start): the policy starts from it, the pool is embedded
     *                         with it, and a frozen copy scores against it where a loss needs it
     * @param poolTexts        the prompt texts Z_φ estimates, by pool index
     */
    public PolicyLearner(TrainingConfig config, byte[] referenceWeights, List<String> poolTexts) {
        this(config, referenceWeights, poolTexts, List.of());
    }

    /**
     * @param heldOutTexts prompts outside the pool whose p̂ is asked for ({@link #heldOutEstimates}) but
     *                     which are never learned from: the held-out probe prompts
     */
    public PolicyLearner(TrainingConfig config, byte[] referenceWeights, List<String> poolTexts, List<String> heldOutTexts) {
        this.config = config;
        this.method = config.method();
        Engine.getInstance().setRandomSeed((int) config.seed());
        this.manager = NDManager.newBaseManager();
        this.policy = Transformer.fromBytes(manager, referenceWeights);
        this.grpo = new GrpoLoss(config.clipEpsilon(), config.klCoefficient());
        // A frozen copy only where a loss scores against π_ref; until the first update the policy is π_ref.
        boolean scoresAgainstReference = method.loss() == Method.Loss.FLOWRL
                || (method.loss() == Method.Loss.GRPO && grpo.usesReference());
        this.reference = scoresAgainstReference ? Transformer.fromBytes(manager, referenceWeights) : null;
        this.policyOptimizer = new AdamW(policy.parameters(), AdamW.Config.DEFAULT.withLearningRate((float) config.policyLearningRate()));
        this.temperature = (float) config.temperature();
        this.heldOutCount = heldOutTexts.size();
        this.poolTokens = new int[poolTexts.size()][];
        for (int i = 0; i < poolTokens.length; i++) {
            poolTokens[i] = policy.tokenizer().encodePrompt(poolTexts.get(i));
        }
        this.trajectoryBalance = new TrajectoryBalanceLoss(config.beta());
        this.flowRl = new FlowRlLoss(config.flowrlBeta(), config.clipEpsilon());
        if (method.learnsPartition()) {
            int width = config.partitionEmbedding().width(policy.config().dModel());
            // e(x) for the whole pool, computed once, before any update: with π_ref's weights.
            poolEmbeddingValues = policy.embedAll(Arrays.asList(poolTokens), config.partitionEmbedding());
            heldOutEmbeddingValues = policy.embedAll(heldOutTexts.stream().map(policy.tokenizer()::encodePrompt).toList(),
                    config.partitionEmbedding());
            config.partitionInput().apply(poolEmbeddingValues, width, heldOutEmbeddingValues);
            poolEmbeddings = manager.create(poolEmbeddingValues, new Shape(poolTokens.length, width));
            double initialLogZ = method.estimatesAccuracy() ? config.initialPHat() / config.beta() : 0;
            partition = new PartitionFunction(manager, width,
                    new PartitionFunction.Config(config.partitionHidden(), (float) config.partitionDropout(), initialLogZ),
                    config.seed() + 11);
            partitionOptimizer = new AdamW(partition.parameters(),
                    AdamW.Config.DEFAULT.withLearningRate((float) config.partitionLearningRate()));
            partitionMemory = new PartitionMemory(config.partitionMemory());
            estimator = method.estimatesAccuracy()
                    ? new PartitionEnsemble(manager, partition, config.partitionCopyEvery(), config.partitionCopies()) : null;
        } else {
            poolEmbeddings = null;
            poolEmbeddingValues = null;
            heldOutEmbeddingValues = null;
            partition = null;
            estimator = null;
            partitionOptimizer = null;
            partitionMemory = null;
        }
    }

    public Transformer policy() {
        return policy;
    }

    public TrainingConfig config() {
        return config;
    }

    /** The prompt tokens of pool prompt {@code index}. */
    public int[] promptTokens(int index) {
        return poolTokens[index];
    }

    public int poolSize() {
        return poolTokens.length;
    }

    /** p̂ of every pool prompt from Z_φ now and its copies (all zero for methods without it). */
    public double[] accuracyEstimates() {
        if (!method.estimatesAccuracy()) {
            return new double[poolTokens.length];
        }
        // The pool's rows are already held in pool order: scored as they are, without a copy.
        return estimator.accuracyEstimates(poolEmbeddingValues, poolTokens.length, config.beta());
    }

    /**
     * p̂ of these pool prompts from Z_φ now and its copies, scored together (all zero for methods
     * without it), computed as the difficulty scheduler computes it: from the embeddings' values, in this order.
     */
    public double[] accuracyEstimates(int[] prompts) {
        if (!method.estimatesAccuracy()) {
            return new double[prompts.length];
        }
        return estimator.accuracyEstimates(embeddingRows(prompts), prompts.length, config.beta());
    }

    /** p̂ now of the pool prompts and the held-out texts, as an evaluation asks for it. */
    public HeldOutEvaluation.Estimates estimates() {
        return new HeldOutEvaluation.Estimates() {
            @Override
            public double[] pool(int[] prompts) {
                return accuracyEstimates(prompts);
            }

            @Override
            public double[] heldOutProbes() {
                return heldOutEstimates();
            }
        };
    }

    /** p̂ now of each held-out text given at construction, in that order (all zero for methods without it). */
    public double[] heldOutEstimates() {
        if (!method.estimatesAccuracy()) {
            return new double[heldOutCount];
        }
        return estimator.accuracyEstimates(heldOutEmbeddingValues, heldOutCount, config.beta());
    }

    /**
     * log Z_φ of every pool prompt now, before p̂'s clip (which puts every prompt Z_φ thinks unsolvable
     * at 0 alike); null for methods without it.
     */
    public double[] logPartition() {
        if (!method.estimatesAccuracy()) {
            return null;
        }
        return partition.logZValues(poolEmbeddingValues, poolTokens.length);
    }

    private float[] embeddingRows(int[] prompts) {
        int width = partition.inputSize();
        float[] rows = new float[prompts.length * width];
        for (int k = 0; k < prompts.length; k++) {
            System.arraycopy(poolEmbeddingValues, prompts[k] * width, rows, k * width, width);
        }
        return rows;
    }

    /** e(x) of pool prompt {@code index} (by π_ref), or null for methods without Z_φ. */
    public float[] embedding(int index) {
        if (poolEmbeddingValues == null) {
            return null;
        }
        int width = partition.inputSize();
        return Arrays.copyOfRange(poolEmbeddingValues, index * width, (index + 1) * width);
    }

    /**
     * One optimiser step on the fresh trajectories plus the replayed ones.
     *
     * @param step     the update's number from 1, for the policy's warm-up
     * @param onPolicy whether every fresh trajectory was sampled by the policy as it is now (the
     *                 synchronous loop): then log π_θ − log π_old is exactly zero for them and Z_φ's
     *                 fit needs no forward pass of the policy
     */
    public UpdateResult update(int step, List<Group> groups, List<Trajectory> fresh, List<Trajectory> replayed,
            boolean onPolicy) {
        if (!replayed.isEmpty() && method.loss() != Method.Loss.TRAJECTORY_BALANCE) {
            // Group-relative advantages need whole groups; only trajectory balance is valid off-policy alone.
            throw new IllegalArgumentException(method + " does not learn from replayed trajectories");
        }
        if (estimator != null) {
            estimator.beforeUpdate(step);
        }
        List<Trajectory> batch = new ArrayList<>(fresh);
        batch.addAll(replayed);
        List<int[]> prompts = batch.stream().map(Trajectory::promptTokens).toList();
        List<int[]> responses = batch.stream().map(Trajectory::response).toList();
        double loss;
        double gradientNorm;
        // With fresh-old-policy recomputed, π_old of a fresh trajectory is θ as it is now: the ratio is zero.
        boolean anchoredNow = onPolicy || config.freshOldPolicy() == ReplayRules.OldPolicy.RECOMPUTED;
        if (method.estimatesAccuracy()) {
            fitPartition(fresh, anchoredNow);
        }
        float[] freshOld = null;
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
                    case TRAJECTORY_BALANCE -> {
                        float[] old = oldLogProbs(batch, fresh.size(), theta);
                        if (config.freshOldPolicy() == ReplayRules.OldPolicy.RECOMPUTED) {
                            freshOld = Arrays.copyOf(old, fresh.size());
                        }
                        yield trajectoryBalance.losses(logZ(scratch, batch), theta.sequenceSum(), scratch.create(old),
                                scratch.create(toFloats(batch.stream().mapToDouble(Trajectory::reward).toArray()))).mean();
                    }
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
        return new UpdateResult(loss, gradientNorm, betaKl(fresh, freshOld));
    }

    /**
     * Z_φ-only steps, so that log Z fits before the policy steps: on the fresh trajectories and those
     * of the last {@code partition-memory} updates ({@link PartitionMemory}). A fresh trajectory's
     * target is r/β − (log π_θ − log π_old), the log Z at which its trajectory-balance residual
     * vanishes; the log-ratio is zero when π_old is θ as it is now ({@code anchoredNow}: the current
     * policy sampled them, or {@code fresh-old-policy} is recomputed). Remembered ones keep the
     * target computed when they were fresh.
     */
    private void fitPartition(List<Trajectory> fresh, boolean anchoredNow) {
        double[] ratio = anchoredNow ? new double[fresh.size()] : logRatios(fresh);
        float[] targets = new float[fresh.size()];
        for (int i = 0; i < targets.length; i++) {
            targets[i] = (float) (fresh.get(i).reward() / config.beta() - ratio[i]);
        }
        partitionMemory.add(fresh.stream().mapToInt(Trajectory::prompt).toArray(), targets);
        long[] prompts = Arrays.stream(partitionMemory.prompts()).asLongStream().toArray();
        float[] remembered = partitionMemory.targets();
        for (int i = 0; i < config.partitionFitSteps(); i++) {
            try (NDManager scratch = manager.newSubManager()) {
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    NDArray loss = logZ(scratch, prompts).sub(scratch.create(remembered)).square().mean();
                    collector.backward(loss);
                }
                partitionOptimizer.step((float) config.partitionLearningRate());
            }
        }
    }

    /** log Z_φ of each trajectory's prompt, with gradients. */
    private NDArray logZ(NDManager scratch, List<Trajectory> batch) {
        return logZ(scratch, batch.stream().mapToLong(Trajectory::prompt).toArray());
    }

    /** log Z_φ of these pool prompts, with gradients. */
    private NDArray logZ(NDManager scratch, long[] prompts) {
        NDArray rows = poolEmbeddings.get(new NDIndex("{}", scratch.create(prompts)));
        rows.attach(scratch);
        return partition.logZ(rows, true);
    }

    /**
     * log π_old(y|x) of each trajectory of the batch (the fresh ones first): the learner's
     * pre-update policy, which is θ's own value in this forward pass (without its gradient), or the
     * recorded behaviour log-probs: {@code fresh-old-policy} chooses for the fresh trajectories
     * (recorded by default), {@code replay-old-policy} for the replayed ones (recomputed by default).
     */
    private float[] oldLogProbs(List<Trajectory> batch, int freshCount, TokenLogProbs theta) {
        float[] old = toFloats(batch.stream().mapToDouble(Trajectory::behaviourLogProb).toArray());
        boolean freshNow = config.freshOldPolicy() == ReplayRules.OldPolicy.RECOMPUTED;
        boolean replayedNow = batch.size() > freshCount && config.replayOldPolicy() == ReplayRules.OldPolicy.RECOMPUTED;
        if (freshNow || replayedNow) {
            float[] now = theta.sequenceSum().toFloatArray();
            int from = freshNow ? 0 : freshCount;
            int to = replayedNow ? batch.size() : freshCount;
            System.arraycopy(now, from, old, from, to - from);
        }
        return old;
    }

    /** log π_θ(y|x) − log π_old(y|x) of each trajectory under the policy as it is now, π_old the behaviour. */
    private double[] logRatios(List<Trajectory> trajectories) {
        return logRatios(trajectories, null);
    }

    /** As {@link #logRatios(List)}, with π_old's log-probs {@code old} where not null. */
    private double[] logRatios(List<Trajectory> trajectories, float[] old) {
        try (GradMode noGrad = GradMode.off(); NDManager scratch = manager.newSubManager()) {
            float[] now = policy.logProbs(scratch, trajectories.stream().map(Trajectory::promptTokens).toList(),
                    trajectories.stream().map(Trajectory::response).toList(), temperature, false).sequenceSum().toFloatArray();
            double[] ratios = new double[now.length];
            for (int i = 0; i < now.length; i++) {
                ratios[i] = now[i] - (old == null ? trajectories.get(i).behaviourLogProb() : old[i]);
            }
            return ratios;
        }
    }

    /**
     * β·KL(π_old‖π_θ) on the fresh trajectories after the update: they were drawn from π_old, so
     * the mean of log π_old − log π_θ estimates the KL. It is the gap between β·log Z* and the
     * accuracy it stands for, which p̂ assumes small. {@code old}: π_old's log-probs when it is the
     * pre-update policy (then the samples came from the generator's version, at most a few updates
     * older, and the mean is an approximation); null for the behaviour's.
     */
    private double betaKl(List<Trajectory> fresh, float[] old) {
        if (fresh.isEmpty()) {
            return Double.NaN;
        }
        double[] ratios = logRatios(fresh, old);
        return -config.beta() * Arrays.stream(ratios).sum() / ratios.length;
    }

    /** GRPO-standardised rewards of the fresh trajectories, group by group, in batch order. */
    private static float[] advantages(List<Group> groups) {
        List<Double> all = new ArrayList<>();
        for (Group group : groups) {
            for (double a : GroupAdvantages.of(group.rewards())) {
                all.add(a);
            }
        }
        return toFloats(all.stream().mapToDouble(Double::doubleValue).toArray());
    }

    private static List<float[]> behaviourRows(List<Trajectory> batch) {
        return batch.stream().map(Trajectory::behaviourLogProbs).toList();
    }

    private static float[] toFloats(double[] values) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (float) values[i];
        }
        return out;
    }

    /**
     * Everything an update changes, as bytes: the policy's weights, and the optimisers' moments and
     * step counts with Z_φ's parameters. With the same π_ref and pool, {@link #restore} puts a
     * learner back exactly where this one is.
     *
     * @param weights   the policy in the {@code Weights} format (what model-updates carries)
     * @param trainer   the rest: AdamW of the policy, then Z_φ's parameters, its AdamW and what its fit
     *                  remembers ({@link PartitionMemory}; absent from states written before it, read as empty)
     * @param partition Z_φ's parameters in {@link PartitionFunction#FORMAT}, or with the copies p̂ is ranked
     *                  with in {@link PartitionEnsemble#FORMAT} where {@code partition-copies} keeps some (what
     *                  model-updates carries beside the policy; {@link #restore} takes the copies from it),
     *                  or null for methods without Z_φ
     */
    public record State(byte[] weights, byte[] trainer, byte[] partition) {}

    public State state() {
        try (Snapshot snapshot = snapshot()) {
            return snapshot.toState();
        }
    }

    /**
     * Copies of everything {@link State} holds, taken in native memory (a few milliseconds), to be
     * turned into bytes by {@link Snapshot#toState} on another thread while training goes on.
     */
    public Snapshot snapshot() {
        NDManager copies = manager.newSubManager();
        List<NDArray> weights = AdamW.copies(policy.parameters().values(), copies);
        Map<String, NDArray> named = new LinkedHashMap<>();
        int i = 0;
        for (String name : policy.parameters().keySet()) {
            named.put(name, weights.get(i++));
        }
        return new Snapshot(copies, named, policyOptimizer.copyState(copies),
                partition == null ? null : AdamW.copies(partition.parameters().values(), copies),
                partition == null ? null : partitionOptimizer.copyState(copies), partition == null ? null : memoryBytes(),
                estimator != null && estimator.keepsCopies() ? estimator.copyBytes() : null);
    }

    private byte[] memoryBytes() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            partitionMemory.write(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** A learner's state copied at one moment; close it once turned into bytes. */
    public final class Snapshot implements AutoCloseable {
        private final NDManager copies;
        private final Map<String, NDArray> weights;
        private final AdamW.Moments policyMoments;
        private final List<NDArray> partitionValues;
        private final AdamW.Moments partitionMoments;
        private final byte[] partitionMemory;
        /** The parameters of Z_φ's copies, published with it; null where none are kept. */
        private final List<byte[]> partitionCopies;

        private Snapshot(NDManager copies, Map<String, NDArray> weights, AdamW.Moments policyMoments, List<NDArray> partitionValues,
                AdamW.Moments partitionMoments, byte[] partitionMemory, List<byte[]> partitionCopies) {
            this.copies = copies;
            this.weights = weights;
            this.policyMoments = policyMoments;
            this.partitionValues = partitionValues;
            this.partitionMoments = partitionMoments;
            this.partitionMemory = partitionMemory;
            this.partitionCopies = partitionCopies;
        }

        public State toState() {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                policyMoments.write(out);
                out.writeBoolean(partitionValues != null);
                if (partitionValues != null) {
                    AdamW.writeArrays(out, partitionValues);
                    partitionMoments.write(out);
                    out.write(partitionMemory);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            byte[] now = partitionValues == null ? null
                    : PartitionFunction.toBytes(partition.inputSize(), partition.config().hidden(), partitionValues);
            return new State(policy.toBytes(weights), bytes.toByteArray(), partitionCopies == null ? now
                    : PartitionEnsemble.toBytes(now, partitionCopies));
        }

        @Override
        public void close() {
            copies.close();
        }
    }

    /** Puts back a state taken from a learner with the same configuration, π_ref and pool. */
    public void restore(State state) {
        policy.copyFrom(state.weights());
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(state.trainer()))) {
            policyOptimizer.readState(in);
            if (in.readBoolean() != (partition != null)) {
                throw new IllegalArgumentException("the state was taken from a learner " + (partition == null ? "with" : "without")
                        + " Z_φ; this one runs " + method);
            }
            if (partition != null) {
                AdamW.readArrays(in, partition.parameters().values());
                partitionOptimizer.readState(in);
                if (in.available() > 0) {
                    partitionMemory.read(in, poolTokens.length);
                } else {
                    partitionMemory.clear();
                }
                if (estimator != null && state.partition() != null) {
                    estimator.restoreCopies(state.partition());
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("the learner state is truncated or corrupt: " + e, e);
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
