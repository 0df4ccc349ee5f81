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
    private final ColumnScaling scaling;
    private final double[] weights;

    private LinearProbe(int width, ColumnScaling scaling, double[] weights) {
        this.width = width;
        this.scaling = scaling;
        this.weights = weights;
    }

    /** Fits on {@code targets.length} rows of {@code width} values each, held row after row in {@code rows}. */
    public static LinearProbe fit(float[] rows, int width, double[] targets, double ridge) {
        int n = targets.length;
        if (n < 2 || rows.length != n * width) {
            throw new IllegalArgumentException(rows.length + " values for " + n + " rows of width " + width);
        }
        ColumnScaling scaling = ColumnScaling.of(rows, width);
        double[] design = design(scaling, rows, n, width);
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
            return new LinearProbe(width, scaling, weights);
        }
    }

    /** The predicted accuracy of each of {@code rows.length / width} rows. */
    public double[] predict(float[] rows) {
        int n = rows.length / width;
        double[] design = design(scaling, rows, n, width);
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
    private static double[] design(ColumnScaling scaling, float[] rows, int n, int width) {
        double[] design = new double[n * (width + 1)];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < width; j++) {
                design[i * (width + 1) + j] = scaling.scaled(rows[i * width + j], j);
            }
            design[i * (width + 1) + width] = 1;
        }
        return design;
    }
}
