package io.pacedrl.learning;

import ai.djl.ndarray.NDArray;

/**
 * PACED-RL's loss: trajectory balance anchored on the behaviour policy,
 * L = (log Z_φ(x) + log π_θ(y|x) − log π_old(y|x) − r/β)², per trajectory. Off-policy by
 * construction, so replayed trajectories use their recorded log π_old with no correction.
 * Its gradient is 2δ with respect to both log Z and log π_θ (δ the residual in the brackets).
 */
public final class TrajectoryBalanceLoss {
    private final double beta;

    public TrajectoryBalanceLoss(double beta) {
        if (!(beta > 0)) {
            throw new IllegalArgumentException("beta must be > 0, got " + beta);
        }
        this.beta = beta;
    }

    public double beta() {
        return beta;
    }

    /**
     * The residual δ per trajectory {@code [N]}.
     *
     * @param logZ      log Z_φ(x) of each trajectory's prompt
     * @param logPTheta log π_θ(y|x), the sum of the response's token log-probs
     * @param logPOld   the behaviour log-probability recorded with the rollout
     * @param rewards   r ∈ [0, 1]
     */
    public NDArray residuals(NDArray logZ, NDArray logPTheta, NDArray logPOld, NDArray rewards) {
        return logZ.add(logPTheta).sub(logPOld).sub(rewards.div(beta));
    }

    /** δ² per trajectory {@code [N]}; a batch's loss is their mean. */
    public NDArray losses(NDArray logZ, NDArray logPTheta, NDArray logPOld, NDArray rewards) {
        return residuals(logZ, logPTheta, logPOld, rewards).square();
    }

    /**
     * p̂ = clip(β·log Z, 0, 1): at the optimum over log Z for a fixed policy, β·log Z equals the
     * online accuracy plus β·KL(π_old‖π_θ), which small updates keep small.
     */
    public static double accuracyEstimate(double logZ, double beta) {
        return Math.min(1.0, Math.max(0.0, beta * logZ));
    }
}
