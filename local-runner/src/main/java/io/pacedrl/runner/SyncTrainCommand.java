package io.pacedrl.runner;

import io.pacedrl.learning.MetricNames;
import io.pacedrl.learning.RunMetrics;
import io.pacedrl.learning.SyncTrainer;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.TaskSuite;
import io.pacedrl.tasks.Verifiers;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The synchronous reference trainer on the command line: one method, in memory, from the warm
 * start, with the held-out learning curve, p̂'s health and the time split written as JSON and
 * plotted.
 */
@Command(name = "sync-train", mixinStandardHelpOptions = true,
        description = "Train with one method in a synchronous in-memory loop (the reference for the Kafka services).")
final class SyncTrainCommand implements Callable<Integer> {

    @Mixin
    RunOptions run;

    @Mixin
    TrainingOptions training;

    @Option(names = "--pool-size", paramLabel = "N", description = "Train on N prompts of the default suite's pool, a seeded "
            + "uniform sample (default: all 20,000).")
    Integer poolSize;

    @Option(names = "--fork-at", paramLabel = "STEP", description = "Train to STEP, then go on from there with the keys --fork-set "
            + "changes (a fork in the synchronous reference; with none changed, the run is the plain one, bit for bit).")
    Integer forkAt;

    @Option(names = "--fork-set", paramLabel = "KEY=VALUE", description = "With --fork-at: a training key changed from that step on; "
            + "repeatable.")
    Map<String, String> forkSet = new LinkedHashMap<>();

    @Mixin
    EngineOptions engine;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        TrainingConfig config = training.config();
        if (forkAt == null && !forkSet.isEmpty()) {
            throw new ParameterException(spec.commandLine(), "--fork-set needs --fork-at: the step the changed keys apply from");
        }
        TaskSuite suite = TaskSuite.generate(TaskSuite.Config.DEFAULT);
        List<TaskPrompt> pool = pool(suite, poolSize, config.seed());
        engine.startEngine();
        Path runDir = run.runDir("sync-train");
        byte[] reference = Files.readAllBytes(training.referenceWeights(out));
        out.printf("sync-train %s: %d steps of %d prompts × %d rollouts, pool %,d prompts, %d held-out%n", config.method(),
                config.steps(), config.promptsPerStep(), config.groupSize(), pool.size(), Math.min(config.evalPrompts(), suite.heldOut().size()));
        out.flush();
        TrainingConfig trained = forkAt == null ? config : forked(config);
        SyncTrainer.Snapshot forkPoint = forkAt == null ? null : forkPoint(out, config, reference, pool, suite);
        SyncTrainer.Report report;
        double[] pHat;
        String checksum;
        try (SyncTrainer trainer = new SyncTrainer(trained, reference, pool, suite.heldOut(), Verifiers.load());
             ProgressBar bar = ProgressBars.create("sync " + config.method(), config.steps())) {
            Consumer<SyncTrainer.Progress> shown = progress -> {
                bar.stepTo(progress.step());
                bar.setExtraMessage(String.format("reward %.2f, held-out %.3f, %,d rollouts", progress.meanReward(),
                        progress.heldOutPassAt1(), progress.rollouts()));
            };
            report = forkPoint == null ? trainer.run(shown) : trainer.run(forkPoint, shown);
            pHat = trainer.accuracyEstimates();
            checksum = trainer.policy().checksum();
        }
        print(out, report);
        out.printf("weights    SHA-256 %s after step %d%n", checksum, config.steps());
        Map<String, Object> results = new LinkedHashMap<>();
        results.put("config", config.asKeys());
        results.put("report", report);
        out.printf("report     %s%n", run.writeResults("sync-train", "sync-" + config.method() + ".json", results));
        out.printf("plots      %s%n", String.join(", ", plot(runDir, report, pHat)));
        return 0;
    }

    /** The run to step --fork-at with the unchanged keys, as a fork's starting point. */
    private SyncTrainer.Snapshot forkPoint(PrintWriter out, TrainingConfig config, byte[] reference, List<TaskPrompt> pool,
            TaskSuite suite) {
        SyncTrainer.Snapshot at;
        String checksum;
        try (SyncTrainer parent = new SyncTrainer(config.with(Map.of("steps", forkAt)), reference, pool, suite.heldOut(), Verifiers.load());
             ProgressBar bar = ProgressBars.create("sync to fork", forkAt)) {
            at = parent.snapshot(parent.run(progress -> bar.stepTo(progress.step())));
            checksum = parent.policy().checksum();
        }
        out.printf("fork       at step %d (weights SHA-256 %s), then %s%n", forkAt, checksum,
                forkSet.isEmpty() ? "no key changed" : "changed " + String.join(", ", config.differences(forked(config))));
        out.flush();
        return at;
    }

    /** The keys from the fork's step on. */
    private TrainingConfig forked(TrainingConfig config) {
        if (forkAt < 1 || forkAt >= config.steps()) {
            throw new ParameterException(spec.commandLine(), "--fork-at must be in [1, steps − 1] = [1, " + (config.steps() - 1) + "], got "
                    + forkAt);
        }
        try {
            return config.with(forkSet);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--fork-set: " + e.getMessage());
        }
    }

    /**
     * {@code size} prompts of the suite's pool, a seeded uniform sample (the pool is in generation
     * order, and easy levels come early in it); null takes them all.
     */
    private List<TaskPrompt> pool(TaskSuite suite, Integer size, long seed) {
        int n = size == null ? suite.train().size() : size;
        if (n < 1 || n > suite.train().size()) {
            throw new ParameterException(spec.commandLine(), "--pool-size must be in [1, " + suite.train().size() + "], got " + n);
        }
        List<TaskPrompt> pool = new ArrayList<>(suite.train());
        Collections.shuffle(pool, new Random(seed));
        return List.copyOf(pool.subList(0, n));
    }

    private static void print(PrintWriter out, SyncTrainer.Report report) {
        out.printf("held-out   pass@1 %.3f → %.3f after %,d rollouts in %.0f s%n", report.initialPassAt1(), report.finalPassAt1(),
                report.rollouts(), report.seconds());
        StringBuilder passAtK = new StringBuilder();
        report.passAtK().forEach((k, value) -> passAtK.append(String.format(" %s %.3f", k, value)));
        out.printf("final     %s; avg@%d %.3f; distinct correct answers per solved prompt %.2f%n", passAtK,
                report.config().finalSamples(), report.averageAtK(), report.distinctCorrect());
        out.printf("estimator  Spearman(p̂, group accuracy) %.3f after step %d; mean β·KL %.2e; groups with signal %.0f%%%n",
                report.pHatSpearman(), report.config().estimatorWarmupSteps(), report.meanBetaKl(), 100 * report.meanSignalShare());
        SyncTrainer.EvalPoint end = report.evaluations().get(report.evaluations().size() - 1);
        if (report.config().method().estimatesAccuracy()) {
            out.printf("probe      %s%n", ProbeFit.describe(end.probe(), end.probeScheduled(), end.probeNeverScheduled(), end.probeHeldOut(),
                    report.config().probeSamples()));
        }
        StringBuilder time = new StringBuilder();
        report.timeShare().forEach((phase, share) -> time.append(String.format(" %s %.0f%%", phase, 100 * share)));
        out.printf("time      %s%n", time);
    }

    private static List<String> plot(Path runDir, SyncTrainer.Report report, double[] pHat) throws IOException {
        String method = report.config().method().key();
        List<String> files = new ArrayList<>();
        files.add(Charts.line(runDir.resolve("sync-" + method + "-curve.png"), "Held-out pass@1 (" + method + ")",
                "rollouts consumed", "pass@1", report.evaluations().stream().map(SyncTrainer.EvalPoint::rollouts).toList(),
                report.evaluations().stream().map(SyncTrainer.EvalPoint::passAt1).toList()).toString());
        files.add(Charts.line(runDir.resolve("sync-" + method + "-signal.png"), "Share of groups with 0 < correct < G (" + method + ")",
                "step", "share", report.history().stream().map(SyncTrainer.StepRecord::step).toList(),
                report.history().stream().map(r -> r.figures().informativeShare()).toList()).toString());
        if (report.config().method().estimatesAccuracy()) {
            int[] counts = new int[MetricNames.P_HAT_BINS];
            for (double p : pHat) {
                counts[RunMetrics.bin(p, MetricNames.P_HAT_BINS)]++;
            }
            List<String> labels = new ArrayList<>();
            List<Integer> values = new ArrayList<>();
            for (int b = 0; b < MetricNames.P_HAT_BINS; b++) {
                labels.add(String.format("%.1f", b / (double) MetricNames.P_HAT_BINS));
                values.add(counts[b]);
            }
            files.add(Charts.bars(runDir.resolve("sync-" + method + "-p-hat.png"), "p̂ over the prompt pool at the end",
                    "p̂ (bin start)", "prompts", labels, values).toString());
        }
        return files;
    }
}
