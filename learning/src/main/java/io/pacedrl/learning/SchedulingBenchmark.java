package io.pacedrl.learning;

import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntPredicate;

/**
 * How long scheduling takes: choosing a batch from a large pool with the difficulty scheduler
 * and the uniform sampler, and scoring prompts with Z_φ alone and with the copies p̂ is ranked with (what the
 * scheduler does to a batch's candidates). Each figure is the median (and worst) of repeated timed runs after warm-up runs.
 */
public final class SchedulingBenchmark {
    private SchedulingBenchmark() {}

    /**
     * @param poolSize     prompts in the pool the selectors choose from
     * @param batch        prompts chosen per call
     * @param inFlightShare share of the pool marked in flight (skipped)
     * @param scoreSizes   numbers of prompts whose scoring through Z_φ is timed
     * @param embeddingSize width of the prompt embeddings (the policy's d_model)
     * @param copies       copies of Z_φ in the ranked scoring ({@code partition-copies})
     */
    public record Config(int poolSize, int batch, double inFlightShare, int repeats, List<Integer> scoreSizes,
                         int embeddingSize, PartitionFunction.Config partition, int copies) {}

    /** Milliseconds: median and worst of the timed runs. */
    public record Timing(double medianMs, double maxMs) {}

    /** {@code scoring}: Z_φ alone; {@code rankedScoring}: with {@link Config#copies} copies, ranked ({@link PartitionEnsemble}). */
    public record Result(double schedulerSetupMs, Timing difficultySelect, Timing uniformSelect, List<Integer> scoreSizes,
                         List<Timing> scoring, List<Timing> rankedScoring) {}

    public static Result run(NDManager manager, Config config) {
        SplittableRandom random = new SplittableRandom(1);
        List<String> ids = new ArrayList<>(config.poolSize());
        double[] pHat = new double[config.poolSize()];
        boolean[] inFlight = new boolean[config.poolSize()];
        for (int i = 0; i < config.poolSize(); i++) {
            ids.add(String.format("arith-%012x", random.nextLong() >>> 16));
            pHat[i] = random.nextDouble();
            inFlight[i] = random.nextDouble() < config.inFlightShare();
        }
        IntPredicate busy = i -> inFlight[i];
        long start = System.nanoTime();
        DifficultyScheduler scheduler = new DifficultyScheduler(ids, 0.5);
        double setupMs = (System.nanoTime() - start) / 1e6;
        Timing difficulty = time(config.repeats(), () -> scheduler.select(pHat, config.batch(), busy));
        UniformSampler uniform = new UniformSampler(2);
        Timing uniformTiming = time(config.repeats(), () -> uniform.select(pHat, config.batch(), busy));
        List<Timing> scoring = new ArrayList<>();
        List<Timing> ranked = new ArrayList<>();
        for (int size : config.scoreSizes()) {
            float[] rows = new float[Math.multiplyExact(size, config.embeddingSize())];
            for (int i = 0; i < rows.length; i++) {
                rows[i] = (float) random.nextGaussian();
            }
            try (NDManager scratch = manager.newSubManager();
                 PartitionFunction partition = new PartitionFunction(scratch, config.embeddingSize(), config.partition(), 3);
                 PartitionEnsemble alone = new PartitionEnsemble(scratch, partition, 0, 0);
                 PartitionEnsemble withCopies = new PartitionEnsemble(scratch, partition, 1, config.copies())) {
                List<byte[]> copies = new ArrayList<>();
                for (int c = 0; c < config.copies(); c++) {
                    try (PartitionFunction copy = new PartitionFunction(scratch, config.embeddingSize(), config.partition(), 4 + c)) {
                        copies.add(copy.toBytes());
                    }
                }
                withCopies.restoreCopies(PartitionEnsemble.toBytes(partition.toBytes(), copies));
                int repeats = Math.max(3, config.repeats() / 10);
                scoring.add(time(repeats, () -> alone.accuracyEstimates(rows, size, 0.05)));
                ranked.add(time(repeats, () -> withCopies.accuracyEstimates(rows, size, 0.05)));
            }
        }
        return new Result(setupMs, difficulty, uniformTiming, List.copyOf(config.scoreSizes()), scoring, ranked);
    }

    private static Timing time(int repeats, Runnable work) {
        for (int i = 0; i < Math.max(2, repeats / 5); i++) {
            work.run();
        }
        double[] ms = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            long start = System.nanoTime();
            work.run();
            ms[i] = (System.nanoTime() - start) / 1e6;
        }
        Arrays.sort(ms);
        return new Timing(ms[repeats / 2], ms[repeats - 1]);
    }
}
