package io.pacedrl.learning;

import java.util.LinkedHashSet;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.IntPredicate;

/** The baselines' prompt sampler: B free prompts uniformly at random, without replacement, seeded. */
public final class UniformSampler implements PromptSampler {
    private final SplittableRandom random;

    public UniformSampler(long seed) {
        this.random = new SplittableRandom(seed);
    }

    @Override
    public int[] select(double[] pHat, int batch, IntPredicate inFlight) {
        return draw(random, pHat.length, batch, inFlight);
    }

    /**
     * Up to {@code batch} distinct indices of [0, pool) that are not {@code unavailable}, uniformly
     * without replacement, in the order drawn from {@code random}.
     */
    static int[] draw(SplittableRandom random, int pool, int batch, IntPredicate inFlight) {
        Set<Integer> chosen = new LinkedHashSet<>();
        // Rejection sampling is cheap while the batch is a small part of the pool; when draws keep
        // missing, count the free prompts once to know when to stop.
        int misses = 0;
        int free = -1;
        while (chosen.size() < batch && (free < 0 || chosen.size() < free)) {
            int i = random.nextInt(pool);
            if (!inFlight.test(i) && chosen.add(i)) {
                continue;
            }
            if (++misses > 4 * batch + 64 && free < 0) {
                free = 0;
                for (int j = 0; j < pool; j++) {
                    free += inFlight.test(j) ? 0 : 1;
                }
            }
        }
        return chosen.stream().mapToInt(Integer::intValue).toArray();
    }
}
