package io.pacedrl.reward;

import io.pacedrl.topics.DeadLetters;
import io.pacedrl.topics.ServiceLifecycle;
import io.pacedrl.topics.ServiceMeters;
import io.pacedrl.topics.Topics;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
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
 * is repeated. A failed transaction is aborted and the batch read again.
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
            consumer.subscribe(List.of(topics.rollouts.name()));
            producer.initTransactions();
            while (running) {
                ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofMillis(200));
                if (!records.isEmpty()) {
                    commit(records, handle(records, System.nanoTime()));
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            failure = e;
            log.error("{} stopped", service, e);
        } finally {
            // A static member leaves its group only when asked; a crashed one keeps its partitions for its restart.
            consumer.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
            producer.close(Duration.ofSeconds(5));
        }
    }

    private void commit(ConsumerRecords<String, byte[]> records, List<ProducerRecord<String, Object>> out) {
        try {
            producer.beginTransaction();
            out.forEach(producer::send);
            producer.sendOffsetsToTransaction(ServiceLifecycle.nextOffsets(records), consumer.groupMetadata());
            producer.commitTransaction();
        } catch (ProducerFencedException e) {
            throw e; // another instance took over this producer's identity: this one must stop
        } catch (KafkaException e) {
            log.warn("{}: transaction failed, reading the batch again: {}", service, e.toString());
            producer.abortTransaction();
            for (TopicPartition partition : records.partitions()) {
                consumer.seek(partition, records.records(partition).get(0).offset());
            }
            return;
        }
        long letters = out.stream().filter(r -> r.topic().equals(topics.deadLetters.name())).count();
        deadLettered.addAndGet(letters);
        written.addAndGet(out.size() - letters);
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
