package io.pacedrl.policy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.List;

/**
 * Per-token log-probs {@code [B, T]} of responses and the mask {@code [B, T]} (1 on response
 * tokens, 0 on prompt and padding) that says which are real. Values are already zero where
 * masked, so sums need no further masking.
 */
public record TokenLogProbs(NDArray values, NDArray mask) {

    /** log π(y|x) per sequence: the sum over response tokens, {@code [B]}. */
    public NDArray sequenceSum() {
        return values.sum(new int[] {1});
    }

    /** The mean over each response's tokens, {@code [B]} (FlowRL's length normalisation). */
    public NDArray sequenceMean() {
        return sequenceSum().div(mask.sum(new int[] {1}));
    }

    /**
     * Per-token values laid out like these log-probs: row b's values go, in order, to its
     * unmasked positions (how a rollout's recorded behaviour log-probs line up with the
     * learner's). The result belongs to the mask's manager.
     */
    public NDArray spread(List<float[]> rows) {
        Shape shape = mask.getShape();
        int time = Math.toIntExact(shape.get(1));
        float[] keep = mask.toFloatArray();
        float[] out = new float[keep.length];
        if (rows.size() != shape.get(0)) {
            throw new IllegalArgumentException(rows.size() + " rows for a batch of " + shape.get(0));
        }
        for (int b = 0; b < rows.size(); b++) {
            float[] row = rows.get(b);
            int i = 0;
            for (int t = 0; t < time; t++) {
                if (keep[b * time + t] > 0) {
                    if (i == row.length) {
                        throw new IllegalArgumentException("row " + b + " has " + row.length + " values for more response tokens");
                    }
                    out[b * time + t] = row[i++];
                }
            }
            if (i != row.length) {
                throw new IllegalArgumentException("row " + b + " has " + row.length + " values for " + i + " response tokens");
            }
        }
        return mask.getManager().create(out, shape);
    }

    /** The row's response-token log-probs, in order. */
    public float[] row(int b) {
        float[] all = values.get(b).toFloatArray();
        float[] keep = mask.get(b).toFloatArray();
        int n = 0;
        for (float k : keep) {
            n += k > 0 ? 1 : 0;
        }
        float[] row = new float[n];
        int i = 0;
        for (int t = 0; t < all.length; t++) {
            if (keep[t] > 0) {
                row[i++] = all[t];
            }
        }
        return row;
    }
}
