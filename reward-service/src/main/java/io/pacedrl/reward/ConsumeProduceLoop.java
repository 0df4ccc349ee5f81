package io.pacedrl.reward;

import io.pacedrl.topics.DeadLetters;
import io.pacedrl.topics.ServiceLifecycle;
import io.pacedrl.topics.ServiceMeters;
import io.pacedrl.topics.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A consumer group member that reads rollouts and writes what it makes of each batch in the same
 * transaction as the group's offsets: a crash before the commit redoes the batch, after it nothing
 * is repeated. A failed transaction is aborted and the batch read again. Polls that give no result
 * (only dead letters, or records another member scores) are held for the next poll that does, or
 * for {@link DeadLetters#HOLD}: a transaction for each poll of a flood of bad records would keep the
 * member, and the broker, committing. What is held is committed before the group takes its
 * partitions away, and dropped (to be read again by their new owner) when they are lost.
 */
abstract class ConsumeProduceLoop implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(ConsumeProduceLoop.class);

    final Topics topics;
    final String service;
    private final KafkaConsumer<String, byte[]> consumer;
    private final KafkaProducer<String, Object> producer;
    /** Results written (scored rollouts; dead letters are counted apart), counted once committed. */
    final AtomicLong written = new AtomicLong();
    final AtomicLong deadLettered = new AtomicLong();
    /** Why the member stopped on its own, or null while it runs (or was stopped). */
    volatile RuntimeException failure;
    private volatile boolean running = true;
    /** What the polls held since {@link #heldSince} (System.nanoTime()) wrote, their next offsets and their first ones. */
    private final List<ProducerRecord<String, Object>> held = new ArrayList<>();
    private final Map<TopicPartition, OffsetAndMetadata> heldOffsets = new HashMap<>();
    private final Map<TopicPartition, Long> heldFrom = new HashMap<>();
    private long heldSince;

    ConsumeProduceLoop(Topics topics, String service, KafkaConsumer<String, byte[]> consumer,
            KafkaProducer<String, Object> producer) {
        this.topics = topics;
        this.service = service;
        this.consumer = consumer;
        this.producer = producer;
    }

    /** Reports its Kafka clients' metrics (lag among them) with {@code meters}. */
    void bindTo(ServiceMeters meters, String group) {
        meters.bind(consumer, group);
        meters.bind(producer);
    }

    /** What the batch, polled at {@code receivedAtNanos} (System.nanoTime()), gives: records for any topic, dead letters included. */
    abstract List<ProducerRecord<String, Object>> handle(ConsumerRecords<String, byte[]> records, long receivedAtNanos);

    @Override
    public void run() {
        try {
            consumer.subscribe(List.of(topics.rollouts.name()), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    commitHeld();
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {}

                @Override
                public void onPartitionsLost(Collection<TopicPartition> partitions) {
                    clearHeld(); // no longer this member's to commit: their new owner reads them again
                }
            });
            producer.initTransactions();
            while (running) {
                ConsumerRecords<String, byte[]> records;
                try {
                    records = consumer.poll(Duration.ofMillis(200));
                } catch (WakeupException e) {
                    break; // stopping
                }
                long received = System.nanoTime();
                boolean results = false;
                if (!records.isEmpty()) {
                    results = hold(records, handle(records, received), received);
                }
                if (results || !heldOffsets.isEmpty() && received - heldSince >= DeadLetters.HOLD.toNanos()) {
                    commitHeld();
                }
            }
            commitHeld(); // stopping: what was read is committed, not read again
        } catch (RuntimeException e) {
            failure = e;
            log.error("{} stopped", service, e);
        } finally {
            // A static member leaves its group only when asked; a crashed one keeps its partitions for its restart.
            consumer.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
            producer.close(Duration.ofSeconds(5));
        }
    }

    /** Adds a poll and what it gave to what is held; whether it gave results (anything but dead letters). */
    private boolean hold(ConsumerRecords<String, byte[]> records, List<ProducerRecord<String, Object>> out, long received) {
        if (heldOffsets.isEmpty()) {
            heldSince = received;
        }
        held.addAll(out);
        heldOffsets.putAll(ServiceLifecycle.nextOffsets(records));
        for (TopicPartition partition : records.partitions()) {
            heldFrom.putIfAbsent(partition, records.records(partition).get(0).offset());
        }
        return out.stream().anyMatch(r -> !r.topic().equals(topics.deadLetters.name()));
    }

    /** Commits what is held with its offsets; a failed transaction is aborted and the held records read again. */
    private void commitHeld() {
        if (heldOffsets.isEmpty()) {
            return;
        }
        try {
            producer.beginTransaction();
            held.forEach(producer::send);
            producer.sendOffsetsToTransaction(heldOffsets, consumer.groupMetadata());
            producer.commitTransaction();
        } catch (ProducerFencedException e) {
            throw e; // another instance took over this producer's identity: this one must stop
        } catch (KafkaException e) {
            log.warn("{}: transaction failed, reading the batch again: {}", service, e.toString());
            producer.abortTransaction();
            heldFrom.forEach(consumer::seek);
            clearHeld();
            return;
        }
        long letters = held.stream().filter(r -> r.topic().equals(topics.deadLetters.name())).count();
        deadLettered.addAndGet(letters);
        written.addAndGet(held.size() - letters);
        clearHeld();
    }

    private void clearHeld() {
        held.clear();
        heldOffsets.clear();
        heldFrom.clear();
    }

    /** The dead letter for a record this member cannot process, keyed by its source topic. */
    ProducerRecord<String, Object> deadLetter(ConsumerRecord<String, byte[]> record, String type, String reason) {
        return new ProducerRecord<>(topics.deadLetters.name(), record.topic(),
                DeadLetters.of(record, type, reason, service, System.currentTimeMillis()));
    }

    void stop() {
        running = false;
        consumer.wakeup();
    }
}
