package io.pacedrl.learning;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The synchronous reference's decisions, apart from the model: which prompts batch b takes and
 * which trajectories update v replays. Batch b feeds update b (version b → b + 1).
 * <ul>
 * <li>PACED: the B − E prompts nearest τ among the batch's candidates ({@link DifficultyScheduler#candidates}) and E
 *     drawn uniformly from the others, E = {@code explore-share} of B;
 * <li>uniform methods and dynamic sampling's rounds: a draw seeded from (seed, batch, round) over
 *     the pool in id order;
 * <li>replay: update v draws from the buffer as it stands after the groups of batch v − 1 were
 *     offered, never from batch v's own, with a random source seeded from (seed, v); before the
 *     draw, the priorities are recomputed with p̂ from Z_φ of version v (unless
 *     {@code replay-priority} is {@code recorded}).
 * </ul>
 * The difficulty stream's scheduler decides by the same rules from the same inputs, with prompts
 * in flight left out of its candidates; a test feeds both the same groups and Z_φ and compares.
 *
 * @param <T> what a replayed trajectory carries
 */
public final class ReferenceSchedule<T> {

    /** A batch's prompts (pool indices) and the p̂ each was chosen with (null without estimates). */
    public record Choice(int[] prompts, double[] pHat) {}

    private final TrainingConfig config;
    private final DifficultyScheduler order;
    private final Map<String, Integer> poolIndex = new HashMap<>();
    private ReplayBuffer<T> replay;

    /** @param poolIds the pool's prompt ids, by pool index */
    public ReferenceSchedule(TrainingConfig config, List<String> poolIds) {
        if (poolIds.size() < config.promptsPerStep()) {
            throw new IllegalArgumentException("the pool has " + poolIds.size() + " prompts; prompts-per-step is "
                    + config.promptsPerStep());
        }
        this.config = config;
        this.order = new DifficultyScheduler(poolIds, config.tau());
        for (int i = 0; i < poolIds.size(); i++) {
            poolIndex.put(poolIds.get(i), i);
        }
        this.replay = new ReplayBuffer<>(config.replayCapacity(), config.replayAdd());
    }

    /**
     * Batch {@code batch}'s B prompts.
     *
     * @param estimates p̂ of the given pool prompts from the current Z_φ, or null for methods without it
     */
    public Choice choose(long batch, Function<int[], double[]> estimates) {
        int size = config.promptsPerStep();
        if (config.method().prompts() == Method.Prompts.DIFFICULTY) {
            int[] candidates = order.candidates(config.selectionCandidates(), i -> false,
                    DifficultyScheduler.candidateSeed(config.seed(), batch));
            double[] scores = estimates.apply(candidates);
            int[] chosen = order.selectAmong(candidates, scores, size, config.explorePerBatch(),
                    DifficultyScheduler.uniformSeed(config.seed(), batch, 0));
            return new Choice(chosen, DifficultyScheduler.estimatesOf(chosen, candidates, scores));
        }
        int[] chosen = uniform(batch, 0, size);
        return new Choice(chosen, estimates == null ? null : estimates.apply(chosen));
    }

    /** {@code count} prompts drawn uniformly for round {@code round} of batch {@code batch}. */
    public int[] uniform(long batch, int round, int count) {
        return order.drawUniform(count, i -> false, DifficultyScheduler.uniformSeed(config.seed(), batch, round));
    }

    /**
     * The R trajectories update {@code version} replays, drawn in proportion to priority.
     *
     * @param estimates p̂ of the given pool prompts from Z_φ of {@code version}, or null for methods without it
     */
    public List<ReplayBuffer.Entry<T>> drawReplay(long version, Function<int[], double[]> estimates) {
        if (estimates != null && config.replayPriority() == ReplayRules.Priority.CURRENT) {
            replay.reprioritise(ids -> estimates.apply(ids.stream().mapToInt(poolIndex::get).toArray()));
        }
        return replay.sample(config.replaySize(), ReplayBuffer.drawRandom(config.seed(), version));
    }

    /** A copy of the replay buffer as it stands: what a fork of the run starts with. */
    public ReplayBuffer<T> replay() {
        return new ReplayBuffer<>(config.replayCapacity(), config.replayAdd(), replay.entries(), replay.additions());
    }

    /** Starts from {@code buffer}'s entries and age instead (a fork's), into a buffer of this run's capacity. */
    public void restoreReplay(ReplayBuffer<T> buffer) {
        replay = new ReplayBuffer<>(config.replayCapacity(), config.replayAdd(), buffer.entries(), buffer.additions());
    }

    /** A batch's scored groups, each with the p̂ it was chosen with, offer their successes to the buffer. */
    public void offerReplay(List<ReplayBuffer.Group<T>> groups) {
        replay.add(groups);
    }
}
