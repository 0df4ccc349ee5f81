package io.pacedrl.topics;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
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
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.internals.Topic;

/**
 * Finds and ends hanging transactions (KIP-664): a partition that holds an open transaction of a
 * producer whose coordinator does not count that partition in an ongoing transaction. Nothing ever
 * ends such a transaction, and every read_committed reader and every committed-offset fetch of a
 * group it touched waits on it forever. A restarted broker leaves them behind: its transaction
 * coordinator reloads a transaction it was committing and records the commit complete without the
 * markers of some partitions (seen after a killed {@code train} and in the fault campaign's broker
 * restart; by Kafka's source, the marker channel skips partitions whose leader its metadata does not
 * know yet; docs/faults.md).
 * Kafka's own tool for it is {@code kafka-transactions.sh find-hanging} then {@code abort}, and an
 * abort would lose the records of a transaction that was committed, while the consumer offsets it
 * committed with them stay committed. So each one is ended as its coordinator decided it:
 * {@link Outcome}.
 */
public final class HangingTransactions {
    /**
     * How the coordinator ended a hanging transaction. Under transaction version 2 (Kafka 4's) every
     * transaction ends with its producer's epoch bumped by one, so a coordinator that has completed
     * the producer's transaction at the hanging epoch + 1 has decided this one. Where the producer has
     * gone on to later transactions, the decision it logged at that epoch decides
     * ({@link CoordinatorLog}); with neither (the producer gone from the coordinator, or the decision
     * compacted away) it is undecided.
     */
    public enum Outcome { COMMITTED, ABORTED, UNDECIDED }

    /** A hanging transaction: its partition, its producer, where it opened there, and what its coordinator decided. */
    public record Hanging(TopicPartition partition, long producerId, int producerEpoch, int coordinatorEpoch, long startOffset,
            Outcome outcome) {
        @Override
        public String toString() {
            return "producer " + producerId + " (epoch " + producerEpoch + ") on " + partition + ", open since offset " + startOffset
                    + (outcome == Outcome.UNDECIDED ? "" : ", which its coordinator " + outcome.name().toLowerCase(Locale.ROOT));
        }
    }

    /** What was done to a hanging transaction. */
    public record Ended(Hanging transaction, Outcome marker) {}

    private static final long TIMEOUT_SECONDS = 60;

    private HangingTransactions() {}

    /**
     * {@link #find} on the topics whose names start with {@code prefix} (a run's, its Streams app's
     * internal ones included) and on the consumer offsets topic.
     */
    public static List<Hanging> findInRun(Admin admin, Map<String, Object> clientConfig, String prefix, Duration quietFor) {
        return call("list the run's topics", () -> find(admin, clientConfig, admin.listTopics(new ListTopicsOptions().listInternal(true))
                .names().get(TIMEOUT_SECONDS, TimeUnit.SECONDS).stream()
                .filter(name -> name.startsWith(prefix) || name.equals(Topic.GROUP_METADATA_TOPIC_NAME)).toList(), quietFor));
    }

    /** Whether a coordinator is between a commit or abort decision and its markers. */
    public static boolean completing(Admin admin) {
        return call("list transactions", () -> admin.listTransactions().all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS).stream()
                .anyMatch(listing -> listing.state() == TransactionState.PREPARE_COMMIT || listing.state() == TransactionState.PREPARE_ABORT));
    }

    /**
     * The hanging transactions on every partition of {@code topics} whose producer last wrote there
     * at least {@code quietFor} ago. While producers are alive this has to be longer than their
     * transaction timeout: a transaction being committed is open on a partition, its coordinator
     * already done with it, for the moment its marker takes to arrive. One its coordinator's present
     * state leaves undecided is looked up in the coordinators' log ({@link CoordinatorLog}), read with
     * {@code clientConfig}.
     */
    public static List<Hanging> find(Admin admin, Map<String, Object> clientConfig, Collection<String> topics, Duration quietFor) {
        return call("look for hanging transactions", () -> {
            List<TopicPartition> partitions = new ArrayList<>();
            admin.describeTopics(topics).allTopicNames().get(TIMEOUT_SECONDS, TimeUnit.SECONDS)
                    .forEach((name, d) -> d.partitions().forEach(p -> partitions.add(new TopicPartition(name, p.partition()))));
            Map<Long, TransactionListing> byProducer = new HashMap<>();
            for (TransactionListing listing : admin.listTransactions().all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                byProducer.put(listing.producerId(), listing);
            }
            List<Hanging> found = new ArrayList<>();
            long lastWriteBefore = System.currentTimeMillis() - quietFor.toMillis();
            Map<String, TransactionDescription> described = new HashMap<>();
            Function<String, TransactionDescription> describe = id -> described.computeIfAbsent(id, key -> describe(admin, key));
            var producers = admin.describeProducers(partitions).all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            for (var entry : producers.entrySet()) {
                for (ProducerState producer : entry.getValue().activeProducers()) {
                    TransactionListing listing = byProducer.get(producer.producerId());
                    if (hanging(entry.getKey(), producer, lastWriteBefore, listing, describe)) {
                        found.add(new Hanging(entry.getKey(), producer.producerId(), producer.producerEpoch(),
                                producer.coordinatorEpoch().orElse(0), producer.currentTransactionStartOffset().getAsLong(),
                                outcome(producer, listing == null ? null : describe.apply(listing.transactionalId()))));
                    }
                }
            }
            Map<Long, String> transactionalIds = new HashMap<>();
            byProducer.forEach((id, listing) -> transactionalIds.put(id, listing.transactionalId()));
            Map<Hanging, Outcome> logged = CoordinatorLog.decide(clientConfig,
                    found.stream().filter(t -> t.outcome() == Outcome.UNDECIDED).toList(), transactionalIds);
            return found.stream().map(t -> logged.containsKey(t) ? new Hanging(t.partition(), t.producerId(), t.producerEpoch(),
                    t.coordinatorEpoch(), t.startOffset(), logged.get(t)) : t).toList();
        });
    }

    /**
     * Ends these transactions as their coordinator decided: a COMMIT marker for one it committed
     * (its records become readable, as they would have been), an ABORT marker for one it aborted,
     * and for an undecided one an ABORT marker when {@code abortUndecided} (a run about to resume,
     * whose producers are all gone: what the coordinator would have done) or nothing. Returns what it did.
     */
    public static List<Ended> end(Admin admin, Map<String, Object> clientConfig, List<Hanging> hanging, boolean abortUndecided) {
        return call("end hanging transactions", () -> {
            List<Ended> ended = new ArrayList<>();
            List<Hanging> committed = hanging.stream().filter(t -> t.outcome() == Outcome.COMMITTED).toList();
            if (!committed.isEmpty()) {
                Map<String, TopicDescription> topics = admin.describeTopics(committed.stream().map(t -> t.partition().topic())
                        .distinct().toList()).allTopicNames().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                Map<Node, List<Hanging>> byLeader = new HashMap<>();
                for (Hanging transaction : committed) {
                    Node leader = topics.get(transaction.partition().topic()).partitions().get(transaction.partition().partition()).leader();
                    if (leader == null || leader.isEmpty()) {
                        throw new IllegalStateException(transaction.partition() + " has no leader");
                    }
                    byLeader.computeIfAbsent(leader, node -> new ArrayList<>()).add(transaction);
                }
                CommitMarkers.write(clientConfig, byLeader);
                committed.forEach(t -> ended.add(new Ended(t, Outcome.COMMITTED)));
            }
            for (Hanging transaction : hanging) {
                if (transaction.outcome() == Outcome.ABORTED || transaction.outcome() == Outcome.UNDECIDED && abortUndecided) {
                    admin.abortTransaction(new AbortTransactionSpec(transaction.partition(), transaction.producerId(),
                            (short) transaction.producerEpoch(), transaction.coordinatorEpoch())).all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                    ended.add(new Ended(transaction, Outcome.ABORTED));
                }
            }
            return ended;
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

    /**
     * What {@code coordinator}, the coordinator's description of the producer's transactional id
     * (null when it knows none), decided about the transaction {@code producer} holds open.
     */
    static Outcome outcome(ProducerState producer, TransactionDescription coordinator) {
        if (coordinator == null || coordinator.producerId() != producer.producerId()
                || coordinator.producerEpoch() != producer.producerEpoch() + 1) {
            return Outcome.UNDECIDED;
        }
        return switch (coordinator.state()) {
            case COMPLETE_COMMIT, PREPARE_COMMIT -> Outcome.COMMITTED;
            case COMPLETE_ABORT, PREPARE_ABORT -> Outcome.ABORTED;
            default -> Outcome.UNDECIDED;
        };
    }

    private static TransactionDescription describe(Admin admin, String transactionalId) {
        return call("describe transaction " + transactionalId,
                () -> admin.describeTransactions(List.of(transactionalId)).all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS).get(transactionalId));
    }
}
