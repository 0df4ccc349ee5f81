package io.pacedrl.learning;

import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.IntPredicate;
import java.util.function.IntToDoubleFunction;
import java.util.function.IntUnaryOperator;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * PACED-RL's difficulty scheduler: the B free prompts whose estimated accuracy p̂ is closest to
 * the target τ, by ascending |p̂ − τ| in double precision, ties to the smaller prompt id.
 *
 * <p>Selection is one pass over the candidates with a bounded max-heap of the best B so far,
 * O(N log B) with primitive comparisons: the ids are ranked once, up front, so a tie costs an int
 * compare.
 *
 * <p>At scale only some prompts are scored for a batch ({@link #candidates}): every free prompt
 * when there are at most {@code selection-candidates} of them (the paper's setting, and the same
 * decisions as scoring the whole pool), otherwise that many drawn uniformly from the free ones.
 * The stream's scheduler and the synchronous reference both choose this way.
 */
public final class DifficultyScheduler implements PromptSampler {
    private final double target;
    private final int[] idRank;
    /** Pool index of each id rank: uniform draws are made over the pool in id order. */
    private final int[] byId;

    /** @param ids the pool's prompt ids, by index; {@code target} is τ */
    public DifficultyScheduler(List<String> ids, double target) {
        if (!(target >= 0 && target <= 1)) {
            throw new IllegalArgumentException("tau must be in [0, 1], got " + target);
        }
        this.target = target;
        Integer[] byId = new Integer[ids.size()];
        for (int i = 0; i < byId.length; i++) {
            byId[i] = i;
        }
        Arrays.sort(byId, Comparator.comparing(ids::get));
        idRank = new int[ids.size()];
        this.byId = new int[ids.size()];
        for (int rank = 0; rank < byId.length; rank++) {
            idRank[byId[rank]] = rank;
            this.byId[rank] = byId[rank];
        }
    }

    /** The seed of batch {@code batch}'s candidate draw in a run seeded {@code seed}. */
    public static long candidateSeed(long seed, long batch) {
        return (seed * 1_000_003L + batch) * 1_000_003L + 999_983L;
    }

    /**
     * The seed of the uniform draw of round {@code round} of batch {@code batch} (uniform methods, dynamic
     * sampling; a PACED batch's exploring prompts are round 0's).
     */
    public static long uniformSeed(long seed, long batch, int round) {
        return (seed * 1_000_003L + batch) * 1_000_003L + round;
    }

    /**
     * Up to {@code count} prompts not {@code unavailable}, drawn uniformly without replacement over
     * the pool in id order from {@code seed}: the order prompts joined the pool in does not matter.
     */
    public int[] drawUniform(int count, IntPredicate unavailable, long seed) {
        int[] ranks = UniformSampler.draw(new SplittableRandom(seed), idRank.length, count, rank -> unavailable.test(byId[rank]));
        return Arrays.stream(ranks).map(rank -> byId[rank]).toArray();
    }

    /**
     * The prompts to score for one batch: every prompt not {@code unavailable}, in index order, when
     * there are at most {@code max}; otherwise {@code max} of them drawn uniformly without
     * replacement over the pool in id order (so the order prompts joined in does not matter), from
     * {@code seed} ({@link #candidateSeed}).
     */
    public int[] candidates(int max, IntPredicate unavailable, long seed) {
        int free = 0;
        for (int i = 0; i < idRank.length; i++) {
            free += unavailable.test(i) ? 0 : 1;
        }
        if (free <= max) {
            int[] all = new int[free];
            int n = 0;
            for (int i = 0; i < idRank.length; i++) {
                if (!unavailable.test(i)) {
                    all[n++] = i;
                }
            }
            return all;
        }
        return drawUniform(max, unavailable, seed);
    }

    /** The selection over the whole pool, closest to τ first. */
    @Override
    public int[] select(double[] pHat, int batch, IntPredicate inFlight) {
        if (pHat.length != idRank.length) {
            throw new IllegalArgumentException(pHat.length + " estimates for a pool of " + idRank.length);
        }
        return best(pHat.length, k -> k, k -> pHat[k], inFlight, batch);
    }

    /**
     * The {@code batch} candidates closest to τ, closest first: {@code pHat[k]} is the estimate of pool
     * prompt {@code candidates[k]}.
     */
    public int[] selectAmong(int[] candidates, double[] pHat, int batch) {
        if (pHat.length != candidates.length) {
            throw new IllegalArgumentException(pHat.length + " estimates for " + candidates.length + " candidates");
        }
        return best(candidates.length, k -> candidates[k], k -> pHat[k], k -> false, batch);
    }

    /**
     * The batch of {@code batch} prompts from {@code candidates} with {@code explore} of them exploring:
     * the {@code batch − explore} nearest τ ({@link #selectAmong(int[], double[], int)}), then
     * {@code explore} drawn uniformly without replacement from the candidates left, over them in id
     * order (the order prompts joined the pool in does not matter), from {@code seed}.
     *
     * <p>Why explore: Z_φ learns only from the prompts that are scheduled, and chosen by |p̂ − τ| alone
     * those all sit where it already says τ, so what it says of the rest of the pool is never corrected.
     */
    public int[] selectAmong(int[] candidates, double[] pHat, int batch, int explore, long seed) {
        if (explore < 0 || explore > batch) {
            throw new IllegalArgumentException("explore " + explore + " of a batch of " + batch);
        }
        int[] near = selectAmong(candidates, pHat, batch - explore);
        if (explore == 0) {
            return near;
        }
        Set<Integer> taken = Arrays.stream(near).boxed().collect(Collectors.toSet());
        int[] restRanks = Arrays.stream(candidates).filter(i -> !taken.contains(i)).map(i -> idRank[i]).sorted().toArray();
        int[] drawn = UniformSampler.draw(new SplittableRandom(seed), restRanks.length, explore, k -> false);
        return IntStream.concat(Arrays.stream(near), Arrays.stream(drawn).map(k -> byId[restRanks[k]])).toArray();
    }

    /** The estimates of {@code chosen}, in its order, from those of the candidates it was chosen among. */
    public static double[] estimatesOf(int[] chosen, int[] candidates, double[] pHat) {
        Map<Integer, Integer> position = new HashMap<>();
        for (int k = 0; k < candidates.length; k++) {
            position.put(candidates[k], k);
        }
        return Arrays.stream(chosen).mapToDouble(i -> pHat[position.get(i)]).toArray();
    }

    /** The best {@code batch} of {@code n} entries (entry k: pool prompt index(k), estimate value(k)), skipping some. */
    private int[] best(int n, IntUnaryOperator index, IntToDoubleFunction value, IntPredicate skip, int batch) {
        // heap[0] is the worst of the best-so-far: the first to be replaced (pool indices, distances).
        int[] heap = new int[Math.min(batch, n)];
        double[] distance = new double[heap.length];
        int size = 0;
        for (int k = 0; k < n; k++) {
            if (skip.test(k)) {
                continue;
            }
            int i = index.applyAsInt(k);
            double d = Math.abs(value.applyAsDouble(k) - target);
            if (size < heap.length) {
                heap[size] = i;
                distance[size] = d;
                siftUp(heap, distance, size++);
            } else if (size > 0 && worse(distance[0], heap[0], d, i)) {
                heap[0] = i;
                distance[0] = d;
                siftDown(heap, distance, size);
            }
        }
        Integer[] order = new Integer[size];
        for (int k = 0; k < size; k++) {
            order[k] = k;
        }
        int[] chosen = heap;
        double[] distances = distance;
        Arrays.sort(order, (a, b) -> worse(distances[a], chosen[a], distances[b], chosen[b]) ? 1
                : worse(distances[b], chosen[b], distances[a], chosen[a]) ? -1 : 0);
        return Arrays.stream(order).mapToInt(k -> chosen[k]).toArray();
    }

    /** Whether (da, a) ranks after (db, b): farther from τ, or as far with a larger id. */
    private boolean worse(double da, int a, double db, int b) {
        return da > db || (da == db && idRank[a] > idRank[b]);
    }

    private void siftUp(int[] heap, double[] distance, int k) {
        while (k > 0) {
            int parent = (k - 1) / 2;
            if (!worse(distance[k], heap[k], distance[parent], heap[parent])) {
                return;
            }
            swap(heap, distance, k, parent);
            k = parent;
        }
    }

    private void siftDown(int[] heap, double[] distance, int size) {
        int k = 0;
        while (true) {
            int left = 2 * k + 1;
            int worst = k;
            if (left < size && worse(distance[left], heap[left], distance[worst], heap[worst])) {
                worst = left;
            }
            if (left + 1 < size && worse(distance[left + 1], heap[left + 1], distance[worst], heap[worst])) {
                worst = left + 1;
            }
            if (worst == k) {
                return;
            }
            swap(heap, distance, k, worst);
            k = worst;
        }
    }

    private static void swap(int[] heap, double[] distance, int a, int b) {
        int index = heap[a];
        heap[a] = heap[b];
        heap[b] = index;
        double d = distance[a];
        distance[a] = distance[b];
        distance[b] = d;
    }
}
