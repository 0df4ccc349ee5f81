package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** A tiny warm-started policy for the commands' tests: seconds to train, a weights file to pass as --weights. */
final class TinyPolicy {
    private TinyPolicy() {}

    /** Training keys for a run of {@code steps} small updates with the tiny policy: seconds per update. */
    static List<String> runOptions(Path weights, int steps) {
        return List.of("--weights", weights.toString(), "--pool-size", "200", "--steps",
                Integer.toString(steps), "--set", "prompts-per-step=4", "--set", "group-size=4", "--set", "replay-size=4",
                "--set", "max-new-tokens=8", "--set", "eval-every=50", "--set", "eval-prompts=8", "--set", "eval-samples=2",
                "--set", "final-samples=2", "--set", "probe-prompts=8", "--set", "partition-fit-steps=2");
    }

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
