package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A small fault campaign as a user runs it: the services as processes, each killed once, the broker
 * restarted, the registry away; every invariant read back from the topics holds.
 */
class ChaosCommandTest {
    @TempDir
    Path dir;

    @Test
    void everyServiceKilledTheBrokerRestartedAndTheRegistryAwayAndEveryInvariantHolds() throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), PacedRl.class.getName(), "chaos", "--run-dir", dir.resolve("run").toString(),
                "--kills", "1", "--registry-outage-seconds", "3", "--broker-restarts", "1"));
        command.addAll(TinyPolicy.runOptions(TinyPolicy.train(dir), 100));
        Path log = dir.resolve("chaos.log");
        Process chaos = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(chaos.waitFor(8, TimeUnit.MINUTES), "the campaign ended");
        String out = Files.readString(log);
        if (chaos.exitValue() != 0) {
            keepLogs(dir.resolve("run").resolve("logs"));
        }
        assertEquals(0, chaos.exitValue(), out);
        for (String target : List.of("difficulty-stream", "generator", "reward-service", "learner-service", "broker", "registry")) {
            assertTrue(out.lines().anyMatch(l -> l.matches("fault +\\d+  " + target + " +at version +-?\\d+: the next version .*")),
                    target + " faulted: " + out);
        }
        assertTrue(out.contains("ok   every version published once, in order     101 versions recorded, 0–100 each once"), out);
        assertTrue(out.contains("ok   every generator ends on the newest version"), out);
        assertTrue(out.contains("result     every invariant holds"), out);
    }

    /** A failed campaign's service logs, kept where CI's report of the failure can show them (the temporary directory goes). */
    private static void keepLogs(Path logs) throws Exception {
        Path kept = Files.createDirectories(Path.of("target", "chaos-logs"));
        try (var files = Files.list(logs)) {
            for (Path file : files.toList()) {
                Files.copy(file, kept.resolve(file.getFileName()), StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
