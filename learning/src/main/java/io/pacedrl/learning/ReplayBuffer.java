package io.pacedrl.learning;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * PACED-RL's error-prioritised replay buffer. A scored group's priority is
 * |n_correct/G − p̂(x)| with p̂ from before the update: how wrong the estimate was. Its correct
 * trajectories become candidates; the step's candidates, highest priority first (ties by id),
 * are added up to {@code addMax}, one per (prompt, response) (a held entry with the same pair gives
 * way to the newer), and the buffer then keeps the {@code capacity} highest priorities, ties going
 * to the newer entry, then to the smaller id. Updates draw from it in proportion to priority.
 *
 * <p>A priority measures how wrong p̂ is, so it goes stale as Z_φ learns: {@link #reprioritise}
 * recomputes every entry's against the current p̂ (|accuracy of its group − p̂ now|), which is what
 * retires a prompt the estimate has caught up with. The synchronous loop and the difficulty stream
 * call it before each draw (unless the run keeps the priorities it recorded).
 *
 * @param <T> what a trajectory carries (tokens, recorded log-probs, reward)
 */
public final class ReplayBuffer<T> {

    /**
     * One scored trajectory of a group; {@code response} identifies what was answered (two
     * trajectories of a prompt with the same response are the same sample for replay).
     */
    public record Trajectory<T>(String id, boolean correct, String response, T item) {}

    /** One prompt's scored group and the p̂ the scheduler had for it before this update. */
    public record Group<T>(String promptId, double pHat, List<Trajectory<T>> trajectories) {}

    /**
     * A buffered trajectory: {@code accuracy} is n_correct/G of the group it came from (what its
     * priority is recomputed against), {@code added} orders entries by age (larger is newer).
     */
    public record Entry<T>(String id, String promptId, String response, double accuracy, double priority, long added, T item) {
        Entry<T> withPriority(double newPriority) {
            return new Entry<>(id, promptId, response, accuracy, newPriority, added, item);
        }

        /** The (prompt, response) it holds: the buffer keeps one entry per pair. */
        String sample() {
            return promptId + '\u0000' + response;
        }
    }

    /** A response's identity from its token ids, the same in every service. */
    public static String responseOf(int[] tokens) {
        StringBuilder out = new StringBuilder(tokens.length * 4);
        for (int token : tokens) {
            out.append(Integer.toString(token, 36)).append('.');
        }
        return out.toString();
    }

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
            double accuracy = correct / (double) group.trajectories().size();
            double priority = priority(correct, group.trajectories().size(), group.pHat());
            for (Trajectory<T> trajectory : group.trajectories()) {
                if (trajectory.correct()) {
                    candidates.add(new Entry<>(trajectory.id(), group.promptId(), trajectory.response(), accuracy, priority, step,
                            trajectory.item()));
                }
            }
        }
        candidates.sort(KEEP_ORDER);
        Set<String> taken = new HashSet<>(); // the (prompt, response) of each added entry
        List<Entry<T>> added = new ArrayList<>();
        for (Entry<T> candidate : candidates) {
            if (added.size() == addMax) {
                break;
            }
            if (taken.add(candidate.sample())) {
                added.add(candidate);
            }
        }
        // A held entry answering the same prompt the same way gives way to the newer one.
        entries.removeIf(e -> taken.contains(e.sample()));
        entries.addAll(added);
        entries.sort(KEEP_ORDER);
        if (entries.size() > capacity) {
            entries.subList(capacity, entries.size()).clear();
        }
        return added.stream().filter(entries::contains).toList();
    }

    /**
     * Recomputes every entry's priority as |accuracy of its group − p̂ now| and re-sorts: the
     * draw that follows, and the next additions' evictions, rank by how wrong p̂ is today.
     *
     * @param pHat p̂ of the given prompts from the current Z_φ, in order (NaN: none, the priority stays)
     */
    public void reprioritise(Function<List<String>, double[]> pHat) {
        if (entries.isEmpty()) {
            return;
        }
        double[] now = pHat.apply(entries.stream().map(Entry::promptId).toList());
        if (now.length != entries.size()) {
            throw new IllegalArgumentException(now.length + " estimates for " + entries.size() + " entries");
        }
        for (int i = 0; i < now.length; i++) {
            Entry<T> entry = entries.get(i);
            // Kept as it is: an entry from before accuracies were recorded (negative), or a prompt with no estimate (NaN).
            if (entry.accuracy() >= 0 && !Double.isNaN(now[i])) {
                entries.set(i, entry.withPriority(Math.abs(entry.accuracy() - now[i])));
            }
        }
        entries.sort(KEEP_ORDER);
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
