package io.pacedrl.learning;

/**
 * Each column's mean and deviation over some rows, to centre and scale rows by: how Z_φ's input
 * ({@link PartitionInput#STANDARDIZED}) and the {@link LinearProbe} put the embedding's dimensions on one scale.
 */
record ColumnScaling(double[] mean, double[] scale) {

    /** The statistics of the rows held row after row in {@code values}, {@code width} values each. */
    static ColumnScaling of(float[] values, int width) {
        int rows = values.length / width;
        double[] mean = new double[width];
        double[] scale = new double[width];
        for (int j = 0; j < width; j++) {
            double sum = 0;
            for (int i = 0; i < rows; i++) {
                sum += values[i * width + j];
            }
            mean[j] = sum / rows;
            double squares = 0;
            for (int i = 0; i < rows; i++) {
                double x = values[i * width + j] - mean[j];
                squares += x * x;
            }
            // A column constant over the rows becomes zero rather than a division by nothing.
            scale[j] = Math.sqrt(squares / rows) + 1e-6;
        }
        return new ColumnScaling(mean, scale);
    }

    /** Value {@code j} of a row, centred and scaled. */
    double scaled(float value, int j) {
        return (value - mean[j]) / scale[j];
    }
}
