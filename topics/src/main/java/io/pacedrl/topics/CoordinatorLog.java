package io.pacedrl.topics;

import io.pacedrl.topics.HangingTransactions.Hanging;
import io.pacedrl.topics.HangingTransactions.Outcome;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.IntStream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.internals.Topic;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.serialization.ByteBufferDeserializer;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.coordinator.transaction.TransactionState;
import org.apache.kafka.coordinator.transaction.generated.TransactionLogValue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The transaction coordinators' own log ({@code __transaction_state}), read for the hanging
 * transactions whose coordinator's present state no longer says how it ended them: the producer has
 * gone on to later transactions, so its state is at a later epoch. The log still holds what the
 * coordinator wrote when it decided: under transaction version 2 a transaction at epoch e ends with
 * a {@code PrepareCommit} or {@code PrepareAbort} at e + 1 that lists the partitions it covers. A
 * fault campaign's stall was such a case: a generator's transaction on {@code rollouts-3}, committed
 * at its epoch + 1 with that partition listed, its marker never written there (docs/faults.md).
 * The topic is compacted, so an old decision can be gone; that transaction stays undecided.
 */
final class CoordinatorLog {
    private static final Logger log = LoggerFactory.getLogger(CoordinatorLog.class);
    private static final Duration READ_FOR = Duration.ofSeconds(60);

    private CoordinatorLog() {}

    /**
     * The outcome each of {@code undecided} has in the coordinators' log (those it decides; the
     * others are left out). {@code transactionalIds} names the transactional id of each producer its
     * coordinator still lists: the log is read only where the coordinator keeps those ids' states,
     * and whole when one is not known. Reading needs permission to read {@code __transaction_state};
     * without it, or with the cluster away, none is decided and the reason is logged.
     */
    static Map<Hanging, Outcome> decide(Map<String, Object> clientConfig, List<Hanging> undecided, Map<Long, String> transactionalIds) {
        Map<Hanging, Outcome> decided = new HashMap<>();
        if (undecided.isEmpty()) {
            return decided;
        }
        Map<String, Object> config = new HashMap<>(clientConfig);
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        config.remove(ConsumerConfig.GROUP_ID_CONFIG);
        try (KafkaConsumer<ByteBuffer, ByteBuffer> consumer = new KafkaConsumer<>(config, new ByteBufferDeserializer(),
                new ByteBufferDeserializer())) {
            int count = consumer.partitionsFor(Topic.TRANSACTION_STATE_TOPIC_NAME, READ_FOR).size();
            Set<Integer> holding = new TreeSet<>();
            for (Hanging transaction : undecided) {
                String id = transactionalIds.get(transaction.producerId());
                if (id == null) {
                    IntStream.range(0, count).forEach(holding::add);
                } else {
                    holding.add(partitionOf(id, count));
                }
            }
            List<TopicPartition> partitions = holding.stream()
                    .map(p -> new TopicPartition(Topic.TRANSACTION_STATE_TOPIC_NAME, p)).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, READ_FOR);
            long deadline = System.nanoTime() + READ_FOR.toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p, READ_FOR) < end.get(p)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<ByteBuffer, ByteBuffer> record : consumer.poll(Duration.ofMillis(500))) {
                    TransactionLogValue value = value(record.key(), record.value());
                    for (Hanging transaction : undecided) {
                        Outcome outcome = decision(value, transaction);
                        if (outcome != Outcome.UNDECIDED) {
                            decided.put(transaction, outcome);
                        }
                    }
                }
            }
        } catch (RuntimeException e) {
            log.warn("could not read the transaction coordinators' log for {} hanging transaction(s): {}", undecided.size(),
                    e.getMessage());
        }
        return decided;
    }

    /**
     * How {@code value}, one state the coordinator logged, decided {@code transaction}: a commit or
     * abort being prepared for its producer at its epoch + 1 that lists its partition; else undecided.
     */
    static Outcome decision(TransactionLogValue value, Hanging transaction) {
        if (value == null || value.producerId() != transaction.producerId()
                || value.producerEpoch() != transaction.producerEpoch() + 1 || value.transactionPartitions() == null) {
            return Outcome.UNDECIDED;
        }
        TopicPartition partition = transaction.partition();
        boolean covers = value.transactionPartitions().stream().anyMatch(listed -> listed.topic().equals(partition.topic())
                && listed.partitionIds().contains(partition.partition()));
        if (!covers) {
            return Outcome.UNDECIDED;
        }
        TransactionState state = TransactionState.fromId(value.transactionStatus());
        return state == TransactionState.PREPARE_COMMIT ? Outcome.COMMITTED
                : state == TransactionState.PREPARE_ABORT ? Outcome.ABORTED : Outcome.UNDECIDED;
    }

    /** The partition of the coordinators' log that holds {@code transactionalId}'s states: as the broker places it. */
    static int partitionOf(String transactionalId, int partitions) {
        return Utils.abs(transactionalId.hashCode()) % partitions;
    }

    /** A logged transaction state, or null for a tombstone or a record of a version this client cannot read. */
    private static TransactionLogValue value(ByteBuffer key, ByteBuffer value) {
        if (key == null || value == null || value.remaining() < Short.BYTES) {
            return null;
        }
        ByteBuffer bytes = value.duplicate();
        short version = bytes.getShort();
        if (version < TransactionLogValue.LOWEST_SUPPORTED_VERSION || version > TransactionLogValue.HIGHEST_SUPPORTED_VERSION) {
            return null;
        }
        try {
            return new TransactionLogValue(new ByteBufferAccessor(bytes), version);
        } catch (RuntimeException e) {
            return null;
        }
    }
}
