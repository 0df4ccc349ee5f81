package io.pacedrl.topics;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.AbortTransactionSpec;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.common.TopicPartition;

/**
 * Finds and aborts hanging transactions (KIP-664): a partition that holds an open transaction of a
 * producer whose coordinator does not count that partition in an ongoing transaction. Nothing ever
 * ends such a transaction, and every read_committed reader and every committed-offset fetch of a
 * group it touched waits on it forever. It can be left behind when the broker itself is killed
 * mid-transaction (the embedded broker dies with a killed {@code train}); Kafka's own tool for it is
 * {@code kafka-transactions.sh find-hanging} then {@code abort}, which this does for a run's topics
 * and the offsets topic before the run resumes, while none of its producers is alive.
 */
public final class HangingTransactions {
    /** One aborted transaction. */
    public record Aborted(TopicPartition partition, long producerId, int producerEpoch, long startOffset) {}

    private static final long TIMEOUT_SECONDS = 60;

    private HangingTransactions() {}

    /** Aborts the hanging transactions on every partition of {@code topics}; returns what it aborted. */
    public static List<Aborted> abort(Admin admin, Collection<String> topics) {
        try {
            List<TopicPartition> partitions = new ArrayList<>();
            Map<String, TopicDescription> described = admin.describeTopics(topics).allTopicNames().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            described.forEach((name, d) -> d.partitions().forEach(p -> partitions.add(new TopicPartition(name, p.partition()))));
            Map<Long, TransactionListing> byProducer = new HashMap<>();
            for (TransactionListing listing : admin.listTransactions().all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                byProducer.put(listing.producerId(), listing);
            }
            List<Aborted> aborted = new ArrayList<>();
            var producers = admin.describeProducers(partitions).all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            for (var entry : producers.entrySet()) {
                for (ProducerState producer : entry.getValue().activeProducers()) {
                    if (producer.currentTransactionStartOffset().isEmpty() || !hanging(admin, entry.getKey(), producer, byProducer)) {
                        continue;
                    }
                    admin.abortTransaction(new AbortTransactionSpec(entry.getKey(), producer.producerId(), (short) producer.producerEpoch(),
                            producer.coordinatorEpoch().orElse(0))).all().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                    aborted.add(new Aborted(entry.getKey(), producer.producerId(), producer.producerEpoch(),
                            producer.currentTransactionStartOffset().getAsLong()));
                }
            }
            return aborted;
        } catch (ExecutionException e) {
            throw new IllegalStateException("cannot look for hanging transactions: " + e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("the cluster did not answer within " + TIMEOUT_SECONDS + " s while looking for hanging "
                    + "transactions", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while looking for hanging transactions", e);
        }
    }

    /** Whether the producer's coordinator has no ongoing transaction that includes this partition. */
    private static boolean hanging(Admin admin, TopicPartition partition, ProducerState producer, Map<Long, TransactionListing> byProducer)
            throws ExecutionException, InterruptedException, TimeoutException {
        TransactionListing listing = byProducer.get(producer.producerId());
        if (listing == null) {
            return true;
        }
        if (!Set.of(TransactionState.ONGOING, TransactionState.PREPARE_ABORT, TransactionState.PREPARE_COMMIT)
                .contains(listing.state())) {
            return true;
        }
        TransactionDescription description = admin.describeTransactions(List.of(listing.transactionalId())).all()
                .get(TIMEOUT_SECONDS, TimeUnit.SECONDS).get(listing.transactionalId());
        return !description.topicPartitions().contains(partition);
    }
}
