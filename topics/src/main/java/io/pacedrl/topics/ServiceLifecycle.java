package io.pacedrl.topics;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/** What every service's process does the same way: run until Ctrl-C, then close; commit past a batch. */
public final class ServiceLifecycle {
    private ServiceLifecycle() {}

    /**
     * Prints {@code banner} and blocks until the JVM is asked to stop, closing {@code service}
     * (cleanly) first, or until {@code failure} reports that the service's work stopped on its own:
     * a process that no longer does its work should exit, non-zero, so that whoever runs it sees it
     * and restarts it. Meanwhile it serves /metrics and /health if {@code metrics} names a port.
     * Returns the exit code: 0 after Ctrl-C, 1 after a failure.
     */
    public static int runUntilShutdown(AutoCloseable service, String banner, Supplier<Optional<? extends Throwable>> failure,
            MetricsOptions metrics) throws InterruptedException, IOException {
        try (MetricsEndpoint endpoint = metrics.start()) {
            return runUntilShutdown(service, banner + (endpoint == null ? "" : "; metrics on " + endpoint.url() + "/metrics, health on "
                    + endpoint.url() + "/health"), failure);
        }
    }

    private static int runUntilShutdown(AutoCloseable service, String banner, Supplier<Optional<? extends Throwable>> failure)
            throws InterruptedException {
        CountDownLatch closed = new CountDownLatch(1);
        AtomicBoolean closing = new AtomicBoolean();
        Runnable close = () -> {
            if (closing.compareAndSet(false, true)) {
                try {
                    service.close();
                } catch (Exception e) {
                    System.err.println("closing: " + e);
                }
                closed.countDown();
            }
        };
        // The hook stays: after a failure it finds the service closed already.
        Runtime.getRuntime().addShutdownHook(new Thread(close));
        System.out.println(banner + " (Ctrl-C stops)");
        while (!closed.await(1, TimeUnit.SECONDS)) {
            Optional<? extends Throwable> failed = failure.get();
            if (failed.isPresent()) {
                Throwable e = failed.get();
                System.err.println("stopping after a failure: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
                close.run();
                return 1;
            }
        }
        return 0;
    }

    /** The offsets just past each partition's last record of {@code batch}: what a transaction commits with it. */
    public static <K, V> Map<TopicPartition, OffsetAndMetadata> nextOffsets(Iterable<ConsumerRecord<K, V>> batch) {
        Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
        for (ConsumerRecord<K, V> record : batch) {
            next.merge(new TopicPartition(record.topic(), record.partition()), new OffsetAndMetadata(record.offset() + 1),
                    (a, b) -> a.offset() >= b.offset() ? a : b);
        }
        return next;
    }
}
