package io.pacedrl.learning;

import ai.djl.ndarray.NDArray;
import io.pacedrl.policy.Scalars;
import io.pacedrl.policy.TokenLogProbs;

/**
 * GRPO's loss: the PPO clipped surrogate per token, −min(ρ_t·Â, clip(ρ_t, 1−ε, 1+ε)·Â) with
 * ρ_t = π_θ(y_t|·)/π_old(y_t|·) and Â the group-standardised reward of the token's trajectory,
 * averaged over all response tokens of the batch; plus, optionally, the k3 estimate of
 * KL(π_θ‖π_ref) per token, exp(ref − θ) − (ref − θ) − 1, times a coefficient.
 */
public final class GrpoLoss {
    private final double clipEpsilon;
    private final double klCoefficient;

    public GrpoLoss(double clipEpsilon, double klCoefficient) {
        if (!(clipEpsilon > 0 && clipEpsilon < 1) || !(klCoefficient >= 0)) {
            throw new IllegalArgumentException("GRPO needs clip epsilon in (0, 1) and a KL coefficient ≥ 0, got "
                    + clipEpsilon + " and " + klCoefficient);
        }
        this.clipEpsilon = clipEpsilon;
        this.klCoefficient = klCoefficient;
    }

    /** Whether the loss needs π_ref's token log-probs. */
    public boolean usesReference() {
        return klCoefficient > 0;
    }

    /**
     * The batch loss, a scalar.
     *
     * @param oldTokens  recorded behaviour token log-probs, laid out like {@code theta}
     * @param refTokens  π_ref's token log-probs like {@code theta}; ignored (may be null) without KL
     * @param advantages Â per trajectory {@code [N]}
     */
    public NDArray loss(TokenLogProbs theta, NDArray oldTokens, NDArray refTokens, NDArray advantages) {
        NDArray mask = theta.mask();
        NDArray ratio = theta.values().sub(oldTokens).exp();
        NDArray advantage = advantages.expandDims(1);
        NDArray surrogate = ratio.mul(advantage).minimum(ratio.clip(1 - clipEpsilon, 1 + clipEpsilon).mul(advantage)).neg();
        NDArray perToken = surrogate;
        if (usesReference()) {
            NDArray logRatio = refTokens.sub(theta.values());
            perToken = perToken.add(logRatio.exp().sub(logRatio).sub(1).mul(Scalars.constant(logRatio, klCoefficient)));
        }
        return perToken.mul(mask).sum().div(mask.sum());
    }
}
