package io.pacedrl.learning;

import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * PACED-RL's difficulty scheduler: the B free prompts whose estimated accuracy p̂ is closest to
 * the target τ, by ascending |p̂ − τ| in double precision, ties to the smaller prompt id.
 *
 * <p>Selection is one pass over the pool with a bounded max-heap of the best B so far, O(N log B)
 * with primitive comparisons: the ids are ranked once, up front, so a tie costs an int compare.
 */
public final class DifficultyScheduler implements PromptSampler {
    private final double target;
    private final int[] idRank;

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
        for (int rank = 0; rank < byId.length; rank++) {
            idRank[byId[rank]] = rank;
        }
    }

    /** The selection, closest to τ first. */
    @Override
    public int[] select(double[] pHat, int batch, IntPredicate inFlight) {
        if (pHat.length != idRank.length) {
            throw new IllegalArgumentException(pHat.length + " estimates for a pool of " + idRank.length);
        }
        // heap[0] is the worst of the best-so-far: the first to be replaced.
        int[] heap = new int[Math.min(batch, pHat.length)];
        double[] distance = new double[heap.length];
        int size = 0;
        for (int i = 0; i < pHat.length; i++) {
            if (inFlight.test(i)) {
                continue;
            }
            double d = Math.abs(pHat[i] - target);
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
        Integer[] chosen = new Integer[size];
        for (int k = 0; k < size; k++) {
            chosen[k] = heap[k];
        }
        Arrays.sort(chosen, (a, b) -> worse(Math.abs(pHat[a] - target), a, Math.abs(pHat[b] - target), b) ? 1
                : worse(Math.abs(pHat[b] - target), b, Math.abs(pHat[a] - target), a) ? -1 : 0);
        return Arrays.stream(chosen).mapToInt(Integer::intValue).toArray();
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
