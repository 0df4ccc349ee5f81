package io.pacedrl.difficulty;

import ai.djl.ndarray.NDManager;
import io.pacedrl.difficulty.state.EstimatorParameters;
import io.pacedrl.learning.PartitionEnsemble;

/**
 * The scheduler's p̂: a version of Z_φ, with the copies p̂ is ranked with, loaded from the parameters
 * the learner published with that version, run over the embeddings of the prompts the scheduler
 * considers. It computes exactly what the learner's own estimate computes for the same rows.
 */
final class PartitionEstimator implements BatchScheduler.Estimator, AutoCloseable {
    private final long version;
    private final double beta;
    private final NDManager manager;
    private final PartitionEnsemble partition;

    /** Throws IllegalArgumentException, saying why, for parameters that are not a Z_φ or an ensemble of them. */
    PartitionEstimator(long version, byte[] parameters, double beta) {
        this.version = version;
        this.beta = beta;
        this.manager = NDManager.newBaseManager();
        try {
            this.partition = PartitionEnsemble.fromBytes(manager, parameters);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** The Z_φ a {@code partition-function} store entry holds. */
    static PartitionEstimator of(EstimatorParameters stored, double beta) {
        byte[] parameters = new byte[stored.getParameters().remaining()];
        stored.getParameters().duplicate().get(parameters);
        return new PartitionEstimator(stored.getVersion(), parameters, beta);
    }

    @Override
    public long version() {
        return version;
    }

    @Override
    public double[] pHat(float[] rows, int count) {
        if (rows.length != count * partition.inputSize()) {
            throw new IllegalArgumentException(rows.length + " values for " + count + " embeddings of width " + partition.inputSize());
        }
        return partition.accuracyEstimates(rows, count, beta);
    }

    @Override
    public void close() {
        manager.close();
    }
}
