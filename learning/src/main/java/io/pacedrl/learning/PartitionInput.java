package io.pacedrl.learning;

/**
 * What Z_φ reads of the pool's embeddings ({@code partition-input}). π_ref's mean-pooled hidden
 * states share a large common part and differ little between prompts, on scales that vary by
 * dimension; Z_φ, fitted a batch at a time, ranks and calibrates better on each dimension centred
 * and scaled by the pool's own mean and deviation (measured in docs/method.md). The pool is fixed
 * for a run, so the statistics are too, and the scheduler receives the embeddings already scaled.
 */
public enum PartitionInput {
    RAW("raw"), STANDARDIZED("standardized");

    private final String key;

    PartitionInput(String key) {
        this.key = key;
    }

    /** Applies this to embeddings of {@code width} values each, held row after row in {@code values}, in place. */
    public void apply(float[] values, int width) {
        apply(values, width, new float[0]);
    }

    /**
     * Applies this to the pool's embeddings {@code values}, in place, and to {@code others} (prompts
     * outside the pool) by the pool's statistics, so that both read alike.
     */
    public void apply(float[] values, int width, float[] others) {
        if (this == RAW || values.length == 0) {
            return;
        }
        ColumnScaling scaling = ColumnScaling.of(values, width);
        for (float[] rows : new float[][] {values, others}) {
            for (int i = 0; i < rows.length; i++) {
                rows[i] = (float) scaling.scaled(rows[i], i % width);
            }
        }
    }

    @Override
    public String toString() {
        return key;
    }
}
