package io.pacedrl.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.pacedrl.tasks.TaskFamily;
import io.pacedrl.tasks.TaskSuite;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Consumer;

/**
 * Measures the policy model against the machine: the matmul roofline (the best of a few large
 * float32 matmuls, forward only, in this process), training throughput on task-suite
 * demonstrations, and sampling throughput with and without the KV cache. FLOPs are counted
 * from the architecture ({@link Transformer.Config#forwardFlopsPerToken}); a training step is
 * three forward passes' worth (backward costs two).
 */
public final class ModelBenchmark {

    /**
     * @param trainBatch      sequences per training step
     * @param trainSteps      timed training steps (after two untimed)
     * @param sampleBatch     rows sampled at once
     * @param newTokens       tokens sampled per row
     * @param seed            weights and data seed
     */
    public record Config(Transformer.Config model, int trainBatch, int trainSteps, int sampleBatch, int newTokens, long seed) {}

    /** The measured figures. */
    public record Result(double matmulGflops, int matmulSize, double trainTokensPerSecond, double trainGflops,
                         double trainRooflineShare, double sampleTokensPerSecondCached, double sampleTokensPerSecondRecomputed,
                         double cacheSpeedup, double sampleGflopsCached, double sampleRooflineShare, long parameters) {}

    private ModelBenchmark() {}

    public static Result run(NDManager manager, Config config, Consumer<String> progress) {
        progress.accept("matmul roofline");
        double best = 0;
        int bestSize = 0;
        for (int size : new int[] {256, 512, 1024}) {
            double gflops = matmulGflops(manager, size);
            if (gflops > best) {
                best = gflops;
                bestSize = size;
            }
        }
        CharTokenizer tokenizer = CharTokenizer.ASCII;
        try (Transformer model = new Transformer(manager, config.model(), tokenizer, config.seed());
             AdamW optimizer = new AdamW(model.parameters(), AdamW.Config.DEFAULT)) {
            progress.accept("training");
            SupervisedStep training = new SupervisedStep(model, optimizer);
            Iterator<TaskFamily.Example> examples = TaskSuite.generate(new TaskSuite.Config(config.seed(), 1, 0, 0.5, 0.0))
                    .demonstrations(config.seed());
            DemonstrationBatches batches = new DemonstrationBatches(examples, tokenizer, config.trainBatch(), 16, config.seed());
            long tokens = 0;
            double flops = 0;
            long elapsed = 0;
            for (int step = 0; step < config.trainSteps() + 2; step++) {
                DemonstrationBatches.Batch batch = batches.next();
                long start = System.nanoTime();
                training.step(manager, batch.prompts(), batch.responses(), 1e-4f);
                if (step >= 2) {
                    elapsed += System.nanoTime() - start;
                    tokens += batch.tokens();
                    // Padded positions are computed too, but only real tokens count as work done.
                    flops += 3 * batch.tokens() * config.model().forwardFlopsPerToken(batch.width() / 2);
                }
            }
            double trainSeconds = elapsed / 1e9;

            progress.accept("sampling with the KV cache");
            List<int[]> prompts = new ArrayList<>();
            for (int i = 0; i < config.sampleBatch(); i++) {
                prompts.add(tokenizer.encodePrompt(examples.next().prompt().text()));
            }
            // A long cap and no EOS bias: an untrained model rarely stops early, so rows run to the cap.
            Transformer.SamplingConfig sampling = new Transformer.SamplingConfig(1f, 1f, config.newTokens());
            // The first run at a new batch shape pays PyTorch's allocations: time the second.
            model.sample(prompts, sampling, 1);
            long cachedStart = System.nanoTime();
            List<Transformer.Completion> cached = model.sample(prompts, sampling, 1);
            double cachedSeconds = (System.nanoTime() - cachedStart) / 1e9;
            progress.accept("sampling without the cache");
            model.sampleWithoutCache(prompts, sampling, 1);
            long recomputedStart = System.nanoTime();
            List<Transformer.Completion> recomputed = model.sampleWithoutCache(prompts, sampling, 1);
            double recomputedSeconds = (System.nanoTime() - recomputedStart) / 1e9;

            long cachedTokens = 0;
            double sampleFlops = 0;
            for (int b = 0; b < prompts.size(); b++) {
                int n = cached.get(b).tokens().length;
                cachedTokens += n;
                // The prompt once, then one token per step at its growing length.
                sampleFlops += prompts.get(b).length * config.model().forwardFlopsPerToken(prompts.get(b).length / 2);
                for (int t = 0; t < n - 1; t++) {
                    sampleFlops += config.model().forwardFlopsPerToken(prompts.get(b).length + t);
                }
            }
            long recomputedTokens = recomputed.stream().mapToLong(c -> c.tokens().length).sum();
            double cachedRate = cachedTokens / cachedSeconds;
            double recomputedRate = recomputedTokens / recomputedSeconds;
            double trainGflops = flops / trainSeconds / 1e9;
            double sampleGflops = sampleFlops / cachedSeconds / 1e9;
            return new Result(best, bestSize, tokens / trainSeconds, trainGflops, trainGflops / best,
                    cachedRate, recomputedRate, cachedRate / recomputedRate, sampleGflops, sampleGflops / best,
                    config.model().parameterCount());
        }
    }

    /** GFLOP/s of an n×n by n×n float32 matmul, best of several runs. */
    static double matmulGflops(NDManager manager, int n) {
        try (NDManager scratch = manager.newSubManager(); GradMode noGrad = GradMode.off()) {
            NDArray a = scratch.randomNormal(new Shape(n, n));
            NDArray b = scratch.randomNormal(new Shape(n, n));
            a.matMul(b).close();
            double best = Double.MAX_VALUE;
            int repeats = Math.max(3, (int) (2e9 / (2.0 * n * n * n)));
            for (int r = 0; r < repeats; r++) {
                long start = System.nanoTime();
                NDArray c = a.matMul(b);
                c.getFloat(0, 0); // wait for the result
                best = Math.min(best, (System.nanoTime() - start) / 1e9);
                c.close();
            }
            return 2.0 * n * n * n / best / 1e9;
        }
    }
}
