package io.pacedrl.runner;

import io.pacedrl.learning.MetricNames;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.Torch;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.TaskSuite;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * The whole pipeline, asynchronous and lock-step, on equal work: the same updates of the same
 * batches, every service in this process. It measures each over its steady window (first update to
 * last; start-up and final evaluation left out) by CPU time per service thread, and sets the
 * asynchronous throughput against the compute bound: the CPU seconds of generation, scoring and
 * updates spread perfectly over the cores.
 */
@Command(name = "pipeline", mixinStandardHelpOptions = true,
        description = "Asynchronous against lock-step training on equal work: rollouts/s, CPU, idle time, the compute bound.")
final class PipelineBenchmarkCommand implements Callable<Integer> {
    @Mixin
    PlatformOptions platformOptions;

    @Mixin
    TrainingOptions training;

    @Mixin
    SuiteOptions suiteOptions;

    @Mixin
    BenchmarkRunOptions runs;

    @Spec
    CommandSpec spec;

    /** The idle figure of the learner: seconds it waited for a batch in the window. */
    static final String LEARNER_WAITING = "learner (waiting for a batch)";

    /** One mode's figures. */
    record Figures(String mode, int updates, double windowSeconds, double rollouts, double rolloutsPerSecond, double cpuUtilisation,
            Map<String, Double> cpuSeconds, Map<String, Double> idleSeconds, double computeBound, double boundShare,
            double learnerPipelineShare) {}

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        platformOptions.validate();
        TrainingConfig config = runs.config(training.config(), spec);
        TaskSuite suite = suiteOptions.suite();
        List<TaskPrompt> pool = suite.train();
        Torch.configure(1);
        Path weights = training.referenceWeights(out, TrainCommand.warmStart(suite));
        Path runDir = platformOptions.runDir("bench-pipeline");
        List<Figures> results = new ArrayList<>();
        try (Platform platform = platformOptions.open("bench-pipeline")) {
            for (boolean lockStep : new boolean[] {false, true}) {
                String mode = lockStep ? "lock-step" : "async";
                TrainingRun.Settings settings = new TrainingRun.Settings(config, lockStep, 1,
                        platformOptions.topicPrefix + runDir.getFileName() + "-" + mode, runDir.resolve(mode), weights, pool,
                        suite.heldOut(), Duration.ofMinutes(5));
                if (!lockStep) {
                    runs.warmUp(out, platform, settings);
                }
                out.printf("%-9s  %s, %d updates of %d × %d…%n", mode, config.method(), config.steps(), config.promptsPerStep(),
                        config.groupSize());
                out.flush();
                results.add(figures(mode, TrainingRun.run(platform, settings, progress -> {})));
            }
        }
        print(out, results);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("config", config.asKeys());
        json.put("cores", Runtime.getRuntime().availableProcessors());
        json.put("results", results);
        out.printf("report     %s%n", platformOptions.writeResults("bench-pipeline", "bench-pipeline.json", json));
        return 0;
    }

    static Figures figures(String mode, TrainingRun.Result r) {
        double window = r.windowSeconds();
        Map<String, Double> cpu = r.windowCpuSeconds();
        double total = cpu.values().stream().mapToDouble(Double::doubleValue).sum();
        Map<String, Double> idle = new LinkedHashMap<>();
        Map<String, Object> first = r.metrics().get(0);
        Map<String, Object> last = r.metrics().get(r.metrics().size() - 1);
        idle.put(LEARNER_WAITING, number(last, MetricNames.SECONDS_WAITING) - number(first, MetricNames.SECONDS_WAITING));
        // One sampling thread per generator: its wall time not on the CPU is time without prompts.
        idle.put("generator (off the CPU)", window - cpu.get("generator"));
        double compute = cpu.get("generator") + cpu.get("reward-service") + cpu.get("learner");
        double bound = r.windowRollouts() / (compute / r.cores());
        double outside = (number(last, MetricNames.SECONDS_ASSEMBLING) - number(first, MetricNames.SECONDS_ASSEMBLING))
                + (number(last, MetricNames.SECONDS_SNAPSHOT) - number(first, MetricNames.SECONDS_SNAPSHOT))
                + (number(last, MetricNames.SECONDS_HAND_OFF) - number(first, MetricNames.SECONDS_HAND_OFF));
        double inside = number(last, MetricNames.SECONDS_COMPUTE) - number(first, MetricNames.SECONDS_COMPUTE);
        return new Figures(mode, r.config().steps(), window, r.windowRollouts(), r.windowRollouts() / window,
                total / (window * r.cores()), cpu, idle, bound, r.windowRollouts() / window / bound, outside / (outside + inside));
    }

    private static void print(PrintWriter out, List<Figures> results) {
        out.printf("%n%-34s %14s %14s%n", "", results.get(0).mode(), results.get(1).mode());
        row(out, "updates measured", results, f -> String.format("%d", f.updates() - 1));
        row(out, "rollouts consumed", results, f -> String.format("%,.0f", f.rollouts()));
        row(out, "wall time", results, f -> String.format("%.1f s", f.windowSeconds()));
        row(out, "rollouts/s", results, f -> String.format("%.1f", f.rolloutsPerSecond()));
        row(out, "CPU utilisation (all threads)", results, f -> String.format("%.0f %%", 100 * f.cpuUtilisation()));
        for (String service : results.get(0).cpuSeconds().keySet()) {
            row(out, "  CPU s: " + service, results, f -> String.format("%.1f", f.cpuSeconds().get(service)));
        }
        for (String service : results.get(0).idleSeconds().keySet()) {
            row(out, "  idle s: " + service, results, f -> String.format("%.1f", f.idleSeconds().get(service)));
        }
        row(out, "compute bound (rollouts/s)", results, f -> String.format("%.1f", f.computeBound()));
        row(out, "throughput / compute bound", results, f -> String.format("%.2f", f.boundShare()));
        row(out, "learner outside model compute", results, f -> String.format("%.2f %%", 100 * f.learnerPipelineShare()));
        out.printf("%-34s %14s%n", "async speed-up over lock-step",
                String.format("%.2f×", results.get(0).rolloutsPerSecond() / results.get(1).rolloutsPerSecond()));
    }

    private static void row(PrintWriter out, String label, List<Figures> results, Function<Figures, String> cell) {
        out.printf("%-34s %14s %14s%n", label, cell.apply(results.get(0)), cell.apply(results.get(1)));
    }

    private static double number(Map<String, Object> row, String key) {
        return row.get(key) instanceof Number n ? n.doubleValue() : 0;
    }
}
