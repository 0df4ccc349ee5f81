package io.pacedrl.topics;

import io.pacedrl.registry.ClientSettings;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Looks for {@link HangingTransactions hanging transactions} on a run's topics while it runs. One
 * such transaction holds every read_committed reader of its partition (the difficulty stream, the
 * learner) for good, and the run stalls with nothing else in any log. One its coordinator decided
 * (the ones seen so far were commits whose markers a restarted broker skipped) it ends the same way,
 * with a warning; an undecided one it does not touch (an abort could lose records a producer still
 * counts as written) and reports as an error, with the gauge. One per run is enough; the learner
 * service runs it.
 */
public final class HangingTransactionWatch implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HangingTransactionWatch.class);

    /**
     * How long a transaction's producer must have been quiet on the partition: longer than the
     * transaction timeout of every producer in a run (Kafka's default 60 s, which the services keep;
     * Streams' 10 s), so that a live transaction has been committed or timed out by its coordinator first.
     */
    public static final Duration QUIET_FOR = Duration.ofSeconds(90);
    /** How often it looks. */
    public static final Duration PERIOD = Duration.ofSeconds(15);

    private final Map<String, Object> clientConfig;
    private final Admin admin;
    private final String prefix;
    private final Duration quietFor;
    private final ScheduledExecutorService executor;
    private final Set<HangingTransactions.Hanging> reported = ConcurrentHashMap.newKeySet();
    private volatile int hanging;

    private HangingTransactionWatch(String bootstrapServers, String prefix, Duration quietFor) {
        this.clientConfig = ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers));
        this.admin = Admin.create(clientConfig);
        this.prefix = prefix;
        this.quietFor = quietFor;
        this.executor = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread thread = new Thread(runnable, "hanging-transaction-watch");
            thread.setDaemon(true);
            return thread;
        });
    }

    /** Watches the topics whose names start with {@code prefix}, every {@code period}. */
    public static HangingTransactionWatch start(String bootstrapServers, String prefix, Duration period, Duration quietFor) {
        HangingTransactionWatch watch = new HangingTransactionWatch(bootstrapServers, prefix, quietFor);
        watch.executor.scheduleWithFixedDelay(watch::check, period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
        return watch;
    }

    /** The hanging transactions found at the last look that it could not end. */
    public int hanging() {
        return hanging;
    }

    private void check() {
        try {
            List<HangingTransactions.Hanging> found = HangingTransactions.findInRun(admin, clientConfig, prefix, quietFor);
            for (HangingTransactions.Ended ended : HangingTransactions.end(admin, clientConfig, found, false)) {
                log.warn("ended a hanging transaction as its coordinator had: {}. A restarted broker skipped its marker there",
                        ended.transaction());
            }
            List<HangingTransactions.Hanging> undecided = found.stream()
                    .filter(t -> t.outcome() == HangingTransactions.Outcome.UNDECIDED).toList();
            hanging = undecided.size();
            for (HangingTransactions.Hanging transaction : undecided) {
                if (reported.add(transaction)) {
                    log.error("a hanging transaction: {}. Its coordinator counts no transaction there, and neither its state nor its log "
                            + "holds a decision for it, so "
                            + "nothing will end it, and every read_committed reader of {} waits behind it. "
                            + "`kafka-transactions.sh abort` ends it, and its records with it", transaction, transaction.partition());
                }
            }
        } catch (RuntimeException e) {
            // The cluster away (a broker restarting) is not the watch's to report; it looks again.
            log.debug("could not look for hanging transactions: {}", e.getMessage());
        }
    }

    @Override
    public void close() {
        executor.shutdownNow();
        try {
            executor.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        admin.close(Duration.ofSeconds(5));
    }
}
