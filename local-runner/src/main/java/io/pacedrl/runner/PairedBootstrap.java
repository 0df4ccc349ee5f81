package io.pacedrl.runner;

import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;

/**
 * A 95 % percentile bootstrap interval over paired seeds. Methods compared run with the same seeds
 * (same suite, π_ref and seed), so a resample draws seeds, with replacement, and takes every
 * method's run of each: what the seeds share cancels in the comparison. The resampling is seeded, so
 * a report is reproduced exactly from its runs.
 */
final class PairedBootstrap {
    static final int RESAMPLES = 10_000;

    /**
     * A statistic over all the seeds ({@code estimate}) and the 2.5th and 97.5th percentiles of its
     * resampled values; a resample whose value is undefined (NaN) is left out and counted
     * ({@code undefined}). Infinite ends mean some resamples never got there (a method that never
     * reached a target).
     */
    record Interval(double estimate, double low, double high, int seeds, int undefined) {
        /** Whether the interval lies wholly on one side of {@code parity}. */
        boolean excludes(double parity) {
            return low > parity || high < parity;
        }
    }

    private PairedBootstrap() {}

    /**
     * @param seeds     how many paired seeds there are
     * @param statistic the statistic of a sample of them, given as indices (repeats allowed)
     * @param seed      the resampling's seed
     */
    static Interval interval(int seeds, ToDoubleFunction<int[]> statistic, long seed) {
        if (seeds < 1) {
            return new Interval(Double.NaN, Double.NaN, Double.NaN, 0, 0);
        }
        int[] all = new int[seeds];
        Arrays.setAll(all, i -> i);
        double estimate = statistic.applyAsDouble(all);
        SplittableRandom random = new SplittableRandom(seed);
        double[] values = new double[RESAMPLES];
        int defined = 0;
        for (int r = 0; r < RESAMPLES; r++) {
            int[] sample = new int[seeds];
            for (int i = 0; i < seeds; i++) {
                sample[i] = random.nextInt(seeds);
            }
            double value = statistic.applyAsDouble(sample);
            if (!Double.isNaN(value)) {
                values[defined++] = value;
            }
        }
        if (defined == 0) {
            return new Interval(estimate, Double.NaN, Double.NaN, seeds, RESAMPLES);
        }
        double[] sorted = Arrays.copyOf(values, defined);
        Arrays.sort(sorted);
        return new Interval(estimate, percentile(sorted, 0.025), percentile(sorted, 0.975), seeds, RESAMPLES - defined);
    }

    /** The mean of {@code values} at the sampled indices. */
    static double meanOf(double[] values, int[] sample) {
        double sum = 0;
        for (int i : sample) {
            sum += values[i];
        }
        return sum / sample.length;
    }

    /** Linear interpolation between order statistics (the usual definition, type 7). */
    private static double percentile(double[] sorted, double q) {
        double position = q * (sorted.length - 1);
        int below = (int) Math.floor(position);
        int above = Math.min(sorted.length - 1, below + 1);
        double low = sorted[below];
        double high = sorted[above];
        if (Double.isInfinite(low) || Double.isInfinite(high)) {
            return position - below < 0.5 ? low : high;
        }
        return low + (position - below) * (high - low);
    }
}
