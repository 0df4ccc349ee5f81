package io.pacedrl.difficulty;

import ai.djl.ndarray.NDManager;
import io.pacedrl.learning.PartitionFunction;
import java.util.Map;

/**
 * A real Z_φ (the learner's class and format) whose weights are set by hand so that a test can say
 * which p̂ each prompt gets: prompt k's embedding is the one-hot vector e_k, and the first layer
 * maps it to an angle θ_k on the circle that LayerNorm keeps, with p̂ = ½ + ½·cos θ_k. Large biases
 * keep GELU in its linear part. The estimates come out within about 1e-5 of the asked values, and
 * equal values give equal estimates, bit for bit.
 */
final class DesignedPartition {
    static final int SLOTS = 64;
    private static final int HIDDEN = 3;
    private static final float SHIFT = 10f;

    private DesignedPartition() {}

    /** The one-hot embedding of slot {@code slot}. */
    static float[] embedding(int slot) {
        float[] values = new float[SLOTS];
        values[slot] = 1f;
        return values;
    }

    /** Z_φ's parameters giving slot k the estimate {@code pHat[k]} under {@code beta}. */
    static byte[] parameters(double beta, double[] pHat) {
        try (NDManager manager = NDManager.newBaseManager();
                PartitionFunction partition = new PartitionFunction(manager, SLOTS, new PartitionFunction.Config(HIDDEN, 0f, 0), 1)) {
            Map<String, ai.djl.ndarray.NDArray> p = partition.parameters();
            float[] first = new float[HIDDEN * SLOTS];
            for (int k = 0; k < SLOTS; k++) {
                double theta = Math.acos(Math.max(-1, Math.min(1, 2 * (k < pHat.length ? pHat[k] : 0.5) - 1)));
                for (int r = 0; r < HIDDEN; r++) {
                    first[r * SLOTS + k] = (float) Math.cos(theta - 2 * Math.PI * r / HIDDEN);
                }
            }
            p.get("layer0.weight").set(first);
            p.get("layer0.bias").set(new float[] {SHIFT, SHIFT, SHIFT});
            p.get("layer1.weight").set(new float[] {1, 0, 0, 0, 1, 0, 0, 0, 1});
            p.get("layer1.bias").set(new float[] {SHIFT, SHIFT, SHIFT});
            // After the two LayerNorms the first unit is √2·cos θ; log Z = (½·cos θ + ½)/β.
            p.get("layer2.weight").set(new float[] {(float) (0.5 / beta / Math.sqrt(2)), 0, 0});
            p.get("layer2.bias").set(new float[] {(float) (0.5 / beta)});
            return partition.toBytes();
        }
    }
}
