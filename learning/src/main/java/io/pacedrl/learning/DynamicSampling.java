package io.pacedrl.learning;

import java.util.ArrayList;
import java.util.List;

/**
 * DAPO-style dynamic sampling: groups whose rewards are all equal (all correct or all wrong)
 * carry no advantage signal, so they are dropped and more prompts are drawn, oversampled, until
 * the batch holds B informative groups or the round limit is reached.
 *
 * @param <G> a scored group
 */
public final class DynamicSampling<G> {
    private final int batch;
    private final double oversample;
    private final int maxRounds;
    private final List<G> kept = new ArrayList<>();
    private int rounds;
    private int offered;

    /**
     * @param batch      informative groups wanted
     * @param oversample prompts drawn per missing group (≥ 1)
     * @param maxRounds  draws before the batch is used as it is
     */
    public DynamicSampling(int batch, double oversample, int maxRounds) {
        this(batch, oversample, maxRounds, List.of(), 0, 0);
    }

    /** A batch resumed from state kept elsewhere: the groups kept so far, rounds drawn and groups offered. */
    public DynamicSampling(int batch, double oversample, int maxRounds, List<G> kept, int rounds, int offered) {
        if (batch < 1 || !(oversample >= 1) || maxRounds < 1) {
            throw new IllegalArgumentException("need batch ≥ 1, oversample ≥ 1 and maxRounds ≥ 1, got "
                    + batch + ", " + oversample + ", " + maxRounds);
        }
        this.batch = batch;
        this.oversample = oversample;
        this.maxRounds = maxRounds;
        this.kept.addAll(kept);
        this.rounds = rounds;
        this.offered = offered;
    }

    /** Whether another round of prompts should be drawn. */
    public boolean needsMore() {
        return kept.size() < batch && rounds < maxRounds;
    }

    /** How many prompts the next round draws: the missing groups times the oversampling factor. */
    public int promptsToDraw() {
        return (int) Math.ceil((batch - kept.size()) * oversample);
    }

    /** Offers one round's scored groups, keeping the informative ones until the batch is full. */
    public void offer(List<G> groups, List<double[]> rewards) {
        rounds++;
        for (int i = 0; i < groups.size(); i++) {
            offered++;
            if (kept.size() < batch && !GroupAdvantages.allEqual(rewards.get(i))) {
                kept.add(groups.get(i));
            }
        }
    }

    /** The batch: up to B informative groups. */
    public List<G> batch() {
        return List.copyOf(kept);
    }

    public int rounds() {
        return rounds;
    }

    /** Groups generated and scored, kept or not: the rollouts' cost of the batch. */
    public int offered() {
        return offered;
    }
}
