package io.pacedrl.learning;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * PACED-RL's error-prioritised replay buffer. A scored group's priority is
 * |n_correct/G − p̂(x)| with p̂ from before the update: how wrong the estimate was. Its correct
 * trajectories become candidates; the step's candidates, highest priority first (ties by id),
 * are added up to {@code addMax}, and the buffer then keeps the {@code capacity} highest
 * priorities, ties going to the newer entry, then to the smaller id. Updates draw from it in
 * proportion to priority.
 *
 * @param <T> what a trajectory carries (tokens, recorded log-probs, reward)
 */
public final class ReplayBuffer<T> {

    /** One scored trajectory of a group. */
    public record Trajectory<T>(String id, boolean correct, T item) {}

    /** One prompt's scored group and the p̂ the scheduler had for it before this update. */
    public record Group<T>(String promptId, double pHat, List<Trajectory<T>> trajectories) {}

    /** A buffered trajectory; {@code added} orders entries by age (larger is newer). */
    public record Entry<T>(String id, double priority, long added, T item) {}

    /** Highest priority first, then the newer entry, then the smaller id. */
    private static final Comparator<Entry<?>> KEEP_ORDER = Comparator.<Entry<?>>comparingDouble(Entry::priority).reversed()
            .thenComparing(Comparator.<Entry<?>>comparingLong(Entry::added).reversed())
            .thenComparing(Entry::id);

    private final int capacity;
    private final int addMax;
    private final List<Entry<T>> entries = new ArrayList<>();
    private long additions;

    public ReplayBuffer(int capacity, int addMax) {
        this(capacity, addMax, List.of(), 0);
    }

    /**
     * A buffer resumed from state kept elsewhere (a state store): its entries and how many additions
     * were made before, so that new entries still rank as newer.
     */
    public ReplayBuffer(int capacity, int addMax, Collection<Entry<T>> entries, long additions) {
        if (capacity < 1 || addMax < 0) {
            throw new IllegalArgumentException("capacity must be ≥ 1 and addMax ≥ 0, got " + capacity + " and " + addMax);
        }
        this.capacity = capacity;
        this.addMax = addMax;
        this.entries.addAll(entries);
        this.entries.sort(KEEP_ORDER);
        this.additions = additions;
    }

    /** How many times {@link #add} has run: the age stamp of the latest entries. */
    public long additions() {
        return additions;
    }

    /** |n_correct/G − p̂|: the error of the accuracy estimate on this group. */
    public static double priority(int correct, int groupSize, double pHat) {
        return Math.abs(correct / (double) groupSize - pHat);
    }

    /** Offers one step's scored groups; returns the entries that were added and kept. */
    public List<Entry<T>> add(List<Group<T>> groups) {
        List<Entry<T>> candidates = new ArrayList<>();
        long step = ++additions;
        for (Group<T> group : groups) {
            int correct = (int) group.trajectories().stream().filter(Trajectory::correct).count();
            double priority = priority(correct, group.trajectories().size(), group.pHat());
            for (Trajectory<T> trajectory : group.trajectories()) {
                if (trajectory.correct()) {
                    candidates.add(new Entry<>(trajectory.id(), priority, step, trajectory.item()));
                }
            }
        }
        candidates.sort(KEEP_ORDER);
        List<Entry<T>> added = candidates.subList(0, Math.min(addMax, candidates.size()));
        entries.addAll(added);
        entries.sort(KEEP_ORDER);
        if (entries.size() > capacity) {
            entries.subList(capacity, entries.size()).clear();
        }
        return added.stream().filter(entries::contains).toList();
    }

    /** The buffer, in keep order (highest priority first). */
    public List<Entry<T>> entries() {
        return List.copyOf(entries);
    }

    /** The random source of the draw for learner update {@code version} in a run seeded {@code seed}. */
    public static SplittableRandom drawRandom(long seed, long version) {
        return new SplittableRandom(seed * 1_000_003L + version);
    }

    /**
     * {@code count} distinct entries (all of them if there are fewer), drawn with probability
     * proportional to priority: weighted sampling without replacement, each entry keyed by
     * log(u)/priority and the largest keys taken (Efraimidis and Spirakis).
     */
    public List<Entry<T>> sample(int count, SplittableRandom random) {
        if (count >= entries.size()) {
            return entries();
        }
        record Keyed<T>(double key, Entry<T> entry) {}
        List<Keyed<T>> keyed = new ArrayList<>(entries.size());
        for (Entry<T> entry : entries) {
            double u = random.nextDouble();
            // Zero priority: drawn only after every positive one (key −∞).
            keyed.add(new Keyed<>(entry.priority() > 0 ? Math.log(u) / entry.priority() : Double.NEGATIVE_INFINITY, entry));
        }
        keyed.sort(Comparator.comparingDouble((Keyed<T> k) -> k.key()).reversed());
        return keyed.subList(0, count).stream().map(Keyed::entry).toList();
    }
}
