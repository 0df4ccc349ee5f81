package io.pacedrl.learning;

import io.pacedrl.policy.Evaluation;
import io.pacedrl.policy.Transformer;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.Verifiers;
import java.util.Arrays;
import java.util.List;

/**
 * How much a policy's prompt embedding (Z_φ's input, {@code partition-embedding}) tells about that
 * policy's own accuracy, with all the data at once: {@code probe-samples} samples of each of
 * {@code prompts} pool prompts drawn uniformly, a {@link LinearProbe} fitted on half of them and
 * ranked against the observed accuracy of the other half; beside it the family-and-level reference
 * fitted the same way (each level's mean accuracy on the first half). Z_φ learns online from a
 * batch at a time; this is the figure its probe Spearman could reach from the same embedding.
 */
public final class EmbeddingProbe {
    /** Ridge penalty on the standardised columns; the figure moves by about 0.01 from 1 to 1,000. */
    public static final double RIDGE = 100;

    /**
     * @param prompts         prompts sampled, half fitted on and half ranked
     * @param meanAccuracy    their mean observed accuracy
     * @param shareWithSignal share with 0 < accuracy < 1
     * @param spearman        the linear probe's Spearman against observed accuracy on the unfitted half
     * @param levelSpearman   the family-and-level reference's on the same half
     */
    public record Result(int prompts, double meanAccuracy, double shareWithSignal, double spearman, double levelSpearman) {}

    private EmbeddingProbe() {}

    public static Result measure(Transformer policy, List<TaskPrompt> pool, int prompts, TrainingConfig config, Verifiers verifiers) {
        if (prompts < 4 || prompts > pool.size()) {
            throw new IllegalArgumentException("the embedding probe needs 4 to " + pool.size() + " prompts, got " + prompts);
        }
        int[] chosen = new UniformSampler(config.seed() + 37).select(new double[pool.size()], prompts, i -> false);
        List<TaskPrompt> probed = Arrays.stream(chosen).mapToObj(pool::get).toList();
        Evaluation.Result sampled = Evaluation.run(policy, probed, config.probeSamples(),
                new Transformer.SamplingConfig((float) config.temperature(), 1f, config.maxNewTokens()), HeldOutEvaluation.BATCH_PROMPTS,
                config.seed() + 41, verifiers);
        double[] accuracy = Arrays.stream(sampled.correct()).mapToDouble(c -> c / (double) config.probeSamples()).toArray();
        float[] embeddings = policy.embedAll(probed.stream().map(p -> policy.tokenizer().encodePrompt(p.text())).toList(),
                config.partitionEmbedding());
        int width = embeddings.length / prompts;
        // The sampler's order is already uniform: the first half fits, the second is ranked.
        int fitted = prompts / 2;
        LinearProbe probe = LinearProbe.fit(Arrays.copyOf(embeddings, fitted * width), width, Arrays.copyOf(accuracy, fitted), RIDGE);
        double[] predicted = probe.predict(Arrays.copyOfRange(embeddings, fitted * width, embeddings.length));
        double[] ranked = Arrays.copyOfRange(accuracy, fitted, prompts);
        List<String> levels = probed.stream().map(TaskPrompt::level).toList();
        double[] byLevel = HeldOutEvaluation.levelPrediction(levels.subList(0, fitted), Arrays.copyOf(accuracy, fitted),
                levels.subList(fitted, prompts));
        return new Result(prompts, Arrays.stream(accuracy).average().orElseThrow(),
                Arrays.stream(accuracy).filter(a -> a > 0 && a < 1).count() / (double) prompts,
                RunMetrics.spearman(predicted, ranked), RunMetrics.spearman(byLevel, ranked));
    }
}
