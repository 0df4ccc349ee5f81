package io.pacedrl.learning;

import java.util.function.IntPredicate;

/** Chooses which prompts of the pool go into the next batch. */
public interface PromptSampler {

    /**
     * Up to {@code batch} distinct pool indices (fewer only when fewer prompts are free),
     * skipping those {@code inFlight} says are being generated or scored already.
     *
     * @param pHat the accuracy estimate of every pool prompt, by index
     */
    int[] select(double[] pHat, int batch, IntPredicate inFlight);
}
