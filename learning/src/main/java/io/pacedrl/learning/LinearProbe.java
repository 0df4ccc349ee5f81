package io.pacedrl.learning;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * A ridge regression of accuracy on prompt embeddings, fitted at once on many prompts: what the
 * embedding can tell about difficulty at best for a linear read-out, the yardstick for Z_φ's online
 * fit. Each input column is standardised by the fitting rows' mean and deviation; the weights are
 * w = (XᵀX + λI)⁻¹ Xᵀy over the standardised columns and a bias (the bias not penalised).
 */
public final class LinearProbe {
    private final int width;
    private final double[] mean;
    private final double[] scale;
    private final double[] weights;

    private LinearProbe(int width, double[] mean, double[] scale, double[] weights) {
        this.width = width;
        this.mean = mean;
        this.scale = scale;
        this.weights = weights;
    }

    /** Fits on {@code targets.length} rows of {@code width} values each, held row after row in {@code rows}. */
    public static LinearProbe fit(float[] rows, int width, double[] targets, double ridge) {
        int n = targets.length;
        if (n < 2 || rows.length != n * width) {
            throw new IllegalArgumentException(rows.length + " values for " + n + " rows of width " + width);
        }
        double[] mean = new double[width];
        double[] scale = new double[width];
        for (int j = 0; j < width; j++) {
            double sum = 0;
            for (int i = 0; i < n; i++) {
                sum += rows[i * width + j];
            }
            mean[j] = sum / n;
            double squares = 0;
            for (int i = 0; i < n; i++) {
                double x = rows[i * width + j] - mean[j];
                squares += x * x;
            }
            scale[j] = Math.sqrt(squares / n) + 1e-6;
        }
        LinearProbe standardiser = new LinearProbe(width, mean, scale, null);
        double[] design = standardiser.design(rows, n);
        int columns = width + 1;
        double[] penalty = new double[columns * columns];
        for (int j = 0; j < width; j++) {
            penalty[j * columns + j] = ridge;
        }
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = manager.create(design, new Shape(n, columns));
            NDArray y = manager.create(targets, new Shape(n, 1));
            NDArray gram = x.transpose().matMul(x).add(manager.create(penalty, new Shape(columns, columns)));
            double[] weights = gram.inverse().matMul(x.transpose().matMul(y)).toDoubleArray();
            return new LinearProbe(width, mean, scale, weights);
        }
    }

    /** The predicted accuracy of each of {@code rows.length / width} rows. */
    public double[] predict(float[] rows) {
        int n = rows.length / width;
        double[] design = design(rows, n);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            double sum = 0;
            for (int j = 0; j <= width; j++) {
                sum += design[i * (width + 1) + j] * weights[j];
            }
            out[i] = sum;
        }
        return out;
    }

    /** The standardised rows with a last column of ones, row after row. */
    private double[] design(float[] rows, int n) {
        double[] design = new double[n * (width + 1)];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < width; j++) {
                design[i * (width + 1) + j] = (rows[i * width + j] - mean[j]) / scale[j];
            }
            design[i * (width + 1) + width] = 1;
        }
        return design;
    }
}
