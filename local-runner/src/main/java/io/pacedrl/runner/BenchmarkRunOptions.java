package io.pacedrl.runner;

import io.pacedrl.learning.TrainingConfig;
import java.io.PrintWriter;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/** The runs a pipeline benchmark compares: N updates each, evaluated only at the ends and small, outside the window measured. */
final class BenchmarkRunOptions {
    @Option(names = "--updates", defaultValue = "40", paramLabel = "N",
            description = "Updates per run; the window measured is updates 1 to N (default: ${DEFAULT-VALUE}).")
    int updates;

    @Option(names = "--warm-up", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Run the first configuration once more before the runs compared, and leave it out: in one JVM a "
                    + "second identical run was 18 %% faster than the first (the JVM warming up), which "
                    + "would favour whichever run goes second (default: on; --no-warm-up to skip it).")
    boolean warmUp;

    /** {@code training} for a benchmark run; fails naming --updates when there would be no window to measure. */
    TrainingConfig config(TrainingConfig training, CommandSpec spec) {
        if (updates < 3) {
            throw new ParameterException(spec.commandLine(), "--updates must be ≥ 3, got " + updates);
        }
        return training.with(Map.of("steps", updates, "eval-every", updates, "eval-prompts", 64, "eval-samples", 1,
                "final-samples", 1, "probe-prompts", 16));
    }

    /**
     * The warm-up, when asked for: {@code settings} run once under the id and directory given with
     * "-warm-up" appended; its throughput is printed, marked as not counted.
     */
    void warmUp(PrintWriter out, Platform platform, TrainingRun.Settings settings) throws Exception {
        if (!warmUp) {
            return;
        }
        out.printf("warm-up   %d updates, not counted…%n", settings.config().steps());
        out.flush();
        TrainingRun.Result r = TrainingRun.run(platform, new TrainingRun.Settings(settings.config(), settings.lockStep(),
                settings.generators(), settings.runId() + "-warm-up", settings.runDir().resolveSibling("warm-up"),
                settings.weights(), settings.pool(), settings.heldOut(), settings.stall(), settings.externalKinds()), progress -> {});
        out.printf("warm-up   %.1f rollouts/s over its window (not counted)%n", r.windowRollouts() / r.windowSeconds());
    }
}
