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

    @Option(names = "--rollout-budget", defaultValue = "20480", paramLabel = "N",
            description = "Rollouts each run may consume; it ends after the update that reaches them (default: ${DEFAULT-VALUE}, "
                    + "80 updates of 32 prompts × 8).")
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

    @Option(names = "--sweep", defaultValue = "policy-learning-rate=1e-4,2e-4,3e-4", paramLabel = "KEY=V1,V2,…",
            description = "Before the comparison, one run of every method with each value of KEY on --sweep-budget rollouts with "
                    + "seed --sweep-seed; each method then runs with the value that gave it the highest mean held-out pass@1 over "
                    + "that budget. 'none' skips it (default: ${DEFAULT-VALUE}).")
    String sweepSpec;

    @Option(names = "--sweep-budget", paramLabel = "N", description = "Rollouts per sweep run (default: half of --rollout-budget).")
    Long sweepBudget;

    @Option(names = "--sweep-seed", defaultValue = "1000", paramLabel = "N",
            description = "The sweep runs' seed, apart from the comparison's (default: ${DEFAULT-VALUE}).")
    long sweepSeed;

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
        int cap = cap(base, rolloutBudget);
        base = base.with(Map.of("rollout-budget", rolloutBudget, "steps", cap));
        Sweep sweep;
        try {
            sweep = sweepSpec.equals("none") ? null
                    : Sweep.parse(sweepSpec, sweepBudget != null ? sweepBudget : Math.max(1, rolloutBudget / 2), sweepSeed, base);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--sweep: " + e.getMessage());
        }
        if (sweep != null && sweep.budget() < 1) {
            throw new ParameterException(spec.commandLine(), "--sweep-budget must be ≥ 1, got " + sweep.budget());
        }
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
        int sweepRuns = sweep == null ? 0 : compared.size() * sweep.values().size();
        out.printf("compare    %s: %s × %d seeds = %d runs, %,d rollouts each (updates of %d prompts × %d), pool %,d, "
                        + "%d held-out%s%n", comparisonId, compared.stream().map(Method::key).toList(), seeds, compared.size() * seeds,
                rolloutBudget, base.promptsPerStep(), base.groupSize(), suite.train().size(),
                Math.min(base.evalPrompts(), suite.heldOut().size()), sweep == null ? "; no tuning sweep"
                        : String.format("; first a sweep of %s over %s, %d runs of %,d rollouts (seed %d)", sweep.key(), sweep.values(),
                                sweepRuns, sweep.budget(), sweep.seed()));
        out.flush();

        String commit = BuildInfo.commit();
        String commandLine = "paced-rl " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        List<Comparison.Run> runs = new ArrayList<>();
        List<ComparisonReport.RunRow> rows = new ArrayList<>();
        List<Sweep.Choice> tuning = List.of();
        Progress progress = new Progress(sweepRuns + compared.size() * seeds);
        try (Platform cluster = platform.open("compare")) {
            Map<Method, Map<String, Object>> chosen = new LinkedHashMap<>();
            compared.forEach(m -> chosen.put(m, Map.of()));
            if (sweep != null) {
                Map<Method, Map<String, Comparison.Run>> swept = new LinkedHashMap<>();
                for (Method method : compared) {
                    for (String value : sweep.values()) {
                        Plan plan = new Plan(method, sweep.seed(), "sweep " + sweep.key() + " " + value,
                                dir.resolve("sweep").resolve(method.key() + "-" + value), sweep.config(base, method, value,
                                        cap(base, sweep.budget())));
                        swept.computeIfAbsent(method, m -> new LinkedHashMap<>()).put(value,
                                progress.run(out, plan, () -> run(cluster, plan, weights, suite, comparisonId, progress.label(plan))));
                    }
                }
                tuning = sweep.choose(swept);
                for (Sweep.Choice choice : tuning) {
                    StringBuilder scores = new StringBuilder();
                    choice.scores().forEach((value, score) -> scores.append(String.format(" %s %.3f", value, score)));
                    out.printf("sweep      %s: mean held-out pass@1 over %,d rollouts by %s:%s → %s%n", choice.method(), sweep.budget(),
                            sweep.key(), scores, choice.chosen());
                    chosen.put(Method.of(choice.method()), Map.of(sweep.key(), choice.chosen()));
                }
            }
            for (long seed = base.seed(); seed < base.seed() + seeds; seed++) {
                for (Method method : compared) {
                    Map<String, Object> keys = new LinkedHashMap<>(chosen.get(method));
                    keys.put("method", method.key());
                    keys.put("seed", seed);
                    Plan plan = new Plan(method, seed, "seed " + seed, dir.resolve(method.key() + "-seed" + seed), base.with(keys));
                    Comparison.Run run = progress.run(out, plan, () -> run(cluster, plan, weights, suite, comparisonId,
                            progress.label(plan)));
                    runs.add(run);
                    rows.add(row(run, plan, commit));
                    write(dir, comparisonId, commit, commandLine, base, compared, runs, rows, sweep, tuning);
                }
            }
        }
        Path report = dir.resolve("report.html");
        Comparison.Results results = Comparison.summarize(runs, compared, rolloutBudget, gridStep(base));
        results.verdicts().forEach(v -> out.println("verdict    " + v));
        out.printf("files      %s, %s%n", dir.resolve("results.json"), report);
        return runs.stream().anyMatch(r -> !r.done()) ? 1 : 0;
    }

    /** One run to make: a method, a seed, what it is for (a comparison seed, a sweep value), its directory and its whole configuration. */
    record Plan(Method method, long seed, String purpose, Path dir, TrainingConfig config) {}

    /** Updates are capped well above what {@code budget} buys a uniform method, so every run ends by the budget. */
    private int cap(TrainingConfig base, long budget) {
        long perUpdate = (long) base.promptsPerStep() * base.groupSize();
        return training.steps != null ? base.steps() : (int) Math.max(1, 2 * ((budget + perUpdate - 1) / perUpdate));
    }

    /** A plan's run: the one this comparison finished before with the same configuration, or a new one. */
    private Comparison.Run run(Platform cluster, Plan plan, Path weights, TaskSuite suite, String comparisonId, String label)
            throws IOException {
        Comparison.Run earlier = previous(plan);
        if (earlier != null) {
            spec.commandLine().getOut().printf("%s: finished earlier, kept (%s)%n", label, plan.dir());
            return earlier;
        }
        return execute(cluster, plan, weights, suite, comparisonId, label);
    }

    /** Counts the runs of the whole command (sweep and comparison) and prints each result with the time left. */
    private static final class Progress {
        private final int total;
        private final long started = System.nanoTime();
        private int done;
        private int failed;

        Progress(int total) {
            this.total = total;
        }

        String label(Plan plan) {
            return String.format("[%d/%d] %s %s", done + 1, total, plan.method().key(), plan.purpose());
        }

        interface Work {
            Comparison.Run call() throws IOException;
        }

        Comparison.Run run(PrintWriter out, Plan plan, Work work) throws IOException {
            String label = label(plan);
            Comparison.Run run = work.call();
            done++;
            failed += run.done() ? 0 : 1;
            double minutesPerRun = (System.nanoTime() - started) / 1e9 / 60 / done;
            out.printf("%s; overall %d/%d runs, %d failed%s%n", describe(label, run), done, total, failed,
                    done < total ? String.format(", about %.0f min left", minutesPerRun * (total - done)) : "");
            out.flush();
            return run;
        }
    }

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
                + Integer.toHexString(plan.dir().getFileName().toString().hashCode() & 0xfff) + "-"
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
            List<Method> compared, List<Comparison.Run> runs, List<ComparisonReport.RunRow> rows, Sweep sweep,
            List<Sweep.Choice> tuning) throws IOException {
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
        json.put("sweep", sweep);
        json.put("tuning", tuning);
        json.put("runs", rows);
        json.put("results", results);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(dir.resolve("results.json").toFile(), json);
        ComparisonReport.write(dir, results, new ComparisonReport.Context(comparisonId, commandLine, commit, shared, rows, sweep,
                tuning));
    }

    /** Curves go on a grid with one point per held-out evaluation of a uniform method. */
    private static double gridStep(TrainingConfig config) {
        return (double) config.evalEvery() * config.promptsPerStep() * config.groupSize();
    }
}
