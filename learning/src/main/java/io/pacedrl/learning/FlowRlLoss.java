package io.pacedrl.learning;

import ai.djl.ndarray.NDArray;
import io.pacedrl.policy.TokenLogProbs;

/**
 * FlowRL's loss: length-normalised trajectory balance against the reference policy,
 * L = w · (log Z_φ(x) + mean_t log π_θ − β_F·Â − mean_t log π_ref)², with Â the
 * group-standardised reward and w = clip(exp(mean_t log π_θ − mean_t log π_old), 1−ε, 1+ε) an
 * importance weight that is held constant (no gradient flows through it).
 */
public final class FlowRlLoss {
    private final double beta;
    private final double clipEpsilon;

    public FlowRlLoss(double beta, double clipEpsilon) {
        if (!(beta > 0) || !(clipEpsilon > 0 && clipEpsilon < 1)) {
            throw new IllegalArgumentException("FlowRL needs beta > 0 and clip epsilon in (0, 1), got " + beta + " and " + clipEpsilon);
        }
        this.beta = beta;
        this.clipEpsilon = clipEpsilon;
    }

    /** The residual in the brackets, per trajectory {@code [N]}. */
    public NDArray residuals(NDArray logZ, TokenLogProbs theta, NDArray refTokens, NDArray standardisedRewards) {
        NDArray lengths = theta.mask().sum(new int[] {1});
        return logZ.add(theta.sequenceMean()).sub(standardisedRewards.mul(beta)).sub(refTokens.sum(new int[] {1}).div(lengths));
    }

    /** The detached importance weight w per trajectory {@code [N]}. */
    public NDArray weights(TokenLogProbs theta, NDArray oldTokens) {
        NDArray lengths = theta.mask().sum(new int[] {1});
        NDArray logRatio = theta.sequenceMean().sub(oldTokens.sum(new int[] {1}).div(lengths));
        return logRatio.stopGradient().exp().clip(1 - clipEpsilon, 1 + clipEpsilon);
    }

    /**
     * w·δ² per trajectory {@code [N]}; a batch's loss is their mean.
     *
     * @param oldTokens recorded behaviour token log-probs, laid out like {@code theta}
     * @param refTokens π_ref's token log-probs, laid out like {@code theta}
     */
    public NDArray losses(NDArray logZ, TokenLogProbs theta, NDArray oldTokens, NDArray refTokens, NDArray standardisedRewards) {
        return weights(theta, oldTokens).mul(residuals(logZ, theta, refTokens, standardisedRewards).square());
    }
}
