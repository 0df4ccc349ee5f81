package io.pacedrl.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Adam with decoupled weight decay, after clipping the global gradient norm. Decay applies to
 * matrices only (not to biases or LayerNorm gains). The moment estimates live here, beside the
 * parameters they belong to; call {@link #step} after a backward pass, with gradient recording
 * off, and it also clears the gradients for the next one.
 */
public final class AdamW implements AutoCloseable {

    /**
     * @param learningRate peak learning rate
     * @param beta1        first-moment decay
     * @param beta2        second-moment decay
     * @param epsilon      added to the root of the second moment
     * @param weightDecay  decoupled decay per step, times the learning rate
     * @param clipNorm     the global gradient norm is scaled down to at most this
     */
    public record Config(float learningRate, float beta1, float beta2, float epsilon, float weightDecay, float clipNorm) {
        public static final Config DEFAULT = new Config(1e-3f, 0.9f, 0.95f, 1e-8f, 0.01f, 1.0f);

        public Config {
            // Named one by one: a compact constructor's `this` has no fields assigned yet.
            if (!(learningRate > 0) || !(clipNorm > 0)) {
                throw new IllegalArgumentException("learningRate and clipNorm must be > 0, got " + learningRate + " and " + clipNorm);
            }
            if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("beta1 and beta2 must be in [0, 1), got " + beta1 + " and " + beta2);
            }
        }

        public Config withLearningRate(float rate) {
            return new Config(rate, beta1, beta2, epsilon, weightDecay, clipNorm);
        }
    }

    private final Config config;
    private final List<NDArray> parameters;
    private final NDManager manager;
    private final List<NDArray> firstMoments = new ArrayList<>();
    private final List<NDArray> secondMoments = new ArrayList<>();
    private long steps;

    public AdamW(Map<String, NDArray> parameters, Config config) {
        this.config = config;
        this.parameters = List.copyOf(parameters.values());
        this.manager = this.parameters.get(0).getManager().newSubManager();
        for (NDArray parameter : this.parameters) {
            firstMoments.add(manager.zeros(parameter.getShape()));
            secondMoments.add(manager.zeros(parameter.getShape()));
        }
    }

    /**
     * One update at {@code learningRate} (a schedule's current value). Returns the global
     * gradient norm before clipping.
     */
    public float step(float learningRate) {
        steps++;
        try (GradMode noGrad = GradMode.off(); NDManager scratch = manager.newSubManager()) {
            List<NDArray> gradients = new ArrayList<>(parameters.size());
            NDArray squares = null;
            for (NDArray parameter : parameters) {
                NDArray gradient = parameter.getGradient();
                gradient.attach(scratch);
                gradients.add(gradient);
                NDArray square = gradient.square().sum();
                squares = squares == null ? square : squares.add(square);
            }
            float norm = (float) Math.sqrt(squares.getFloat());
            if (!Float.isFinite(norm)) {
                // A diverged batch: skip it rather than write NaN into the weights and moments.
                steps--;
                gradients.forEach(gradient -> gradient.set(new NDIndex("..."), 0f));
                return norm;
            }
            float scale = Math.min(1f, config.clipNorm() / (norm + 1e-6f));
            float correction1 = (float) (1 - Math.pow(config.beta1(), steps));
            float correction2 = (float) (1 - Math.pow(config.beta2(), steps));
            for (int i = 0; i < parameters.size(); i++) {
                NDArray parameter = parameters.get(i);
                NDArray gradient = gradients.get(i).mul(scale);
                firstMoments.get(i).muli(config.beta1()).addi(gradient.mul(1 - config.beta1()));
                secondMoments.get(i).muli(config.beta2()).addi(gradient.square().muli(1 - config.beta2()));
                // An op's result belongs to its first operand's manager: results computed from the
                // moments or the parameter are moved to the scratch manager, or they would pile up.
                NDArray denominator = inScratch(secondMoments.get(i).div(correction2), scratch).sqrt().addi(config.epsilon());
                NDArray update = inScratch(firstMoments.get(i).div(correction1), scratch).divi(denominator);
                if (parameter.getShape().dimension() >= 2 && config.weightDecay() > 0) {
                    update.addi(inScratch(parameter.mul(config.weightDecay()), scratch));
                }
                parameter.subi(update.muli(learningRate));
                gradients.get(i).set(new NDIndex("..."), 0f);
            }
            return norm;
        }
    }

    private static NDArray inScratch(NDArray array, NDManager scratch) {
        array.attach(scratch);
        return array;
    }

    public Config config() {
        return config;
    }

    public long steps() {
        return steps;
    }

    /**
     * The step count and both moments of every parameter: what a checkpoint needs besides the
     * weights (DJL's saved parameters do not include an optimiser's state).
     */
    public void writeState(DataOutputStream out) throws IOException {
        new Moments(steps, firstMoments, secondMoments).write(out);
    }

    /** The step count and the moments, as they are now or as copies. */
    public record Moments(long steps, List<NDArray> first, List<NDArray> second) {
        /** What {@link #readState} reads back. */
        public void write(DataOutputStream out) throws IOException {
            out.writeLong(steps);
            writeArrays(out, first);
            writeArrays(out, second);
        }
    }

    /** Copies of the moments in {@code into}: a state another thread can write out while training goes on. */
    public Moments copyState(NDManager into) {
        return new Moments(steps, copies(firstMoments, into), copies(secondMoments, into));
    }

    /** Copies of {@code arrays} in {@code into}, without gradients. */
    public static List<NDArray> copies(Collection<NDArray> arrays, NDManager into) {
        List<NDArray> copies = new ArrayList<>(arrays.size());
        try (GradMode noGrad = GradMode.off()) {
            for (NDArray array : arrays) {
                NDArray copy = array.duplicate();
                copy.attach(into);
                copies.add(copy);
            }
        }
        return copies;
    }

    /** Puts back a state written by {@link #writeState} for the same parameters. */
    public void readState(DataInputStream in) throws IOException {
        steps = in.readLong();
        readArrays(in, firstMoments);
        readArrays(in, secondMoments);
    }

    /** Each array's element count, then its float32 values. */
    public static void writeArrays(DataOutputStream out, Collection<NDArray> arrays) throws IOException {
        for (NDArray array : arrays) {
            float[] values = array.toFloatArray();
            out.writeInt(values.length);
            byte[] bytes = new byte[values.length * Float.BYTES];
            ByteBuffer.wrap(bytes).asFloatBuffer().put(values);
            out.write(bytes);
        }
    }

    /** Reads what {@link #writeArrays} wrote into arrays of the same sizes, in place. */
    public static void readArrays(DataInputStream in, Collection<NDArray> arrays) throws IOException {
        for (NDArray array : arrays) {
            int count = in.readInt();
            if (count != array.size()) {
                throw new IOException("an array of " + count + " values for one of " + array.size());
            }
            byte[] bytes = new byte[count * Float.BYTES];
            in.readFully(bytes);
            float[] values = new float[count];
            ByteBuffer.wrap(bytes).asFloatBuffer().get(values);
            array.set(values);
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
