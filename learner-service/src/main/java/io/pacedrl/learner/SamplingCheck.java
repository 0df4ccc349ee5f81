package io.pacedrl.learner;

import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.schemas.Rollout;
import java.util.Optional;

/**
 * Was a rollout sampled with the run's settings? The learner recomputes log-probabilities with the
 * run's temperature over the whole distribution (top-p 1) and bounds responses by max-new-tokens;
 * a rollout sampled otherwise (a generator started with another configuration) would enter the
 * importance ratios and the trajectory-balance residual with a behaviour policy that is not the one
 * assumed, so it is refused, with the difference as the reason.
 */
final class SamplingCheck {
    static final String SAMPLING_MISMATCH = "SAMPLING_MISMATCH";
    private static final double TOLERANCE = 1e-6;

    private SamplingCheck() {}

    /** What differs from the run's settings, or empty if nothing does. */
    static Optional<String> mismatch(Rollout rollout, TrainingConfig config) {
        if (Math.abs(rollout.getTemperature() - config.temperature()) > TOLERANCE) {
            return Optional.of(String.format("sampled at temperature %s by %s; the run's is %s", rollout.getTemperature(),
                    rollout.getGeneratorId(), config.temperature()));
        }
        if (Math.abs(rollout.getTopP() - 1.0) > TOLERANCE) {
            return Optional.of(String.format("sampled with top-p %s by %s; the run samples from the whole distribution (top-p 1)",
                    rollout.getTopP(), rollout.getGeneratorId()));
        }
        if (rollout.getResponseTokens().size() > config.maxNewTokens()) {
            return Optional.of(String.format("%d response tokens from %s; the run's max-new-tokens is %d",
                    rollout.getResponseTokens().size(), rollout.getGeneratorId(), config.maxNewTokens()));
        }
        return Optional.empty();
    }
}
