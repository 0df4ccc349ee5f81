package io.pacedrl.policy;

import ai.djl.ndarray.NDArray;

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
