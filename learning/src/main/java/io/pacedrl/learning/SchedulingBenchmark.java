package io.pacedrl.learning;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntPredicate;

/**
 * How long scheduling takes: choosing a batch from a large pool with the difficulty scheduler
 * and the uniform sampler, and scoring prompts with Z_φ (what the scheduler does to a batch's candidates). Each figure is the
 * median (and worst) of repeated timed runs after warm-up runs.
 */
public final class SchedulingBenchmark {
    private SchedulingBenchmark() {}

    /**
     * @param poolSize     prompts in the pool the selectors choose from
     * @param batch        prompts chosen per call
     * @param inFlightShare share of the pool marked in flight (skipped)
     * @param scoreSizes   numbers of prompts whose scoring through Z_φ is timed
     * @param embeddingSize width of the prompt embeddings (the policy's d_model)
     */
    public record Config(int poolSize, int batch, double inFlightShare, int repeats, List<Integer> scoreSizes,
                         int embeddingSize, PartitionFunction.Config partition) {}

    /** Milliseconds: median and worst of the timed runs. */
    public record Timing(double medianMs, double maxMs) {}

    public record Result(double schedulerSetupMs, Timing difficultySelect, Timing uniformSelect, List<Integer> scoreSizes,
                         List<Timing> scoring) {}

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
        for (int size : config.scoreSizes()) {
            try (NDManager scratch = manager.newSubManager();
                 PartitionFunction partition = new PartitionFunction(scratch, config.embeddingSize(), config.partition(), 3)) {
                NDArray embeddings = scratch.randomNormal(new Shape(size, config.embeddingSize()));
                scoring.add(time(Math.max(3, config.repeats() / 10), () -> partition.accuracyEstimates(embeddings, 0.05)));
            }
        }
        return new Result(setupMs, difficulty, uniformTiming, List.copyOf(config.scoreSizes()), scoring);
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
