package io.pacedrl.runner;

import io.pacedrl.policy.WarmStart;
import io.pacedrl.tasks.TaskSuite;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Trains (or loads from the cache) the supervised warm start that becomes π_ref, and reports
 * how much of the task suite it solves: pass@1 on the held-out set, per level, and the spread of
 * per-prompt accuracy over the training pool, plotted.
 */
@Command(name = "warmstart", mixinStandardHelpOptions = true,
        description = "Supervised warm start of the policy on generated demonstrations; cached by configuration.")
final class WarmStartCommand implements Callable<Integer> {
    private static final WarmStart.Config DEFAULTS = WarmStart.Config.defaults();

    @Mixin
    ModelOptions model;

    @Mixin
    RunOptions run;

    @Option(names = "--steps", paramLabel = "N", description = "Optimiser steps (default: ${DEFAULT-VALUE}).")
    int steps = DEFAULTS.steps();

    @Option(names = "--batch-size", paramLabel = "N", description = "Demonstrations per step (default: ${DEFAULT-VALUE}).")
    int batchSize = DEFAULTS.batchSize();

    @Option(names = "--learning-rate", paramLabel = "RATE", description = "Peak learning rate (default: ${DEFAULT-VALUE}).")
    float learningRate = DEFAULTS.learningRate();

    @Option(names = "--warmup-steps", paramLabel = "N", description = "Linear warm-up steps (default: ${DEFAULT-VALUE}).")
    int warmupSteps = DEFAULTS.warmupSteps();

    @Option(names = "--seed", paramLabel = "N", description = "Seed of the task suite, weights and data order (default: ${DEFAULT-VALUE}).")
    long seed = DEFAULTS.seed();

    @Option(names = "--train-size", paramLabel = "N", description = "Prompts in the training pool (default: ${DEFAULT-VALUE}).")
    int trainSize = DEFAULTS.suite().trainSize();

    @Option(names = "--held-out-size", paramLabel = "N", description = "Held-out prompts (default: ${DEFAULT-VALUE}).")
    int heldOutSize = DEFAULTS.suite().heldOutSize();

    @Option(names = "--countdown-share", paramLabel = "P", description = "Share of countdown prompts (default: ${DEFAULT-VALUE}).")
    double countdownShare = DEFAULTS.suite().countdownShare();

    @Option(names = "--aggregate-share", paramLabel = "P", description = "Share of aggregate prompts (max, min, sum of a list); "
            + "the rest are arith (default: ${DEFAULT-VALUE}).")
    double aggregateShare = DEFAULTS.suite().aggregateShare();

    @Option(names = "--eval-prompts", paramLabel = "N", description = "Pool prompts evaluated for the histogram (default: ${DEFAULT-VALUE}).")
    int evalPrompts = DEFAULTS.evalPoolPrompts();

    @Option(names = "--samples", paramLabel = "N", description = "Samples per evaluated prompt (default: ${DEFAULT-VALUE}).")
    int samples = DEFAULTS.samplesPerPrompt();

    @Mixin
    CacheOptions cache;

    @Option(names = "--copy-to", paramLabel = "FILE", description = "Also copy the weights here (a fixed name for a deployment's "
            + "learner-service --weights).")
    Path copyTo;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        WarmStart.Config config;
        try {
            config = new WarmStart.Config(model.config(), new TaskSuite.Config(seed, trainSize, heldOutSize, countdownShare, aggregateShare),
                    steps, batchSize, learningRate, warmupSteps, seed, evalPrompts, samples);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        model.startEngine();
        Path runDir = run.runDir("warmstart");
        out.printf("warm start %s: %s, %d steps of %d, cache %s%n", config.hash(), config.model(), steps, batchSize, cache.cacheDir);
        out.flush();
        WarmStart.Result result;
        try (ProgressBar bar = ProgressBars.create("warm start", steps)) {
            result = WarmStart.obtain(config, cache.cacheDir, progress -> {
                bar.stepTo(progress.step());
                bar.setExtraMessage(String.format("loss %.3f, %,.0f tok/s", progress.loss(), progress.tokensPerSecond()));
            });
        }
        WarmStart.Report report = result.report();
        out.printf("weights    %s (%s)%n", result.weights(), result.cached() ? "loaded from the cache" : "trained now");
        if (copyTo != null) {
            Files.copy(result.weights(), copyTo, StandardCopyOption.REPLACE_EXISTING);
            out.printf("copied to  %s%n", copyTo);
        }
        out.printf("checksum   sha256 %s%n", report.checksum());
        out.printf("training   %d steps in %.0f s, %,.0f tokens/s, final loss %.3f%n", report.steps(), report.trainSeconds(),
                report.tokensPerSecond(), report.finalLoss());
        out.printf("held-out   pass@1 %.3f (%d samples per prompt, temperature 1)%n", report.heldOutPassAt1(), report.samplesPerPrompt());
        StringBuilder levels = new StringBuilder();
        report.heldOutByLevel().forEach((level, pass) -> levels.append(String.format(" %s %.2f", level, pass)));
        out.printf("by level  %s%n", levels);
        out.printf("pool       pass@1 %.3f; prompts by correct samples of %d: %s; %.0f%% with 0 < correct < %d (a learning signal)%n",
                report.poolPassAt1(), report.samplesPerPrompt(), java.util.Arrays.toString(report.poolHistogram()),
                100 * report.learnableShare(), report.samplesPerPrompt());

        List<String> labels = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        for (int c = 0; c < report.poolHistogram().length; c++) {
            labels.add(c + "/" + report.samplesPerPrompt());
            counts.add(report.poolHistogram()[c]);
        }
        Path histogram = Charts.bars(runDir.resolve("warmstart-accuracy.png"), "Per-prompt accuracy of the warm start (training pool)",
                "correct samples", "prompts", labels, counts);
        Path levelChart = Charts.bars(runDir.resolve("warmstart-levels.png"), "Held-out pass@1 by family and level",
                "family/level", "pass@1", new ArrayList<>(report.heldOutByLevel().keySet()),
                new ArrayList<>(report.heldOutByLevel().values()));
        Path loss = Charts.line(runDir.resolve("warmstart-loss.png"), "Warm-start training loss", "step", "loss (nats/token)",
                report.lossCurve().stream().map(point -> point[0]).toList(), report.lossCurve().stream().map(point -> point[1]).toList());
        Map<String, Object> results = new LinkedHashMap<>();
        results.put("weights", result.weights().toString());
        results.put("cached", result.cached());
        results.put("config", config);
        results.put("report", report);
        out.printf("report     %s%n", run.writeResults("warmstart", "warmstart.json", results));
        out.printf("plots      %s, %s, %s%n", histogram, levelChart, loss);
        return 0;
    }
}
