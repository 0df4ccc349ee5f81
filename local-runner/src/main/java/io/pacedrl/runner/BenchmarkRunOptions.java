package io.pacedrl.runner;

import io.pacedrl.learning.TrainingConfig;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/** The runs a pipeline benchmark compares: N updates each, evaluated only at the ends and small, outside the window measured. */
final class BenchmarkRunOptions {
    @Option(names = "--updates", defaultValue = "40", paramLabel = "N",
            description = "Updates per run; the window measured is updates 1 to N (default: ${DEFAULT-VALUE}).")
    int updates;

    /** {@code training} for a benchmark run; fails naming --updates when there would be no window to measure. */
    TrainingConfig config(TrainingConfig training, CommandSpec spec) {
        if (updates < 3) {
            throw new ParameterException(spec.commandLine(), "--updates must be ≥ 3, got " + updates);
        }
        return training.with(Map.of("steps", updates, "eval-every", updates, "eval-prompts", 64, "eval-samples", 1,
                "final-samples", 1, "probe-prompts", 16));
    }
}
