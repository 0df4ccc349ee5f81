package io.pacedrl.learning;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;
import io.pacedrl.policy.AdamW;
import io.pacedrl.policy.GradMode;
import io.pacedrl.policy.ParameterSet;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Collection;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The learned partition function log Z_φ(x): a small MLP over a prompt's embedding e(x), which
 * the frozen reference policy computes once for the whole pool. Two hidden layers of
 * Linear → GELU → LayerNorm → Dropout, then Linear → 1. It trains jointly with the policy, and
 * because the whole pool's embeddings are cached, every prompt's estimate is one batched pass.
 *
 * <p>It is small (about 34k parameters at the default width), so it travels as a model: each
 * version's publication carries its parameters ({@link #toBytes}, format {@link #FORMAT}) beside the
 * policy's, and the scheduler loads them ({@link #fromBytes}, through {@link PartitionEnsemble}) to compute p̂ for the prompts it
 * considers, over the embeddings it received once per pool.
 */
public final class PartitionFunction implements AutoCloseable {

    /**
     * @param hidden      width of the two hidden layers
     * @param dropout     dropout after each hidden layer while training
     * @param initialLogZ the output bias at initialisation: where every prompt's log Z starts
     */
    public record Config(int hidden, float dropout, double initialLogZ) {
        public Config {
            if (hidden < 1) {
                throw new IllegalArgumentException("partition hidden width must be ≥ 1, got " + hidden);
            }
            if (!(dropout >= 0 && dropout < 1)) {
                throw new IllegalArgumentException("partition dropout must be in [0, 1), got " + dropout);
            }
        }
    }

    private static final int CHUNK = 8192;
    /** The format of {@link #toBytes} on model-updates. */
    public static final String FORMAT = "paced-rl-partition-function-v1";
    private static final int MAGIC = 0x5a504849; // "ZPHI"

    private final int inputSize;

    private final Config config;
    private final NDManager manager;
    private final ParameterSet parameters;
    private final NDArray[] weights = new NDArray[3];
    private final NDArray[] biases = new NDArray[3];
    private final NDArray[] gains = new NDArray[2];
    private final NDArray[] shifts = new NDArray[2];

    /** Weights drawn in Java from {@code seed}: normal with std 1/√fan-in, zero biases. */
    public PartitionFunction(NDManager parent, int inputSize, Config config, long seed) {
        this(parent, inputSize, config, new SplittableRandom(seed));
    }

    /** With {@code random} null, every weight starts at zero (to be overwritten by {@link #fromBytes}). */
    private PartitionFunction(NDManager parent, int inputSize, Config config, SplittableRandom random) {
        this.config = config;
        this.inputSize = inputSize;
        this.manager = parent.newSubManager();
        this.parameters = new ParameterSet(manager);
        int[] widths = {inputSize, config.hidden(), config.hidden(), 1};
        for (int layer = 0; layer < 3; layer++) {
            String weight = "layer" + layer + ".weight";
            weights[layer] = random == null ? parameters.constant(weight, 0f, widths[layer + 1], widths[layer])
                    : parameters.normal(weight, random, 1 / Math.sqrt(widths[layer]), widths[layer + 1], widths[layer]);
            biases[layer] = parameters.constant("layer" + layer + ".bias", layer == 2 ? (float) config.initialLogZ() : 0f,
                    widths[layer + 1]);
            if (layer < 2) {
                gains[layer] = parameters.constant("layer" + layer + ".norm.gain", 1f, config.hidden());
                shifts[layer] = parameters.constant("layer" + layer + ".norm.bias", 0f, config.hidden());
            }
        }
    }

    public Config config() {
        return config;
    }

    /** The width of the embeddings it reads. */
    public int inputSize() {
        return inputSize;
    }

    /** Its parameters as bytes in {@link #FORMAT}: what a model update carries. */
    public byte[] toBytes() {
        return toBytes(inputSize, config.hidden(), parameters.asMap().values());
    }

    /**
     * Parameters in {@link #FORMAT}: the widths, then each array of {@link #parameters()} in order
     * (for copies taken from a live Z_φ, in the same order).
     */
    public static byte[] toBytes(int inputSize, int hidden, Collection<NDArray> values) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeInt(inputSize);
            out.writeInt(hidden);
            AdamW.writeArrays(out, values);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /**
     * A Z_φ with the parameters of {@code bytes} (from {@link #toBytes}), for inference: no dropout.
     * Throws IllegalArgumentException, saying why, for bytes that are not such parameters.
     */
    public static PartitionFunction fromBytes(NDManager parent, byte[] bytes) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            if (in.readInt() != MAGIC) {
                throw new IllegalArgumentException("not " + FORMAT + " parameters");
            }
            int inputSize = in.readInt();
            int hidden = in.readInt();
            if (inputSize < 1 || hidden < 1 || (long) hidden * (inputSize + hidden + 6) * Float.BYTES > bytes.length) {
                throw new IllegalArgumentException("widths " + inputSize + " and " + hidden + " do not fit " + bytes.length + " bytes");
            }
            PartitionFunction loaded = new PartitionFunction(parent, inputSize, new Config(hidden, 0f, 0), (SplittableRandom) null);
            try {
                AdamW.readArrays(in, loaded.parameters.asMap().values());
                if (in.available() > 0) {
                    throw new IOException(in.available() + " bytes left over");
                }
            } catch (IOException | RuntimeException e) {
                loaded.close();
                throw e;
            }
            return loaded;
        } catch (IOException e) {
            throw new IllegalArgumentException(FORMAT + " parameters are truncated or corrupt: " + e.getMessage(), e);
        }
    }

    /** Every parameter by name, for the optimiser. */
    public Map<String, NDArray> parameters() {
        return parameters.asMap();
    }

    /**
     * log Z_φ for each embedding row: {@code [N, d]} → {@code [N]}; dropout when {@code training}.
     * Intermediates belong to the embeddings' manager: pass a scratch one.
     */
    public NDArray logZ(NDArray embeddings, boolean training) {
        NDArray x = embeddings;
        for (int layer = 0; layer < 2; layer++) {
            x = Activation.gelu(Linear.linear(x, weights[layer], biases[layer]).singletonOrThrow());
            x = LayerNorm.layerNorm(x, new Shape(config.hidden()), gains[layer], shifts[layer], 1e-5f).singletonOrThrow();
            if (training && config.dropout() > 0) {
                x = Dropout.dropout(x, config.dropout(), true).singletonOrThrow();
            }
        }
        return Linear.linear(x, weights[2], biases[2]).singletonOrThrow().squeeze(1);
    }

    /**
     * log Z_φ of every row, without gradients or dropout, as doubles. The rows go through in
     * chunks, each moved to a scratch manager first: an op's result belongs to its first
     * operand's manager, and the pool's must not collect intermediates.
     */
    public double[] logZValues(NDArray embeddings) {
        int rows = Math.toIntExact(embeddings.getShape().get(0));
        double[] out = new double[rows];
        try (GradMode noGrad = GradMode.off()) {
            for (int start = 0; start < rows; start += CHUNK) {
                int end = Math.min(rows, start + CHUNK);
                try (NDManager scratch = manager.newSubManager()) {
                    NDArray chunk = embeddings.get(new NDIndex("{}:{}", start, end));
                    chunk.attach(scratch);
                    float[] values = logZ(chunk, false).toFloatArray();
                    for (int i = 0; i < values.length; i++) {
                        out[start + i] = values[i];
                    }
                }
            }
        }
        return out;
    }

    /** log Z_φ of {@code rows} embeddings held row after row in {@code embeddings}, as {@link #logZValues(NDArray)}. */
    public double[] logZValues(float[] embeddings, int rows) {
        if (rows == 0) {
            return new double[0];
        }
        try (NDManager scratch = manager.newSubManager()) {
            return logZValues(scratch.create(embeddings, new Shape(rows, inputSize)));
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
