package io.pacedrl.runner;

import io.pacedrl.learning.MetricNames;
import io.pacedrl.runner.Comparison.MethodResult;
import io.pacedrl.runner.Comparison.Stat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A comparison's report: one self-contained HTML page with the headline, the plain statements of
 * where PACED-RL does not win, the plots (held-out accuracy against rollouts with the seeds'
 * spread, pass@k against k, signal share, β·KL, p̂'s Spearman, CPU per update by part), the tables
 * behind them, every run with its status, and the configuration and commit the runs ran on.
 */
final class ComparisonReport {
    private ComparisonReport() {}

    /** What the page says about the comparison besides its results. */
    record Context(String id, String commandLine, String commit, Map<String, Object> sharedConfig, List<RunRow> runs, Sweep sweep,
            List<Sweep.Choice> tuning) {}

    /** One run's line in the report. */
    record RunRow(String method, long seed, String status, String directory, double seconds, double updates, double rollouts,
            String commit, Map<String, Object> config) {}

    /** Writes the plots and report.html into {@code dir}; returns the HTML file. */
    static Path write(Path dir, Comparison.Results results, Context context) throws IOException {
        List<MethodResult> methods = results.methods().stream().filter(m -> m.seeds() > 0).toList();
        List<Path> plots = methods.isEmpty() ? List.of() : plots(dir, methods);

        StringBuilder html = new StringBuilder();
        html.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>").append(RunReport.escape(context.id()))
                .append("</title><style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}"
                        + "td,th{padding:2px 10px 2px 0;vertical-align:top;text-align:left}img{max-width:100%}</style></head><body>\n");
        html.append("<h1>Comparison ").append(RunReport.escape(context.id())).append("</h1>\n");
        html.append("<p>").append(RunReport.escape(String.format("Every method had the same budget of %,d rollouts per run. "
                + "Command: %s. Report made by commit %s; each run's commit is in the table of runs.", results.rolloutBudget(), context.commandLine(), context.commit()))).append("</p>\n");
        html.append("<h2>Where PACED-RL stands</h2>\n<ul>\n");
        results.verdicts().forEach(v -> html.append("<li>").append(RunReport.escape(v)).append("</li>\n"));
        html.append("</ul>\n");

        html.append("<h2>Sample efficiency</h2>\n");
        html.append("<p>").append(RunReport.escape(results.bestBaseline() == null ? "No baseline finished."
                : String.format("Target: the best baseline's (%s) final held-out pass@1, %.3f. Rollouts to reach it are read off "
                        + "each method's seed-mean curve, linear between evaluations; the ratio is to %s's.", results.bestBaseline(),
                results.target(), results.bestBaseline()))).append("</p>\n");
        List<List<String>> headline = new ArrayList<>();
        for (MethodResult m : results.methods()) {
            headline.add(List.of(m.method(), m.seeds() + (m.failed() > 0 ? " (" + m.failed() + " failed)" : ""),
                    String.format("%.3f", m.accuracy().values().get(0).mean()), Comparison.format(m.finalAccuracy()),
                    Double.isFinite(m.rolloutsToTarget()) ? String.format("%,.0f", m.rolloutsToTarget()) : "not reached",
                    Double.isFinite(m.ratioToBest()) ? String.format("%.2f", m.ratioToBest()) : "–"));
        }
        table(html, List.of("method", "seeds", "pass@1 at start", "pass@1 at budget", "rollouts to target", "ratio to best baseline"),
                headline);
        if (!plots.isEmpty()) {
            RunReport.image(html, plots.get(0));
        }
        html.append("<h2>Against the best baseline, with 95 % intervals</h2>\n<p>Paired bootstrap over the seeds both methods"
                + " finished (same suite, π_ref and seed; 10,000 resamples of seeds): the ratio of rollouts to reach the best"
                + " baseline's final held-out pass@1 (parity 1), the difference in mean held-out pass@1 over the budget (the area"
                + " under the curve against rollouts, over the budget; parity 0) and in the final pass@k. A difference is"
                + " demonstrated only where its interval excludes parity.</p>\n");
        List<String> pairedHeader = new ArrayList<>(List.of("method", "against", "paired seeds"));
        List<List<String>> pairedRows = new ArrayList<>();
        for (Comparison.Paired p : results.paired()) {
            if (pairedRows.isEmpty()) {
                p.intervals().keySet().forEach(key -> pairedHeader.add(switch (key) {
                    case Comparison.ROLLOUTS_RATIO -> "rollouts ratio";
                    case Comparison.AUC_DIFFERENCE -> "Δ mean pass@1 over the budget";
                    default -> "Δ final " + key;
                }));
            }
            List<String> row = new ArrayList<>(List.of(p.method(), p.against(), Integer.toString(p.seeds())));
            p.intervals().values().forEach(interval -> row.add(Comparison.format(interval)));
            pairedRows.add(row);
        }
        table(html, pairedHeader, pairedRows);

        html.append("<h2>Accuracy and diversity at the end</h2>\n");
        List<String> finalKeys = methods.isEmpty() ? List.of() : new ArrayList<>(methods.get(0).finalEvaluation().keySet());
        List<List<String>> finals = new ArrayList<>();
        for (MethodResult m : methods) {
            List<String> row = new ArrayList<>(List.of(m.method()));
            finalKeys.forEach(k -> row.add(Comparison.format(m.finalEvaluation().getOrDefault(k, new Stat(Double.NaN, Double.NaN, 0)))));
            finals.add(row);
        }
        List<String> finalHeader = new ArrayList<>(List.of("method"));
        finalKeys.forEach(k -> finalHeader.add(switch (k) {
            case MetricNames.DISTINCT_CORRECT_COUNTDOWN -> "distinct correct per countdown prompt";
            case MetricNames.DISTINCT_CORRECT -> "distinct correct per solved prompt";
            default -> k;
        }));
        table(html, finalHeader, finals);
        if (!plots.isEmpty()) {
            RunReport.image(html, plots.get(1));
        }

        html.append("<h2>By task family and level</h2>\n<p>Final held-out pass@1 of each family and level (mean ± spread over"
                + " seeds), and the paired difference of each method from the best baseline with its 95 % interval.</p>\n");
        List<String> levels = methods.stream().flatMap(m -> m.byLevel().keySet().stream()).distinct().sorted().toList();
        List<String> levelHeader = new ArrayList<>(List.of("family/level"));
        methods.forEach(m -> levelHeader.add(m.method()));
        results.paired().forEach(p -> levelHeader.add(p.method() + " − " + p.against()));
        List<List<String>> levelRows = new ArrayList<>();
        for (String level : levels) {
            List<String> row = new ArrayList<>(List.of(level));
            methods.forEach(m -> row.add(Comparison.format(m.byLevel().getOrDefault(level, new Comparison.Stat(Double.NaN, Double.NaN, 0)))));
            results.paired().forEach(p -> row.add(p.byLevel().containsKey(level) ? Comparison.format(p.byLevel().get(level)) : "n/a"));
            levelRows.add(row);
        }
        table(html, levelHeader, levelRows);

        html.append("<h2>Estimator health</h2>\n<p>Means over training. Spearman of p̂ with the probe prompts' observed accuracy"
                + " and p̂'s expected calibration error (10 bins), on all probe prompts, on those never scheduled, and on as many"
                + " held-out prompts (never learned from and, unlike the never-scheduled ones, not selected by the scheduler: what"
                + " Z_φ generalises from the embedding alone), for methods whose log Z is an accuracy estimate, from"
                + " estimator-warmup-steps on, with the highest Spearman any estimate without ties could reach against the"
                + " never-scheduled probes' observations (their ties, mostly never solved, cap it);"
                + " for reference, the Spearman on the same three sets of a predictor that knows only each prompt's"
                + " family and level (its level's mean accuracy on the other probe set, pool or held-out, at the same"
                + " evaluation); β·KL and the share of groups with signal per update.</p>\n");
        table(html, List.of("method", "probe Spearman", "never scheduled", "highest reachable", "held out", "calibration error",
                "never scheduled", "held out", "family and level alone", "never scheduled", "held out", "β·KL", "groups with signal"),
                methods.stream().map(m -> {
                    List<String> row = new ArrayList<>(List.of(m.method()));
                    Comparison.PROBE_HEALTH.forEach(key -> row.add(Comparison.format(m.health().get(key))));
                    row.add(Comparison.format(m.health().get(MetricNames.BETA_KL)));
                    row.add(Comparison.format(m.health().get(MetricNames.INFORMATIVE_SHARE)));
                    return row;
                }).toList());
        for (int i = 2; i < plots.size() - 1; i++) {
            RunReport.image(html, plots.get(i));
        }

        html.append("<h2>Cost per update</h2>\n<p>Over each run's steady window (first to last update). CPU seconds by the"
                + " threads of each part: generation (generators), scoring (reward service), update (learner and its publisher),"
                + " difficulty stream (every prompt's accuracy from every rollout, scheduling and replay, its commits), other (broker,"
                + " registry). Scheduling + replay is the stream's scheduler task alone (scoring, selection, replay draws), by its own"
                + " counter over the whole run. PyTorch's own"
                + " native worker threads are not seen by the JVM. Wall seconds per 1,000 rollouts compare methods at equal budgets"
                + " (a dynamic-sampling update consumes several times the rollouts of the others). The learner's columns split"
                + " its wall time per update.</p>\n");
        List<List<String>> cost = new ArrayList<>();
        for (MethodResult m : methods) {
            List<String> row = new ArrayList<>(List.of(m.method(), Comparison.format(m.cost().wallSecondsPerUpdate()),
                    Comparison.format(m.cost().wallSecondsPerThousandRollouts())));
            m.cost().cpuSecondsPerUpdate().values().forEach(s -> row.add(Comparison.format(s)));
            row.add(Comparison.format(m.cost().streamShare()));
            row.add(Comparison.format(m.cost().schedulingShare()));
            m.cost().learnerSecondsPerUpdate().values().forEach(s -> row.add(Comparison.format(s)));
            cost.add(row);
        }
        List<String> costHeader = new ArrayList<>(List.of("method", "wall s", "wall s per 1,000 rollouts"));
        methods.stream().findFirst().ifPresent(m -> m.cost().cpuSecondsPerUpdate().keySet().forEach(k -> costHeader.add(k + " CPU s")));
        costHeader.add("difficulty stream in all, share of CPU");
        costHeader.add("scheduling + replay (its scheduler task) share of CPU");
        methods.stream().findFirst().ifPresent(m -> m.cost().learnerSecondsPerUpdate().keySet().forEach(k -> costHeader.add("learner " + k + " s")));
        table(html, costHeader, cost);
        if (!plots.isEmpty()) {
            RunReport.image(html, plots.get(plots.size() - 1));
        }

        html.append("<h2>Tuning</h2>\n");
        if (context.sweep() == null) {
            html.append("<p>No sweep: every method ran with the shared keys.</p>\n");
        } else {
            Sweep sweep = context.sweep();
            html.append("<p>").append(RunReport.escape(String.format("Before the comparison, every method ran once with each value of %s"
                    + " on %,d rollouts with seed %d (not one of the comparison's), and then ran with the value that gave it the"
                    + " highest mean held-out pass@1 over that budget: the same sweep for every method.", sweep.key(), sweep.budget(),
                    sweep.seed()))).append("</p>\n");
            List<String> header = new ArrayList<>(List.of("method"));
            sweep.values().forEach(v -> header.add(sweep.key() + " " + v));
            header.add("chosen");
            table(html, header, context.tuning().stream().map(c -> {
                List<String> row = new ArrayList<>(List.of(c.method()));
                c.scores().values().forEach(score -> row.add(Double.isFinite(score) ? String.format("%.3f", score) : "failed"));
                row.add(c.chosen());
                return row;
            }).toList());
        }

        html.append("<h2>Runs</h2>\n");
        table(html, List.of("method", "seed", "status", "updates", "rollouts", "seconds", "commit", "directory"), context.runs().stream()
                .map(r -> List.of(r.method(), String.valueOf(r.seed()), r.status(), String.format("%.0f", r.updates()),
                        String.format("%,.0f", r.rollouts()), String.format("%.0f", r.seconds()), r.commit(), r.directory())).toList());
        html.append("<h2>Configuration</h2>\n<p>Every run had these keys; each run's own (method, seed) and its whole effective "
                + "configuration are in its directory's config.yaml and in results.json.</p>\n");
        table(html, List.of("key", "value"), context.sharedConfig().entrySet().stream()
                .map(e -> List.of(e.getKey(), String.valueOf(e.getValue()))).toList());
        html.append("</body></html>\n");
        Path file = dir.resolve("report.html");
        Files.writeString(file, html);
        return file;
    }

    /** The plots, in the order the page shows them: accuracy, pass@k, signal, β·KL, Spearman (if any method has p̂), cost. */
    private static List<Path> plots(Path dir, List<MethodResult> methods) throws IOException {
        List<Path> plots = new ArrayList<>();
        plots.add(Charts.lines(dir.resolve("held-out.png"), "Held-out pass@1 against rollouts consumed (mean ± spread over seeds)",
                "rollouts consumed", "pass@1", curves(methods, MethodResult::accuracy, true)));
        List<Charts.Series> passAtK = new ArrayList<>();
        for (MethodResult m : methods) {
            List<Double> k = new ArrayList<>();
            List<Double> value = new ArrayList<>();
            List<Double> spread = new ArrayList<>();
            m.finalEvaluation().forEach((key, stat) -> {
                if (key.startsWith(MetricNames.PASS_AT_PREFIX)) {
                    k.add(Double.parseDouble(key.substring(5)));
                    value.add(stat.mean());
                    spread.add(stat.spread());
                }
            });
            passAtK.add(new Charts.Series(m.method(), k, value, spread));
        }
        plots.add(Charts.lines(dir.resolve("pass-at-k.png"), "Final held-out pass@k (mean ± spread over seeds)", "k", "pass@k",
                passAtK));
        plots.add(Charts.lines(dir.resolve("signal.png"), "Share of groups with 0 < correct < G, per update", "rollouts consumed",
                "share", curves(methods, MethodResult::informative, false)));
        plots.add(Charts.lines(dir.resolve("beta-kl.png"), "β·KL(π_old ‖ π_θ) per update", "rollouts consumed", "β·KL",
                curves(methods, MethodResult::betaKl, false)));
        List<MethodResult> estimating = methods.stream().filter(m -> m.spearman().last().n() > 0).toList();
        if (!estimating.isEmpty()) {
            plots.add(Charts.lines(dir.resolve("spearman.png"), "Spearman of p̂ with observed accuracy on the probe prompts",
                    "rollouts consumed", "Spearman", curves(estimating, MethodResult::spearman, true)));
        }
        Map<String, List<? extends Number>> parts = new LinkedHashMap<>();
        for (String part : List.of("generation", "scoring", "update", "difficulty stream", "other")) {
            parts.put(part, methods.stream().map(m -> zeroIfNaN(m.cost().cpuSecondsPerUpdate().get(part).mean())).toList());
        }
        plots.add(Charts.stackedBars(dir.resolve("cost.png"), "CPU seconds per update by part of the pipeline", "method",
                "CPU seconds", methods.stream().map(MethodResult::method).toList(), parts));
        return plots;
    }

    private static List<Charts.Series> curves(List<MethodResult> methods, Function<MethodResult, Comparison.Curve> curve,
            boolean spread) {
        return methods.stream().map(m -> {
            Comparison.Curve c = curve.apply(m);
            return new Charts.Series(m.method(), c.rollouts(), c.values().stream().map(Stat::mean).toList(),
                    spread ? c.values().stream().map(Stat::spread).toList() : null);
        }).toList();
    }

    private static double zeroIfNaN(double value) {
        return Double.isFinite(value) ? value : 0;
    }

    private static void table(StringBuilder html, List<String> header, List<List<String>> rows) {
        html.append("<table>\n<tr>");
        header.forEach(h -> html.append("<th>").append(RunReport.escape(h)).append("</th>"));
        html.append("</tr>\n");
        for (List<String> row : rows) {
            html.append("<tr>");
            row.forEach(cell -> html.append("<td>").append(RunReport.escape(cell)).append("</td>"));
            html.append("</tr>\n");
        }
        html.append("</table>\n");
    }
}
