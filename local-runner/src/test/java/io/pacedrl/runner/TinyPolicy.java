package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;

/** A tiny warm-started policy for the commands' tests: seconds to train, a weights file to pass as --weights. */
final class TinyPolicy {
    private TinyPolicy() {}

    static Path train(Path dir) throws Exception {
        CommandRun warm = CommandRun.of("warmstart", "--d-model", "32", "--layers", "1", "--heads", "2", "--context", "48", "--threads", "2",
                "--steps", "20", "--batch-size", "16", "--train-size", "200", "--held-out-size", "40", "--eval-prompts", "10",
                "--samples", "2", "--cache-dir", dir.resolve("cache").toString(), "--run-dir", dir.resolve("warm").toString());
        assertEquals(0, warm.exitCode(), warm.out() + warm.err());
        try (var files = Files.list(dir.resolve("cache"))) {
            return files.filter(f -> f.toString().endsWith(".weights")).findFirst().orElseThrow();
        }
    }
}
