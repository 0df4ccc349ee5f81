package io.pacedrl.topics;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.apache.kafka.clients.admin.AbortTransactionSpec;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.internals.Topic;

/**
 * Finds hanging transactions (KIP-664): a partition that holds an open transaction of a producer
 * whose coordinator does not count that partition in an ongoing transaction. Nothing ever ends
 * such a transaction, and every read_committed reader and every committed-offset fetch of a group
 * it touched waits on it forever. It can be left behind when the broker itself is killed
 * mid-transaction (the embedded broker dies with a killed {@code train}), and a broker restarted
 * under live producers leaves one now and then: in the fault campaign, a transaction whose producer's
 * commit had returned, still open on the partitions it wrote (see docs/faults.md). Kafka's own tool
 * for it is {@code kafka-transactions.sh find-hanging} then {@code abort}; a run about to resume
 * aborts them (its producers are gone), and {@link HangingTransactionWatch} reports them while it runs.
 */
public final class HangingTransactions {
    /** A hanging transaction: its partition, its producer, and where it opened there. */
    public record Hanging(TopicPartition partition, long producerId, int producerEpoch, int coordinatorEpoch, long startOffset) {
        @Override
        public String toString() {
            return "producer " + producerId + " (epoch " + producerEpoch + ") on " + partition + ", open since offset " + startOffset;
        }
    }

    private static final long TIMEOUT_SECONDS = 60;

    private HangingTransactions() {}

    /**
     * {@link #find} on the topics whose names start with {@code prefix} (a run's, its Streams app's
     * internal ones included) and on the consumer offsets topic.
     */
    public static List<Hanging> findInRun(Admin admin, String prefix, Duration quietFor) {
        return call("list the run's topics", () -> find(admin, admin.listTopics(new ListTopicsOptions().listInternal(true)).names()
                .get(TIMEOUT_SECONDS, TimeUnit.SECONDS).stream()
                .filter(name -> name.startsWith(prefix) || name.equals(Topic.GROUP_METADATA_TOPIC_NAME)).toList(), quietFor));
    }

    /**
     * The hanging transactions on every partition of {@code topics} whose producer last wrote there
     * at least {@code quietFor} ago. While producers are alive this has to be longer than their
     * transaction timeout: a transaction being committed is open on a partition, its coordinator
     * already done with it, for the moment its marker takes to arrive.
     */
    public static List<Hanging> find(Admin admin, Collection<String> topics, Duration quietFor) {
        return call("look for hanging transactions", () -> {
            List<TopicPartition> partitions = new ArrayList<>();
            Map<String, TopicDescription> described = admin.describeTopics(topics).allTopicNames().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            described.forEach((name, d) -> d.partitions().forEach(p -> partitions.add(new TopicPartition(name, p.partition()))));
            Map<Long, TransactionListing> byProducer = new HashMap<>();
            for (TransactionListing listing : admin.listTransactions().all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                byProducer.put(listing.producerId(), listing);
            }
            List<Hanging> found = new ArrayList<>();
            long lastWriteBefore = System.currentTimeMillis() - quietFor.toMillis();
            var producers = admin.describeProducers(partitions).all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            for (var entry : producers.entrySet()) {
                for (ProducerState producer : entry.getValue().activeProducers()) {
                    if (hanging(entry.getKey(), producer, lastWriteBefore, byProducer.get(producer.producerId()), id -> describe(admin, id))) {
                        found.add(new Hanging(entry.getKey(), producer.producerId(), producer.producerEpoch(),
                                producer.coordinatorEpoch().orElse(0), producer.currentTransactionStartOffset().getAsLong()));
                    }
                }
            }
            return found;
        });
    }

    /**
     * Ends these transactions with abort markers, what {@code kafka-transactions.sh abort} does. Their
     * records are lost to read_committed readers; for a run about to resume, whose producers are all
     * gone, that is what an abort by a coordinator would have done.
     */
    public static List<Hanging> abort(Admin admin, List<Hanging> hanging) {
        return call("abort hanging transactions", () -> {
            for (Hanging transaction : hanging) {
                admin.abortTransaction(new AbortTransactionSpec(transaction.partition(), transaction.producerId(),
                        (short) transaction.producerEpoch(), transaction.coordinatorEpoch())).all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            }
            return hanging;
        });
    }

    private interface AdminCall<T> {
        T call() throws ExecutionException, InterruptedException, TimeoutException;
    }

    private static <T> T call(String what, AdminCall<T> call) {
        try {
            return call.call();
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot " + what + ": " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("the cluster did not answer within " + TIMEOUT_SECONDS + " s (" + what + ")", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted (" + what + ")", e);
        }
    }

    /**
     * Whether {@code producer} holds a hanging transaction on {@code partition}: one open there, last
     * written before {@code lastWriteBefore} (ms), that its coordinator ({@code listing}, null when it
     * knows no transactional id with that producer id; {@code describe} for the partitions of an
     * ongoing one) does not count in an ongoing transaction.
     */
    static boolean hanging(TopicPartition partition, ProducerState producer, long lastWriteBefore, TransactionListing listing,
            Function<String, TransactionDescription> describe) {
        if (producer.currentTransactionStartOffset().isEmpty() || producer.lastTimestamp() > lastWriteBefore) {
            return false;
        }
        if (listing == null || !Set.of(TransactionState.ONGOING, TransactionState.PREPARE_ABORT, TransactionState.PREPARE_COMMIT)
                .contains(listing.state())) {
            return true;
        }
        return !describe.apply(listing.transactionalId()).topicPartitions().contains(partition);
    }

    private static TransactionDescription describe(Admin admin, String transactionalId) {
        return call("describe transaction " + transactionalId,
                () -> admin.describeTransactions(List.of(transactionalId)).all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS).get(transactionalId));
    }
}
