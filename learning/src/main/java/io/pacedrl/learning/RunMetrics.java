package io.pacedrl.learning;

import java.util.Arrays;

/** The estimators a run reports: pass@k, avg@k and rank correlation. */
public final class RunMetrics {
    private RunMetrics() {}

    /**
     * Unbiased pass@k from n samples of which c are correct: 1 − C(n−c, k)/C(n, k), computed as
     * a product so that it stays exact for large n (1 when fewer than k samples are wrong).
     */
    public static double passAtK(int n, int c, int k) {
        if (k < 1 || k > n || c < 0 || c > n) {
            throw new IllegalArgumentException("need 1 ≤ k ≤ n and 0 ≤ c ≤ n, got n=" + n + " c=" + c + " k=" + k);
        }
        if (n - c < k) {
            return 1.0;
        }
        double allWrong = 1.0;
        for (int i = n - c + 1; i <= n; i++) {
            allWrong *= 1.0 - (double) k / i;
        }
        return 1.0 - allWrong;
    }

    /** Mean pass@k over prompts that each had {@code n} samples with {@code correct[i]} correct. */
    public static double meanPassAtK(int[] correct, int n, int k) {
        double sum = 0;
        for (int c : correct) {
            sum += passAtK(n, c, k);
        }
        return sum / correct.length;
    }

    /** avg@k: the mean accuracy of k samples per prompt (the expected share correct). */
    public static double averageAtK(int[] correct, int k) {
        double sum = 0;
        for (int c : correct) {
            sum += c / (double) k;
        }
        return sum / correct.length;
    }

    /**
     * Estimates in [0, 1] against observed rates, binned by estimate into equal parts of [0, 1]
     * ({@link #bin}): per bin, how many, their mean estimate and their mean observed rate (NaN for an
     * empty bin). What calibration plots show and what the calibration error sums.
     */
    public record Calibration(int[] count, double[] meanEstimate, double[] meanObserved) {
        public static Calibration of(double[] estimates, double[] observed, int bins) {
            if (estimates.length != observed.length) {
                throw new IllegalArgumentException(estimates.length + " estimates against " + observed.length);
            }
            int[] count = new int[bins];
            double[] meanEstimate = new double[bins];
            double[] meanObserved = new double[bins];
            for (int i = 0; i < estimates.length; i++) {
                int bin = bin(estimates[i], bins);
                count[bin]++;
                meanEstimate[bin] += estimates[i];
                meanObserved[bin] += observed[i];
            }
            for (int b = 0; b < bins; b++) {
                meanEstimate[b] /= count[b];
                meanObserved[b] /= count[b];
            }
            return new Calibration(count, meanEstimate, meanObserved);
        }

        /** Expected calibration error: the mean over values of |mean estimate − mean observed| of their bin; NaN without values. */
        public double error() {
            double error = 0;
            int values = 0;
            for (int b = 0; b < count.length; b++) {
                if (count[b] > 0) {
                    error += count[b] * Math.abs(meanEstimate[b] - meanObserved[b]);
                    values += count[b];
                }
            }
            return values == 0 ? Double.NaN : error / values;
        }
    }

    /** The bin of {@code p} among {@code bins} equal parts of [0, 1], values outside it in the end bins. */
    public static int bin(double p, int bins) {
        return Math.min(bins - 1, Math.max(0, (int) (p * bins)));
    }

    /**
     * Spearman's rank correlation: Pearson's correlation of the ranks, ties given their average
     * rank. NaN when either side is constant (no ranking to correlate).
     */
    public static double spearman(double[] x, double[] y) {
        if (x.length != y.length) {
            throw new IllegalArgumentException(x.length + " values against " + y.length);
        }
        return pearson(ranks(x), ranks(y));
    }

    /**
     * The highest Spearman an estimate without ties can reach against {@code observed}: ties among the
     * observed values cap it at √(1 − Σ(t³ − t) / (n³ − n)), t the size of each group of equal values
     * (the ranks that best match average ranks are a tie-breaking of them, and any tie-breaking gives
     * this). NaN below three values. Why: probe accuracies from a few samples tie at 0 for the
     * hardest prompts, so a low Spearman there may be the measure's limit rather than the estimate's.
     */
    public static double highestSpearman(double[] observed) {
        int n = observed.length;
        if (n < 3) {
            return Double.NaN;
        }
        // The spread of the average ranks over that of 1..n, (n² − 1)/12: the closed form above.
        double centre = (n + 1) / 2.0;
        double spread = Arrays.stream(ranks(observed)).map(r -> (r - centre) * (r - centre)).sum() / n;
        return Math.sqrt(spread / ((n * (double) n - 1) / 12));
    }

    static double[] ranks(double[] values) {
        Integer[] order = new Integer[values.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(values[a], values[b]));
        double[] ranks = new double[values.length];
        for (int start = 0; start < order.length; ) {
            int end = start;
            while (end + 1 < order.length && values[order[end + 1]] == values[order[start]]) {
                end++;
            }
            double average = (start + end) / 2.0 + 1;
            for (int i = start; i <= end; i++) {
                ranks[order[i]] = average;
            }
            start = end + 1;
        }
        return ranks;
    }

    static double pearson(double[] x, double[] y) {
        int n = x.length;
        double meanX = Arrays.stream(x).average().orElse(Double.NaN);
        double meanY = Arrays.stream(y).average().orElse(Double.NaN);
        double sxy = 0;
        double sxx = 0;
        double syy = 0;
        for (int i = 0; i < n; i++) {
            sxy += (x[i] - meanX) * (y[i] - meanY);
            sxx += (x[i] - meanX) * (x[i] - meanX);
            syy += (y[i] - meanY) * (y[i] - meanY);
        }
        return sxx == 0 || syy == 0 ? Double.NaN : sxy / Math.sqrt(sxx * syy);
    }
}
