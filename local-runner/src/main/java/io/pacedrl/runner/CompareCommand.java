package io.pacedrl.runner;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.pacedrl.learning.Method;
import io.pacedrl.learning.MetricNames;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.Torch;
import io.pacedrl.tasks.TaskSuite;
import io.pacedrl.topics.Topics;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Methods × seeds on the real pipeline at equal rollout budgets, one cluster, one report: each run
 * is a {@code train} run with its own topics and directory, ended by the rollout budget rather than
 * a number of updates (dynamic sampling spends more rollouts per update). Runs go seed by seed, so
 * an early stop still has every method; a run that fails is reported and the rest go on; a
 * comparison started again with the same id keeps the runs that finished.
 */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "Compare methods over several seeds at equal rollout budgets on the real pipeline; writes report.html "
                + "and results.json.")
final class CompareCommand implements Callable<Integer> {
    /** The four main methods: the baselines, then PACED-RL; its ablations (paced-selection, paced-replay) are opt-in. */
    static final List<Method> DEFAULT_METHODS = List.of(Method.GRPO, Method.FLOWRL, Method.DYNAMIC_SAMPLING, Method.PACED);

    /**
     * A comparison's own defaults, before --config and --set: twice the default run's held-out
     * prompts, to tell methods apart, and 32 final samples for pass@k up to k = 32.
     */
    static final Map<String, Object> DEFAULTS = Map.of("eval-prompts", 512, "final-samples", 32);

    /** Fault injection for tests: the runs of the method this property names fail as they start. */
    static final String FAIL_METHOD = "paced-rl.fault.compare-fail-method";

    @Mixin
    PlatformOptions platform;

    @Mixin
    TrainingOptions training;

    @Option(names = "--methods", split = ",", paramLabel = "NAMES",
            description = "Methods to compare, comma-separated (default: grpo, flowrl, dynamic-sampling, paced; add paced-selection, "
                    + "paced-replay for the ablations).")
    List<String> methods;

    @Option(names = "--seeds", defaultValue = "5", paramLabel = "N",
            description = "Seeds per method: the training seed (--seed, default 1) and the next N − 1 (default: ${DEFAULT-VALUE}).")
    int seeds;

    @Option(names = "--rollout-budget", defaultValue = "40960", paramLabel = "N",
            description = "Rollouts each run may consume; it ends after the update that reaches them (default: ${DEFAULT-VALUE}, "
                    + "160 updates of 32 prompts × 8).")
    long rolloutBudget;

    @Option(names = "--id", paramLabel = "ID", description = "The comparison's id: its directory is runs/compare-<id> unless "
            + "--run-dir says otherwise. Run again with the same id to keep the runs that finished and redo the rest. "
            + "Default: the time.")
    String id;

    @Mixin
    SuiteOptions suiteOptions;

    @Option(names = "--stall-seconds", defaultValue = "300", paramLabel = "S",
            description = "A run with no update for this long fails (default: ${DEFAULT-VALUE}).")
    int stallSeconds;

    @Option(names = "--keep-topics", description = "Keep each finished run's topics on the embedded broker (by default they are "
            + "deleted once the run's records are in its directory; an external cluster's are always kept).")
    boolean keepTopics;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        platform.validate();
        if (training.method != null) {
            throw new ParameterException(spec.commandLine(), "--method: a comparison runs the methods of --methods");
        }
        List<Method> compared = methods();
        if (seeds < 1) {
            throw new ParameterException(spec.commandLine(), "--seeds must be ≥ 1, got " + seeds);
        }
        if (rolloutBudget < 1) {
            throw new ParameterException(spec.commandLine(), "--rollout-budget must be ≥ 1, got " + rolloutBudget);
        }
        TrainingConfig base = training.config(DEFAULTS);
        long perUpdate = (long) base.promptsPerStep() * base.groupSize();
        // Updates are capped well above what the budget buys a uniform method, so every run ends by the budget.
        int cap = training.steps != null ? base.steps() : (int) Math.max(1, 2 * ((rolloutBudget + perUpdate - 1) / perUpdate));
        base = base.with(Map.of("rollout-budget", rolloutBudget, "steps", cap));
        String comparisonId = id != null ? id : LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        try {
            Topics.checkPrefix(comparisonId);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--id: " + e.getMessage());
        }
        TaskSuite suite = suiteOptions.suite();
        Torch.configure(1);
        Path weights = training.referenceWeights(out, TrainCommand.warmStart(suite));
        Path dir = platform.runDir("compare", comparisonId);
        if (platform.embedded()) {
            // The embedded broker starts empty: finished runs are kept in their directories, the rest run again.
            FileTrees.delete(dir.resolve("kafka"));
        }
        List<Plan> plans = new ArrayList<>();
        for (long seed = base.seed(); seed < base.seed() + seeds; seed++) {
            for (Method method : compared) {
                plans.add(new Plan(method, seed, dir.resolve(method.key() + "-seed" + seed),
                        base.with(Map.of("method", method.key(), "seed", seed))));
            }
        }
        out.printf("compare    %s: %s × %d seeds = %d runs, %,d rollouts each (updates of %d prompts × %d), pool %,d, "
                        + "%d held-out%n", comparisonId, compared.stream().map(Method::key).toList(), seeds, plans.size(), rolloutBudget,
                base.promptsPerStep(), base.groupSize(), suite.train().size(), Math.min(base.evalPrompts(), suite.heldOut().size()));
        out.flush();

        String commit = BuildInfo.commit();
        String commandLine = "paced-rl " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        List<Comparison.Run> runs = new ArrayList<>();
        List<ComparisonReport.RunRow> rows = new ArrayList<>();
        long started = System.nanoTime();
        int ran = 0;
        try (Platform cluster = platform.open("compare")) {
            for (int k = 0; k < plans.size(); k++) {
                Plan plan = plans.get(k);
                String label = String.format("[%d/%d] %s seed %d", k + 1, plans.size(), plan.method().key(), plan.seed());
                Comparison.Run run = previous(plan);
                if (run != null) {
                    out.printf("%s: finished earlier, kept (%s)%n", label, plan.dir());
                } else {
                    run = execute(cluster, plan, weights, suite, comparisonId, label);
                    ran++;
                }
                runs.add(run);
                rows.add(row(run, plan, commit));
                // Overall progress: runs done, and the time left at the pace of the runs made so far.
                double minutesPerRun = ran == 0 ? 0 : (System.nanoTime() - started) / 1e9 / 60 / ran;
                out.printf("%s; overall %d/%d runs, %d failed%s%n", describe(label, run), k + 1, plans.size(),
                        runs.stream().filter(r -> !r.done()).count(), k + 1 < plans.size() && ran > 0
                                ? String.format(", about %.0f min left", minutesPerRun * (plans.size() - k - 1)) : "");
                out.flush();
                write(dir, comparisonId, commit, commandLine, base, compared, runs, rows);
            }
        }
        Path report = dir.resolve("report.html");
        Comparison.Results results = Comparison.summarize(runs, compared, rolloutBudget, gridStep(base));
        results.verdicts().forEach(v -> out.println("verdict    " + v));
        out.printf("files      %s, %s%n", dir.resolve("results.json"), report);
        return runs.stream().anyMatch(r -> !r.done()) ? 1 : 0;
    }

    /** One run to make: a method, a seed, its directory and its whole configuration. */
    record Plan(Method method, long seed, Path dir, TrainingConfig config) {}

    private List<Method> methods() {
        List<Method> list = new ArrayList<>();
        for (String name : methods == null ? DEFAULT_METHODS.stream().map(Method::key).toList() : methods) {
            try {
                Method method = Method.of(name.trim());
                if (!list.contains(method)) {
                    list.add(method);
                }
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--methods: " + e.getMessage());
            }
        }
        return list;
    }

    /** A run this comparison finished before, with the same configuration, read back from its directory; null if none. */
    private static Comparison.Run previous(Plan plan) throws IOException {
        Path metrics = plan.dir().resolve(TrainCommand.METRICS);
        if (!Files.isRegularFile(metrics)) {
            return null;
        }
        TrainingRun.Result result = new ObjectMapper().readValue(metrics.toFile(), TrainingRun.Result.class);
        if (!result.config().equals(plan.config())) {
            return null;
        }
        return new Comparison.Run(plan.method(), plan.seed(), result.runId(), plan.dir().toString(), null, result);
    }

    /** Runs one plan on the cluster with a progress bar; a failure is caught, written beside the run and returned. */
    private Comparison.Run execute(Platform cluster, Plan plan, Path weights, TaskSuite suite, String comparisonId, String label)
            throws IOException {
        FileTrees.delete(plan.dir());
        Files.createDirectories(plan.dir());
        // A fresh run id each attempt: a failed attempt's topics must not be mistaken for this one's.
        String runId = platform.topicPrefix + "compare-" + comparisonId + "-" + plan.method().key() + "-s" + plan.seed() + "-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("HHmmss"));
        TrainingRun.Settings settings = new TrainingRun.Settings(plan.config(), false, 1, runId, plan.dir(), weights, suite.train(),
                suite.heldOut(), Duration.ofSeconds(stallSeconds));
        try (ProgressBar bar = ProgressBars.create(label, plan.config().rolloutBudget())) {
            if (plan.method().key().equals(System.getProperty(FAIL_METHOD))) {
                throw new IllegalStateException("fault injected by " + FAIL_METHOD);
            }
            TrainingRun.Result result = TrainingRun.run(cluster, settings, progress -> {
                bar.stepTo(Math.min(plan.config().rolloutBudget(), (long) progress.rolloutsConsumed()));
                bar.setExtraMessage(String.format("held-out pass@1 %.3f", progress.heldOutPassAt1()));
            });
            TrainCommand.write(plan.dir(), result, TrainCommand.summary(result));
            return new Comparison.Run(plan.method(), plan.seed(), runId, plan.dir().toString(), null, result);
        } catch (Exception e) {
            StringWriter trace = new StringWriter();
            e.printStackTrace(new PrintWriter(trace));
            Files.writeString(plan.dir().resolve("error.txt"), trace.toString());
            return new Comparison.Run(plan.method(), plan.seed(), runId, plan.dir().toString(),
                    Objects.requireNonNullElse(e.getMessage(), e.toString()), null);
        } finally {
            if (cluster.isEmbedded() && !keepTopics) {
                try {
                    cluster.deleteTopicsWithPrefix(runId + ".");
                } catch (Exception e) {
                    spec.commandLine().getErr().printf("could not delete the topics of %s: %s%n", runId, e);
                }
            }
        }
    }

    private static ComparisonReport.RunRow row(Comparison.Run run, Plan plan, String commit) {
        TrainingRun.Result r = run.result();
        if (r == null) {
            return new ComparisonReport.RunRow(plan.method().key(), plan.seed(), "failed: " + run.error(), run.directory(), Double.NaN,
                    Double.NaN, Double.NaN, commit, plan.config().asKeys());
        }
        Map<String, Object> last = r.metrics().isEmpty() ? Map.of() : r.metrics().get(r.metrics().size() - 1);
        return new ComparisonReport.RunRow(plan.method().key(), plan.seed(), "done", run.directory(), r.seconds(),
                Comparison.number(last.get("version")), Comparison.number(last.get(MetricNames.ROLLOUTS_CONSUMED)),
                Objects.requireNonNullElse(r.commit(), "not recorded"), r.config().asKeys());
    }

    private static String describe(String label, Comparison.Run run) {
        if (!run.done()) {
            return label + ": FAILED: " + run.error() + " (the rest go on; the trace is in " + run.directory() + "/error.txt)";
        }
        TrainingRun.Result r = run.result();
        Map<String, Object> first = r.evaluations().get(0);
        Map<String, Object> last = r.evaluations().get(r.evaluations().size() - 1);
        return String.format("%s: held-out pass@1 %.3f → %.3f after %,.0f rollouts and %.0f updates, %.1f min", label,
                Comparison.number(first.get(MetricNames.PASS_AT_1)), Comparison.number(last.get(MetricNames.PASS_AT_1)),
                Comparison.number(last.get(MetricNames.ROLLOUTS_CONSUMED)), Comparison.number(last.get("version")), r.seconds() / 60);
    }

    /** results.json and report.html from the runs so far (rewritten after every run, so an interrupted comparison has them). */
    private static void write(Path dir, String comparisonId, String commit, String commandLine, TrainingConfig base,
            List<Method> compared, List<Comparison.Run> runs, List<ComparisonReport.RunRow> rows) throws IOException {
        Comparison.Results results = Comparison.summarize(runs, compared, base.rolloutBudget(), gridStep(base));
        Map<String, Object> shared = new LinkedHashMap<>(base.asKeys());
        shared.remove("method");
        shared.remove("seed");
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("id", comparisonId);
        json.put("command", commandLine);
        json.put("commit", commit);
        json.put("rolloutBudget", base.rolloutBudget());
        json.put("methods", compared.stream().map(Method::key).toList());
        json.put("sharedConfig", shared);
        json.put("runs", rows);
        json.put("results", results);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(dir.resolve("results.json").toFile(), json);
        ComparisonReport.write(dir, results, new ComparisonReport.Context(comparisonId, commandLine, commit, shared, rows));
    }

    /** Curves go on a grid with one point per held-out evaluation of a uniform method. */
    private static double gridStep(TrainingConfig config) {
        return (double) config.evalEvery() * config.promptsPerStep() * config.groupSize();
    }
}
