package io.pacedrl.learning;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;

/**
 * What Z_φ's fit steps fit: the fresh batch's trajectories and those of the last
 * {@code partition-memory} updates, each as its prompt's pool index and the log Z target computed
 * when it was fresh (r/β − (log π_θ − log π_old) then). Older batches drop out whole.
 */
final class PartitionMemory {

    private record Batch(int[] prompts, float[] targets) {}

    private final int capacity;
    private final Deque<Batch> batches = new ArrayDeque<>();

    /** @param earlier updates kept besides the newest (the {@code partition-memory} key) */
    PartitionMemory(int earlier) {
        if (earlier < 0) {
            throw new IllegalArgumentException("partition-memory must be ≥ 0, got " + earlier);
        }
        this.capacity = earlier + 1;
    }

    /** Adds the fresh batch, dropping the oldest beyond capacity. */
    void add(int[] prompts, float[] targets) {
        if (prompts.length != targets.length) {
            throw new IllegalArgumentException(prompts.length + " prompts but " + targets.length + " targets");
        }
        batches.addLast(new Batch(prompts.clone(), targets.clone()));
        while (batches.size() > capacity) {
            batches.removeFirst();
        }
    }

    /** Every kept trajectory's prompt, oldest batch first. */
    int[] prompts() {
        return batches.stream().flatMapToInt(b -> Arrays.stream(b.prompts())).toArray();
    }

    /** Every kept trajectory's target, in the order of {@link #prompts()}. */
    float[] targets() {
        float[] out = new float[batches.stream().mapToInt(b -> b.targets().length).sum()];
        int at = 0;
        for (Batch batch : batches) {
            System.arraycopy(batch.targets(), 0, out, at, batch.targets().length);
            at += batch.targets().length;
        }
        return out;
    }

    void clear() {
        batches.clear();
    }

    /** Batches kept. */
    int batches() {
        return batches.size();
    }

    void write(DataOutputStream out) throws IOException {
        out.writeInt(batches.size());
        for (Batch batch : batches) {
            out.writeInt(batch.prompts().length);
            for (int i = 0; i < batch.prompts().length; i++) {
                out.writeInt(batch.prompts()[i]);
                out.writeFloat(batch.targets()[i]);
            }
        }
    }

    /**
     * Replaces what it holds with what {@link #write} wrote (keeping the newest {@code capacity}
     * batches, for a state taken with a longer memory); prompt indices must be below {@code poolSize}.
     */
    void read(DataInputStream in, int poolSize) throws IOException {
        clear();
        int count = in.readInt();
        if (count < 0) {
            throw new IOException("a negative batch count in Z_φ's memory");
        }
        for (int b = 0; b < count; b++) {
            int size = in.readInt();
            if (size < 0 || size > in.available() / (Integer.BYTES + Float.BYTES)) {
                throw new IOException("a memory batch of " + size + " trajectories does not fit what is left");
            }
            int[] prompts = new int[size];
            float[] targets = new float[size];
            for (int i = 0; i < size; i++) {
                prompts[i] = in.readInt();
                targets[i] = in.readFloat();
                if (prompts[i] < 0 || prompts[i] >= poolSize) {
                    throw new IOException("prompt " + prompts[i] + " in Z_φ's memory is not in a pool of " + poolSize);
                }
            }
            add(prompts, targets);
        }
    }
}
