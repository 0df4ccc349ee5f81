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
     * Spearman's rank correlation: Pearson's correlation of the ranks, ties given their average
     * rank. NaN when either side is constant (no ranking to correlate).
     */
    /**
     * Expected calibration error of estimates in [0, 1] against observed rates: the estimates binned
     * into {@code bins} equal tenths (for 10) of [0, 1], and the mean over prompts of
     * |mean estimate − mean observed| of their bin. NaN without values.
     */
    public static double calibrationError(double[] estimates, double[] observed, int bins) {
        if (estimates.length != observed.length) {
            throw new IllegalArgumentException(estimates.length + " estimates against " + observed.length);
        }
        if (estimates.length == 0) {
            return Double.NaN;
        }
        double[] sumEstimate = new double[bins];
        double[] sumObserved = new double[bins];
        for (int i = 0; i < estimates.length; i++) {
            int bin = Math.min(bins - 1, Math.max(0, (int) (estimates[i] * bins)));
            sumEstimate[bin] += estimates[i];
            sumObserved[bin] += observed[i];
        }
        double error = 0;
        for (int b = 0; b < bins; b++) {
            error += Math.abs(sumEstimate[b] - sumObserved[b]);
        }
        return error / estimates.length;
    }

    public static double spearman(double[] x, double[] y) {
        if (x.length != y.length) {
            throw new IllegalArgumentException(x.length + " values against " + y.length);
        }
        return pearson(ranks(x), ranks(y));
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
