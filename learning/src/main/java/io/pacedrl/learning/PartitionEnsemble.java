package io.pacedrl.learning;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;

/**
 * p̂ from Z_φ now and its recent copies ({@code partition-copy-every}, {@code partition-copies}):
 * after every {@code every}-th update a copy of Z_φ is kept, the {@code kept} most recent of them.
 * The prompts scored together get Z_φ now's values of log Z, sorted, handed out in the order of
 * the members' mean log Z; then p̂ = clip(β·log Z, 0, 1). With no copies it is Z_φ now's p̂.
 *
 * <p>Why: each version of Z_φ is off on prompts its fit has not seen by an error that changes from
 * version to version, so the mean of recent versions ranks those prompts better than any one of them
 * (docs/method.md, "Ranking with Z_φ's recent copies"). The mean itself lags the policy,
 * and moving it to Z_φ now's level breaks calibration; taking only its order keeps Z_φ now's level
 * and spread, so the same share of a batch sits near τ as without copies.
 *
 * <p>It travels as one model ({@link #toBytes(byte[], List)}, format {@link #FORMAT}): the learner
 * publishes its ensemble beside the policy, and the scheduler loads it ({@link #fromBytes}) and scores with it,
 * so both rank the same candidates the same way.
 */
public final class PartitionEnsemble implements AutoCloseable {

    /** The format of {@link #toBytes} on model-updates: Z_φ now, then its copies, oldest first. */
    public static final String FORMAT = "paced-rl-partition-ensemble-v1";
    private static final int MAGIC = 0x5a454e53; // "ZENS"

    private record Copy(PartitionFunction function, byte[] bytes) {}

    private final NDManager manager;
    private final PartitionFunction now;
    private final int every;
    private final int kept;
    private final Deque<Copy> copies = new ArrayDeque<>();

    /**
     * The learner's ensemble over its live Z_φ {@code now} (not closed with it).
     *
     * @param every updates between copies; 0 keeps none
     * @param kept  copies kept, the oldest dropped beyond it
     */
    public PartitionEnsemble(NDManager parent, PartitionFunction now, int every, int kept) {
        this(now, every, kept, parent.newSubManager());
    }

    /** Over {@code now}, copies kept in {@code manager}, which it owns. */
    private PartitionEnsemble(PartitionFunction now, int every, int kept, NDManager manager) {
        if (every < 0 || kept < 0) {
            manager.close();
            throw new IllegalArgumentException("copies every " + every + " updates, " + kept + " kept: both must be ≥ 0");
        }
        this.manager = manager;
        this.now = now;
        this.every = every;
        this.kept = kept;
    }

    /**
     * An ensemble with the members of {@code bytes} ({@link #toBytes}, or a lone Z_φ in
     * {@link PartitionFunction#FORMAT}, as runs recorded before copies published it), for scoring.
     * Throws IllegalArgumentException, saying why, for bytes that are neither.
     */
    public static PartitionEnsemble fromBytes(NDManager parent, byte[] bytes) {
        List<byte[]> members = members(bytes);
        NDManager owned = parent.newSubManager();
        try {
            PartitionEnsemble loaded = new PartitionEnsemble(PartitionFunction.fromBytes(owned, members.get(0)), 0,
                    members.size() - 1, owned);
            loaded.restoreCopies(members);
            return loaded;
        } catch (RuntimeException e) {
            owned.close();
            throw e;
        }
    }

    /** Z_φ now: the member trained, and whose values p̂ takes. */
    public PartitionFunction now() {
        return now;
    }

    /** The width of the embeddings it reads. */
    public int inputSize() {
        return now.inputSize();
    }

    /** Copies held besides Z_φ now. */
    public int copies() {
        return copies.size();
    }

    /** Called as update {@code step} (from 1) begins: keeps a copy of Z_φ as the updates before left it, every {@code every} updates. */
    public void beforeUpdate(int step) {
        if (every == 0 || kept == 0 || step <= 1 || (step - 1) % every != 0) {
            return;
        }
        byte[] bytes = now.toBytes();
        copies.addLast(new Copy(PartitionFunction.fromBytes(manager, bytes), bytes));
        while (copies.size() > kept) {
            copies.removeFirst().function().close();
        }
    }

    /** p̂ of {@code rows} embeddings held row after row in {@code embeddings}, scored together: how the scheduler scores its candidates. */
    public double[] accuracyEstimates(float[] embeddings, int rows, double beta) {
        if (rows == 0) {
            return new double[0];
        }
        double[] logZ;
        try (NDManager scratch = manager.newSubManager()) {
            // One array of the rows for every member.
            NDArray array = scratch.create(embeddings, new Shape(rows, now.inputSize()));
            logZ = now.logZValues(array);
            if (!copies.isEmpty()) {
                double[] sum = logZ.clone();
                for (Copy copy : copies) {
                    double[] values = copy.function().logZValues(array);
                    for (int i = 0; i < rows; i++) {
                        sum[i] += values[i];
                    }
                }
                logZ = ranked(logZ, sum);
            }
        }
        for (int i = 0; i < rows; i++) {
            logZ[i] = TrajectoryBalanceLoss.accuracyEstimate(logZ[i], beta);
        }
        return logZ;
    }

    /**
     * {@code values}, sorted, handed out in the order of {@code order}: the row {@code order} ranks
     * k-th lowest gets the k-th lowest value. Rows equal in both are one prompt scored twice (a
     * replay buffer holds several answers to a prompt): they count once and get one value, so the
     * result does not depend on the rows' order or on how often a prompt is asked for.
     */
    static double[] ranked(double[] values, double[] order) {
        if (values.length != order.length) {
            throw new IllegalArgumentException(values.length + " values for " + order.length + " rows");
        }
        Integer[] rows = new Integer[values.length];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = i;
        }
        Arrays.sort(rows, Comparator.<Integer>comparingDouble(i -> order[i]).thenComparingDouble(i -> values[i]));
        // Each distinct (order, value) gets the next rank; a row equal to the one before shares its rank.
        int[] rank = new int[values.length];
        double[] distinct = new double[values.length];
        int ranks = 0;
        for (int k = 0; k < rows.length; k++) {
            int row = rows[k];
            int before = k == 0 ? -1 : rows[k - 1];
            if (before < 0 || Double.compare(order[row], order[before]) != 0 || Double.compare(values[row], values[before]) != 0) {
                distinct[ranks++] = values[row];
            }
            rank[row] = ranks - 1;
        }
        double[] sorted = Arrays.copyOf(distinct, ranks);
        Arrays.sort(sorted);
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = sorted[rank[i]];
        }
        return out;
    }

    /**
     * Whether it is configured to keep copies: then the learner publishes every member in
     * {@link #FORMAT}, else Z_φ now alone in {@link PartitionFunction#FORMAT}, as runs did before copies.
     */
    public boolean keepsCopies() {
        return every > 0 && kept > 0;
    }

    /** The copies' parameters as they are now, oldest first: for a snapshot turned into bytes on another thread. */
    public List<byte[]> copyBytes() {
        return copies.stream().map(Copy::bytes).toList();
    }

    /** Members in {@link #FORMAT}: Z_φ now's parameters, then its copies', each in {@link PartitionFunction#FORMAT}. */
    public static byte[] toBytes(byte[] now, List<byte[]> copies) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeInt(1 + copies.size());
            write(out, now);
            for (byte[] copy : copies) {
                write(out, copy);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** The format name model-updates labels {@code bytes} (from {@link #toBytes}) with. */
    public static String formatOf(byte[] bytes) {
        return bytes.length >= Integer.BYTES && ByteBuffer.wrap(bytes).getInt() == MAGIC ? FORMAT : PartitionFunction.FORMAT;
    }

    /** Whether a model-updates format is one {@link #fromBytes} reads. */
    public static boolean reads(String format) {
        return FORMAT.equals(format) || PartitionFunction.FORMAT.equals(format);
    }

    /** The size {@code published} (from {@link #toBytes}) grows to once {@code copies} copies are held. */
    public static long fullSize(byte[] published, int copies) {
        int member = members(published).get(0).length;
        return copies == 0 ? member : 2L * Integer.BYTES + (1L + copies) * (Integer.BYTES + member);
    }

    /**
     * Replaces the copies with the most recent of those {@code bytes} ({@link #toBytes}) carries, as
     * many as it keeps: how a restored or forked learner gets them back.
     */
    public void restoreCopies(byte[] bytes) {
        restoreCopies(members(bytes));
    }

    private void restoreCopies(List<byte[]> members) {
        copies.forEach(copy -> copy.function().close());
        copies.clear();
        for (byte[] member : members.subList(Math.max(1, members.size() - kept), members.size())) {
            copies.addLast(new Copy(PartitionFunction.fromBytes(manager, member), member));
        }
    }

    private static void write(DataOutputStream out, byte[] member) throws IOException {
        out.writeInt(member.length);
        out.write(member);
    }

    /** Each member's bytes in {@link PartitionFunction#FORMAT}, Z_φ now first. */
    private static List<byte[]> members(byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            if (in.readInt() != MAGIC) {
                return List.of(bytes); // a lone Z_φ; PartitionFunction.fromBytes says if it is not one
            }
            int count = in.readInt();
            if (count < 1 || count > bytes.length / Integer.BYTES) {
                throw new IllegalArgumentException(FORMAT + " with " + count + " members");
            }
            List<byte[]> members = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                int length = in.readInt();
                if (length < 0 || length > in.available()) {
                    throw new IOException("member " + i + " of " + length + " bytes, " + in.available() + " left");
                }
                members.add(in.readNBytes(length));
            }
            if (in.available() > 0) {
                throw new IOException(in.available() + " bytes left over");
            }
            return members;
        } catch (IOException e) {
            throw new IllegalArgumentException(FORMAT + " parameters are truncated or corrupt: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        copies.clear();
        manager.close();
    }
}
