package io.pacedrl.topics;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/** What every service's process does the same way: run until Ctrl-C, then close; commit past a batch. */
public final class ServiceLifecycle {
    private ServiceLifecycle() {}

    /** Prints {@code banner} and blocks until the JVM is asked to stop, closing {@code service} (cleanly) first. */
    public static void runUntilShutdown(AutoCloseable service, String banner) throws InterruptedException {
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                service.close();
            } catch (Exception e) {
                System.err.println("closing: " + e);
            }
            closed.countDown();
        }));
        System.out.println(banner + " (Ctrl-C stops)");
        closed.await();
    }

    /** The offsets just past each partition's last record of {@code batch}: what a transaction commits with it. */
    public static <K, V> Map<TopicPartition, OffsetAndMetadata> nextOffsets(ConsumerRecords<K, V> batch) {
        Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
        for (TopicPartition partition : batch.partitions()) {
            List<ConsumerRecord<K, V>> records = batch.records(partition);
            next.put(partition, new OffsetAndMetadata(records.get(records.size() - 1).offset() + 1));
        }
        return next;
    }
}
