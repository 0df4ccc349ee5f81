package io.pacedrl.topics;

/** What every transactional producer of the pipeline sets beyond its own needs. */
public final class TransactionalProducers {
    /**
     * One produce request in flight per broker. With more, a first batch to a partition that the
     * broker refuses for a moment (CONCURRENT_TRANSACTIONS while the last commit completes, a new
     * partition's leader not ready) can be overtaken by the next batch, which the broker then rejects
     * as out of order on every retry: seen here stalling the difficulty stream's first transaction on
     * a new repartition topic for good (Kafka 4.3.1, transactions v2). Our batches are few and large,
     * so one at a time costs little.
     */
    public static final int MAX_IN_FLIGHT = 1;

    private TransactionalProducers() {}
}
