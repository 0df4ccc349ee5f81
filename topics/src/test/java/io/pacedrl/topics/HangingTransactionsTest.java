package io.pacedrl.topics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.embedded.LocalKafka;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;
import java.util.UUID;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.ProducerState;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionListing;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.internals.Topic;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A transaction open on a partition is hanging only when it is quiet for long enough and not counted
 * by its coordinator in an ongoing transaction: a live one is not reported, and commits. A hanging one
 * is ended as its coordinator decided, and a COMMIT marker makes its records readable.
 */
class HangingTransactionsTest {
    private static final TopicPartition PARTITION = new TopicPartition("run.scored-rollouts", 2);
    private static final long NOW = 1_000_000;

    private static LocalKafka kafka;
    private static Admin admin;

    @BeforeAll
    static void startBroker(@TempDir Path dataDir) throws Exception {
        kafka = LocalKafka.start(dataDir, false);
        admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()));
    }

    @AfterAll
    static void stopBroker() throws Exception {
        admin.close();
        kafka.close();
    }

    private static ProducerState open(long lastWrite) {
        return new ProducerState(3, 6, 4, lastWrite, OptionalInt.of(0), OptionalLong.of(5));
    }

    private static TransactionDescription ongoing(Set<TopicPartition> partitions) {
        return new TransactionDescription(1, TransactionState.ONGOING, 3, 6, 60_000, OptionalLong.of(NOW), partitions);
    }

    @Test
    void onlyAQuietOpenTransactionItsCoordinatorDoesNotCountIsHanging() {
        TransactionListing committed = new TransactionListing("run.reward-numeric-0", 3, TransactionState.COMPLETE_COMMIT);
        TransactionListing live = new TransactionListing("run.reward-numeric-0", 3, TransactionState.ONGOING);
        long quietSince = NOW - 90_000;
        ProducerState closed = new ProducerState(3, 6, 4, quietSince - 1, OptionalInt.empty(), OptionalLong.empty());
        assertFalse(HangingTransactions.hanging(PARTITION, closed, quietSince, committed, id -> ongoing(Set.of())), "no open transaction");
        assertFalse(HangingTransactions.hanging(PARTITION, open(quietSince + 1), quietSince, committed, id -> ongoing(Set.of())),
                "written too recently: its marker may be on its way");
        assertTrue(HangingTransactions.hanging(PARTITION, open(quietSince - 1), quietSince, committed, id -> ongoing(Set.of())),
                "its coordinator has completed it");
        assertTrue(HangingTransactions.hanging(PARTITION, open(quietSince - 1), quietSince, null, id -> ongoing(Set.of())),
                "no coordinator knows the producer");
        assertFalse(HangingTransactions.hanging(PARTITION, open(quietSince - 1), quietSince, live, id -> ongoing(Set.of(PARTITION))),
                "an ongoing transaction of its coordinator's counts the partition: the coordinator ends it");
        assertTrue(HangingTransactions.hanging(PARTITION, open(quietSince - 1), quietSince, live,
                id -> ongoing(Set.of(new TopicPartition("run.scored-rollouts", 1)))), "its ongoing transaction is elsewhere");
    }

    @Test
    void theCoordinatorsDecisionIsTheOneAtTheNextEpoch() {
        ProducerState open = open(NOW); // producer 3, epoch 6
        assertEquals(HangingTransactions.Outcome.COMMITTED, HangingTransactions.outcome(open, described(TransactionState.COMPLETE_COMMIT, 3, 7)),
                "committed: transaction version 2 ends each transaction at the next epoch");
        assertEquals(HangingTransactions.Outcome.COMMITTED, HangingTransactions.outcome(open, described(TransactionState.PREPARE_COMMIT, 3, 7)));
        assertEquals(HangingTransactions.Outcome.ABORTED, HangingTransactions.outcome(open, described(TransactionState.COMPLETE_ABORT, 3, 7)));
        assertEquals(HangingTransactions.Outcome.UNDECIDED, HangingTransactions.outcome(open, described(TransactionState.COMPLETE_COMMIT, 3, 8)),
                "a later transaction's commit says nothing of this one");
        assertEquals(HangingTransactions.Outcome.UNDECIDED, HangingTransactions.outcome(open, described(TransactionState.COMPLETE_COMMIT, 3, 6)),
                "the epoch of the open transaction itself: not its end");
        assertEquals(HangingTransactions.Outcome.UNDECIDED, HangingTransactions.outcome(open, described(TransactionState.ONGOING, 3, 7)),
                "the producer is in its next transaction");
        assertEquals(HangingTransactions.Outcome.UNDECIDED, HangingTransactions.outcome(open, described(TransactionState.COMPLETE_COMMIT, 4, 7)),
                "another producer of the transactional id");
        assertEquals(HangingTransactions.Outcome.UNDECIDED, HangingTransactions.outcome(open, null), "no coordinator knows it");
    }

    private static TransactionDescription described(TransactionState state, long producerId, int epoch) {
        return new TransactionDescription(1, state, producerId, epoch, 60_000, OptionalLong.of(NOW), Set.of());
    }

    @Test
    void aCommitMarkerMakesAnOpenTransactionsRecordsReadable() throws Exception {
        String topic = createTopic("run.committed");
        TopicPartition partition = new TopicPartition(topic, 0);
        try (KafkaProducer<String, String> producer = transactionalProducer("run.stopped-writer")) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, "k", "v")).get();
            ProducerState state = admin.describeProducers(List.of(partition)).all().get().get(partition).activeProducers().get(0);
            HangingTransactions.Hanging open = new HangingTransactions.Hanging(partition, state.producerId(), state.producerEpoch(),
                    state.coordinatorEpoch().orElse(0), state.currentTransactionStartOffset().getAsLong(),
                    HangingTransactions.Outcome.COMMITTED);
            assertEquals(0, readCommitted(topic, Duration.ofSeconds(1)), "open: nothing to read");
            List<HangingTransactions.Ended> ended = HangingTransactions.end(admin,
                    Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()), List.of(open), false);
            assertEquals(List.of(new HangingTransactions.Ended(open, HangingTransactions.Outcome.COMMITTED)), ended);
            assertEquals(1, readCommitted(topic, Duration.ofSeconds(30)), "the record is committed, without its producer");
        }
    }

    /**
     * A producer that has gone on to later transactions leaves its coordinator's present state at a
     * later epoch; the coordinator's log still says how each earlier one ended, for the partitions
     * it listed: a commit of the transaction at epoch e (written at e + 1), an abort of the one at
     * e + 1, nothing for a partition neither touched or an epoch it never reached.
     */
    @Test
    void theCoordinatorsLogDecidesATransactionItsProducerHasGoneOnFrom() throws Exception {
        String topic = createTopic("run.gone-on");
        String untouched = createTopic("run.untouched");
        TopicPartition partition = new TopicPartition(topic, 0);
        ProducerState first;
        try (KafkaProducer<String, String> producer = transactionalProducer("run.gone-on-writer")) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, "k", "committed")).get();
            first = admin.describeProducers(List.of(partition)).all().get().get(partition).activeProducers().get(0);
            producer.commitTransaction();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, "k", "aborted")).get();
            producer.abortTransaction();
            for (int i = 0; i < 3; i++) {
                producer.beginTransaction();
                producer.send(new ProducerRecord<>(topic, "k", "later")).get();
                producer.commitTransaction();
            }
        }
        HangingTransactions.Hanging committed = hanging(partition, first.producerId(), first.producerEpoch());
        HangingTransactions.Hanging aborted = hanging(partition, first.producerId(), first.producerEpoch() + 1);
        HangingTransactions.Hanging elsewhere = hanging(new TopicPartition(untouched, 0), first.producerId(), first.producerEpoch());
        HangingTransactions.Hanging never = hanging(partition, first.producerId(), first.producerEpoch() + 100);
        Map<HangingTransactions.Hanging, HangingTransactions.Outcome> expected = Map.of(committed, HangingTransactions.Outcome.COMMITTED,
                aborted, HangingTransactions.Outcome.ABORTED);
        List<HangingTransactions.Hanging> undecided = List.of(committed, aborted, elsewhere, never);
        assertEquals(expected, CoordinatorLog.decide(clientConfig(), undecided, Map.of()), "the whole log read");
        assertEquals(expected, CoordinatorLog.decide(clientConfig(), undecided, Map.of(first.producerId(), "run.gone-on-writer")),
                "only the partition that holds the producer's transactional id read");
        int partitions = admin.describeTopics(List.of(Topic.TRANSACTION_STATE_TOPIC_NAME)).allTopicNames().get()
                .get(Topic.TRANSACTION_STATE_TOPIC_NAME).partitions().size();
        String another = IntStream.range(0, 1000).mapToObj(i -> "another-" + i).filter(id -> CoordinatorLog.partitionOf(id, partitions)
                != CoordinatorLog.partitionOf("run.gone-on-writer", partitions)).findFirst().orElseThrow();
        assertEquals(Map.of(), CoordinatorLog.decide(clientConfig(), undecided, Map.of(first.producerId(), another)),
                "an id kept in another partition: that partition alone is read, and it holds nothing of this producer");
    }

    private static HangingTransactions.Hanging hanging(TopicPartition partition, long producerId, int epoch) {
        return new HangingTransactions.Hanging(partition, producerId, epoch, 0, 0, HangingTransactions.Outcome.UNDECIDED);
    }

    private static Map<String, Object> clientConfig() {
        return Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    }

    private static String createTopic(String name) throws Exception {
        admin.createTopics(List.of(new NewTopic(name, 1, (short) 1))).all().get();
        return name;
    }

    private static KafkaProducer<String, String> transactionalProducer(String transactionalId) {
        return new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId), new StringSerializer(), new StringSerializer());
    }

    private static int readCommitted(String topic, Duration wait) {
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers(), ConsumerConfig.GROUP_ID_CONFIG, UUID.randomUUID().toString(),
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed", ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"),
                new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + wait.toNanos();
            int read = 0;
            while (read == 0 && System.nanoTime() < deadline) {
                read += consumer.poll(Duration.ofMillis(200)).count();
            }
            return read;
        }
    }

    @Test
    void aLiveTransactionIsLeftAloneAndCommits() throws Exception {
        String topic = createTopic("run.live");
        try (KafkaProducer<String, String> producer = transactionalProducer("run.live-writer");
                HangingTransactionWatch watch = HangingTransactionWatch.start(kafka.bootstrapServers(), "run.",
                        Duration.ofMillis(100), Duration.ZERO)) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, "k", "v")).get();
            assertEquals(List.of(), HangingTransactions.find(admin, clientConfig(), List.of(topic), Duration.ZERO),
                    "open, and its coordinator's");
            Thread.sleep(1_000);
            assertEquals(0, watch.hanging(), "the watch looked about ten times and found none");
            producer.commitTransaction();
        }
        assertEquals(1, readCommitted(topic, Duration.ofSeconds(30)), "the committed record is read");
    }
}
