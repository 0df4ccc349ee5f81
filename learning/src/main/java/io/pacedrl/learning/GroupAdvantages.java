package io.pacedrl.learning;

/**
 * GRPO's group-relative advantages: each reward standardised against its group,
 * Â_i = (r_i − mean) / (std + 1e-6) with the sample standard deviation (N − 1). A group of one,
 * or one whose rewards are all equal, carries no signal: every advantage is 0.
 */
public final class GroupAdvantages {
    private static final double EPSILON = 1e-6;

    private GroupAdvantages() {}

    public static double[] of(double[] rewards) {
        int n = rewards.length;
        double[] advantages = new double[n];
        if (n < 2 || allEqual(rewards)) {
            return advantages;
        }
        double mean = 0;
        for (double r : rewards) {
            mean += r;
        }
        mean /= n;
        double squares = 0;
        for (double r : rewards) {
            squares += (r - mean) * (r - mean);
        }
        double std = Math.sqrt(squares / (n - 1));
        for (int i = 0; i < n; i++) {
            advantages[i] = (rewards[i] - mean) / (std + EPSILON);
        }
        return advantages;
    }

    /** Whether every reward is the same: such a group has no advantage signal. */
    public static boolean allEqual(double[] rewards) {
        for (double r : rewards) {
            if (r != rewards[0]) {
                return false;
            }
        }
        return true;
    }
}
