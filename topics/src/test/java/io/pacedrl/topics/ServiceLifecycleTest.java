package io.pacedrl.topics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ServiceLifecycleTest {

    @Test
    void aServiceWhoseWorkStoppedIsClosedAndTheProcessExitsNonZero() throws Exception {
        AtomicBoolean closed = new AtomicBoolean();
        AtomicInteger checks = new AtomicInteger();
        int exitCode = ServiceLifecycle.runUntilShutdown(() -> closed.set(true), "test-service running",
                () -> checks.incrementAndGet() < 2 ? Optional.empty() : Optional.of(new IllegalStateException("its loop died")),
                new MetricsOptions());

        assertEquals(1, exitCode);
        assertTrue(closed.get(), "the service is closed before the process exits");
        assertEquals(2, checks.get(), "the failure is looked for until it shows");
    }
}
