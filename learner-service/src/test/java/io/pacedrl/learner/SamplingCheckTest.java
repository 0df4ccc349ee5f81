package io.pacedrl.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.Rollout;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** A rollout sampled with other settings than the run's is named and refused; one sampled with the run's passes. */
class SamplingCheckTest {
    private static final TrainingConfig CONFIG = TrainingConfig.defaults().with(Map.of("temperature", 0.8, "max-new-tokens", 4));

    private static Rollout rollout(float temperature, float topP, int responseTokens) {
        Rollout rollout = Fixtures.scored(Fixtures.prompt("p", "1+1=", "2", PromptSplit.TRAIN), new int[] {1, 2}, 0, 0, 1, true, 0,
                new int[responseTokens]).getRollout();
        return Rollout.newBuilder(rollout).setTemperature(temperature).setTopP(topP).setGeneratorId("g-7").build();
    }

    @Test
    void theRunsSettingsPass() {
        assertEquals(Optional.empty(), SamplingCheck.mismatch(rollout(0.8f, 1f, 4), CONFIG));
    }

    @Test
    void anotherTemperatureTopPOrLengthIsNamed() {
        assertEquals(Optional.of("sampled at temperature 1.0 by g-7; the run's is 0.8"), SamplingCheck.mismatch(rollout(1f, 1f, 4), CONFIG));
        assertEquals(Optional.of("sampled with top-p 0.9 by g-7; the run samples from the whole distribution (top-p 1)"),
                SamplingCheck.mismatch(rollout(0.8f, 0.9f, 4), CONFIG));
        assertEquals(Optional.of("5 response tokens from g-7; the run's max-new-tokens is 4"),
                SamplingCheck.mismatch(rollout(0.8f, 1f, 5), CONFIG));
    }
}
