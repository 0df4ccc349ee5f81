package io.pacedrl.runner;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.pacedrl.learner.LearnerService;
import io.pacedrl.learner.RunRecord;
import io.pacedrl.learning.MetricNames;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.Torch;
import io.pacedrl.policy.WarmStart;
import io.pacedrl.schemas.ModelVersion;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.TaskSuite;
import io.pacedrl.topics.HangingTransactions;
import io.pacedrl.topics.PluginOptions;
import io.pacedrl.topics.Topics;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The main command: a real training run on one machine. The embedded KRaft broker and registry (or
 * a cluster given by address), the run's topics, the pool, π_ref (the cached warm start), then the
 * difficulty stream, generators, reward service and learner, with a progress bar; at the end the
 * run directory holds the configuration, every metric as JSON and an HTML report with plots.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Run asynchronous off-policy training end to end on Kafka: every service, one command.")
final class TrainCommand implements Callable<Integer> {

    @Mixin
    PlatformOptions platform;

    @Mixin
    TrainingOptions training;

    @Mixin
    PipelineOptions pipeline;

    @Mixin
    SuiteOptions suiteOptions;

    @Mixin
    PluginOptions plugins;

    @Option(names = "--dataset", paramLabel = "FILE", description = "Train and evaluate on a JSONL file of prompts (split "
            + "train or held_out; its format: docs/method.md) instead of the generated suite.")
    Path dataset;

    @Option(names = "--external-verifier", paramLabel = "KIND", description = "A task kind scored by a verifier outside this "
            + "process (a consumer in another language, joined to the run's topics): no verifier here scores it. Repeatable.")
    Set<String> externalKinds = new LinkedHashSet<>();

    @Option(names = "--run-id", paramLabel = "ID", description = "The run's id; its topics are prefixed with it, and its directory "
            + "is runs/<id> unless --run-dir says otherwise. Default: train-<time>. An id already recorded on the cluster is refused.")
    String runId;

    @Option(names = "--resume", paramLabel = "RUN", description = "Continue run RUN where it stopped, with the configuration it "
            + "recorded (a changed one is refused: that is a fork). On the embedded platform its directory (runs/RUN or --run-dir) "
            + "holds its broker and checkpoints.")
    String resume;

    @Option(names = "--http-port", defaultValue = "${env:PACED_RL_HTTP_PORT:-0}", paramLabel = "PORT",
            description = "Port of the live dashboard, /metrics and /health (default: a free one; the URL is printed). "
                    + "Env: PACED_RL_HTTP_PORT.")
    int httpPort;

    @Option(names = "--http-host", defaultValue = "127.0.0.1", paramLabel = "HOST",
            description = "Address the dashboard listens on (default: ${DEFAULT-VALUE}).")
    String httpHost;


    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        platform.validate();
        try {
            plugins.load();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        TrainingConfig config = training.config();
        pipeline.validate();
        if (resume != null && runId != null && !resume.equals(runId)) {
            throw new ParameterException(spec.commandLine(), "--resume " + resume + " continues run " + resume + "; --run-id " + runId
                    + " names another");
        }
        String id = resume != null ? resume : runId != null ? runId
                : "train-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        try {
            Topics.checkPrefix(id);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--run-id: " + e.getMessage());
        }
        TaskSuite suite = suiteOptions.suite();
        PromptPool prompts;
        try {
            prompts = dataset != null ? PromptPool.read(dataset, config.promptsPerStep()) : PromptPool.of(suite);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        List<TaskPrompt> pool = prompts.train();
        List<TaskPrompt> heldOut = prompts.heldOut();
        Path runDir = platform.run.runDirOrNamed(id);
        if (resume != null && platform.embedded() && !Files.isDirectory(runDir.resolve("kafka"))) {
            throw new ParameterException(spec.commandLine(), "--resume " + resume + ": " + runDir + " holds no embedded broker data; "
                    + "give the run's directory with --run-dir");
        }
        // One PyTorch thread per service: the generators and the learner each take a core.
        Torch.configure(1);
        Path weights = training.referenceWeights(out, warmStart(suite));
        Files.createDirectories(runDir);
        TrainingRun.Settings settings = new TrainingRun.Settings(config, pipeline.sync, pipeline.generators, platform.topicPrefix + id,
                runDir, weights, pool, heldOut, pipeline.stall(), Set.copyOf(externalKinds));
        TrainingConfig effective = settings.effectiveConfig();
        out.printf("run        %s: %s, %s (look-ahead %d), %d updates of %d prompts × %d rollouts, pool %,d, %d held-out%n", id,
                config.method(), pipeline.sync ? "lock-step" : "asynchronous", effective.lookAhead(), config.steps(), config.promptsPerStep(),
                config.groupSize(), pool.size(), Math.min(config.evalPrompts(), heldOut.size()));
        out.flush();
        TrainingRun.Result result;
        try (Platform cluster = platform.openAt(runDir); Dashboard dashboard = Dashboard.start(httpHost, httpPort)) {
            out.printf("cluster    %s, registry %s%n", cluster.bootstrapServers(), cluster.schemaRegistryUrl());
            out.printf("dashboard  %s (metrics %smetrics, health %shealth)%n", dashboard.url(), dashboard.url(), dashboard.url());
            if (resume != null) {
                // A broker killed mid-commit can leave transactions that nothing would ever end. They are
                // ended first: one of them can be the publication of the version the run resumes after.
                for (HangingTransactions.Ended ended : cluster.endHangingTransactions(settings.runId() + ".")) {
                    out.printf("recovered  %s a hanging transaction of producer %d on %s (open since offset %d)%n",
                            ended.marker() == HangingTransactions.Outcome.COMMITTED ? "committed" : "aborted",
                            ended.transaction().producerId(), ended.transaction().partition(), ended.transaction().startOffset());
                }
            }
            long resumedAt = resumePoint(cluster, settings);
            if (resumedAt >= 0) {
                out.printf("resumed    run %s at version %d of %d, with the configuration it recorded%n", id, resumedAt, config.steps());
            }
            out.flush();
            try (ProgressBar bar = ProgressBars.create("train " + config.method(), config.steps())) {
                result = TrainingRun.run(cluster, settings, resumedAt, progress -> {
                    bar.stepTo(progress.version());
                    bar.setExtraMessage(String.format("%,.0f rollouts, held-out %.3f, p̂ ρ %.2f", progress.rolloutsConsumed(),
                            progress.heldOutPassAt1(), progress.probeSpearman()));
                }, (topics, queries) -> dashboard.attach(cluster.bootstrapServers(), topics, settings.runId(), queries));
            }
        }
        Map<String, String> summary = summary(result);
        summary.forEach((key, value) -> out.printf("%-10s %s%n", key, value));
        Path report = write(runDir, result, summary);
        out.printf("files      %s, %s, %s, %s%n", runDir.resolve("config.yaml"), runDir.resolve(METRICS),
                runDir.resolve(TrainingRun.EVENTS_FILE), report);
        out.printf("weights    %s (the final policy: eval --weights, or train --weights to go on from it)%n",
                LearnerService.finalWeights(runDir.resolve("checkpoints")));
        return 0;
    }

    /**
     * The newest version of a run being resumed (-1 for a new run), after checking that it may go on:
     * a new run's id must be unused on the cluster, and a resumed run's configuration unchanged.
     */
    private long resumePoint(Platform cluster, TrainingRun.Settings settings) {
        String prefix = settings.runId() + ".";
        List<ModelVersion> recorded = RunRecord.versions(cluster.bootstrapServers(), cluster.schemaRegistryUrl(), prefix, TrainingRun.MODEL_ID);
        if (resume == null) {
            if (!recorded.isEmpty()) {
                throw new IllegalStateException("run '" + settings.runId() + "' is already recorded on " + cluster.bootstrapServers()
                        + " (versions 0–" + recorded.get(recorded.size() - 1).getVersion() + "); train --resume " + settings.runId()
                        + " continues it, another --run-id starts a new run");
            }
            return -1;
        }
        if (recorded.isEmpty()) {
            throw new IllegalStateException("run '" + resume + "' has no recorded version on " + cluster.bootstrapServers()
                    + "; there is nothing to resume");
        }
        List<String> changed = TrainingConfig.fromJson(recorded.get(0).getConfig()).differences(settings.effectiveConfig());
        if (!changed.isEmpty()) {
            throw new IllegalStateException("run '" + resume + "' was recorded with another configuration (" + String.join(", ", changed)
                    + "); resuming keeps a run's configuration: start a changed one as a new run (another --run-id)");
        }
        return recorded.get(recorded.size() - 1).getVersion();
    }

    /** The file a finished run's whole record is in (a comparison resumes from it). */
    static final String METRICS = "metrics.json";

    /** A finished run's files: its effective configuration, every metric as JSON, and the report; returns the report. */
    static Path write(Path runDir, TrainingRun.Result result, Map<String, String> summary) throws IOException {
        new ObjectMapper(new YAMLFactory()).writeValue(runDir.resolve("config.yaml").toFile(), result.config().asKeys());
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(runDir.resolve(METRICS).toFile(), result);
        return RunReport.write(runDir, result, summary);
    }

    /**
     * The run's π_ref: the default model and recipe, 1,200 steps, never shown a held-out text of
     * the run's suite. Shorter than the stand-alone default (3,000 steps): from that one, 200
     * updates left held-out accuracy where it was (measured in docs/method.md), while this one leaves
     * reinforcement learning room to show.
     */
    static WarmStart.Config warmStart(TaskSuite suite) {
        WarmStart.Config d = WarmStart.Config.defaults();
        return new WarmStart.Config(d.model(), suite.config(), 1200, d.batchSize(), d.learningRate(), d.warmupSteps(), d.seed(),
                d.evalPoolPrompts(), d.samplesPerPrompt());
    }

    /** The run in a few lines: what the console prints and the report's table holds. */
    static Map<String, String> summary(TrainingRun.Result r) {
        Map<String, String> lines = new LinkedHashMap<>();
        Map<String, Object> first = r.evaluations().get(0);
        Map<String, Object> last = r.evaluations().get(r.evaluations().size() - 1);
        Map<String, Object> end = r.metrics().isEmpty() ? Map.of() : r.metrics().get(r.metrics().size() - 1);
        lines.put("held-out", String.format("pass@1 %.3f → %.3f (version %s → %s, %.0f prompts × %.0f samples), %,.0f rollouts in %.0f s",
                num(first, MetricNames.PASS_AT_1), num(last, MetricNames.PASS_AT_1), first.get("version"), last.get("version"), num(last, "prompts"),
                num(last, "samples"), num(end, MetricNames.ROLLOUTS_CONSUMED), r.seconds()));
        if (!r.restarts().isEmpty()) {
            lines.put("restarts", r.restarts().stream().map(restart -> String.format("resumed at version %d, %.0f s after that "
                    + "version's update", restart.version(), (restart.atMs() - updatedAtMs(r, restart.version())) / 1000.0))
                    .collect(Collectors.joining("; ")) + "; the run's seconds include the time it was down");
        }
        StringBuilder passAtK = new StringBuilder();
        r.finalEvaluation().forEach((key, value) -> {
            if (key.startsWith(MetricNames.PASS_AT_PREFIX)) {
                passAtK.append(String.format("%s %.3f ", key, ((Number) value).doubleValue()));
            }
        });
        lines.put("final", String.format("%savg@%.0f %.3f, distinct correct answers per solved prompt %.2f", passAtK,
                num(r.finalEvaluation(), "samples"), num(r.finalEvaluation(), MetricNames.AVERAGE_AT_K), num(r.finalEvaluation(), MetricNames.DISTINCT_CORRECT)));
        lines.put("estimator", String.format("mean β·KL %.1e; groups with signal %.0f%%", mean(r.metrics(), MetricNames.BETA_KL),
                100 * mean(r.metrics(), MetricNames.INFORMATIVE_SHARE)));
        if (r.config().method().estimatesAccuracy()) {
            lines.put("probe", ProbeFit.describe(last, r.config().probeSamples()));
        }
        String window = r.windowSeconds() > 0 ? String.format("%.1f rollouts/s over updates %d–%d (%.0f s)",
                r.windowRollouts() / r.windowSeconds(), r.windowFrom(), (long) num(end, "version"),
                r.windowSeconds()) : "no update ran in this process";
        lines.put("pipeline", String.format("%s; mean staleness %.2f versions; stale groups dropped %.0f; dead letters %s", window,
                mean(r.metrics(), MetricNames.MEAN_STALENESS), num(end, MetricNames.STALE_GROUPS), r.deadLetters().describe()));
        lines.put("learner", String.format("model compute %.0f s, waiting for batches %.0f s, outside model compute %.2f%% of its "
                        + "step time", num(end, MetricNames.SECONDS_COMPUTE), num(end, MetricNames.SECONDS_WAITING), 100 * num(end, MetricNames.PIPELINE_SHARE)));
        StringBuilder cpu = new StringBuilder();
        r.windowCpuSeconds().forEach((service, seconds) -> cpu.append(String.format("%s %.0f s, ", service, seconds)));
        double used = r.windowCpuSeconds().values().stream().mapToDouble(Double::doubleValue).sum();
        lines.put("cpu", used == 0 ? "not measured: no update ran in this process" : cpu + String.format("of %.0f core-seconds; "
                + "scheduling + replay (the difficulty stream's scheduler task: scoring, selection, replay draws) %.1f s, "
                + "%.1f%% of the CPU used; the difficulty stream in all, with every prompt's accuracy from every rollout and its "
                + "commits, %.1f%%", r.windowSeconds() * r.cores(), r.schedulerCpuSeconds(), 100 * r.schedulerCpuSeconds() / used,
                100 * r.windowCpuSeconds().getOrDefault("difficulty-stream", 0.0) / used));
        return lines;
    }

    /** When version {@code version}'s update was reported (version 0: the run's start). */
    private static double updatedAtMs(TrainingRun.Result r, long version) {
        return r.metrics().stream().filter(row -> num(row, "version") == version).mapToDouble(row -> num(row, "timeMs")).findFirst()
                .orElse(r.evaluations().isEmpty() ? Double.NaN : num(r.evaluations().get(0), "timeMs"));
    }

    private static double num(Map<String, Object> row, String key) {
        return row.get(key) instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    private static double mean(List<Map<String, Object>> rows, String key) {
        return rows.stream().mapToDouble(row -> num(row, key)).filter(Double::isFinite).average().orElse(Double.NaN);
    }
}
