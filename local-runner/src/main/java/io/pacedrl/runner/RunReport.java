package io.pacedrl.runner;

import io.pacedrl.learning.MetricNames;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A training run's report: plots of what people would rather look at than read (held-out accuracy
 * against rollouts, p̂ over the pool as training goes, p̂'s calibration, staleness, the share of
 * groups carrying signal, β·KL), written as PNG files and embedded in one self-contained HTML page
 * with the run's figures and configuration.
 */
final class RunReport {
    private RunReport() {}

    /** Writes the plots and report.html into {@code dir}; returns the HTML file. */
    static Path write(Path dir, TrainingRun.Result result, Map<String, String> summary) throws IOException {
        List<Path> plots = new ArrayList<>();
        plots.add(Charts.line(dir.resolve("held-out.png"), "Held-out pass@1 against rollouts consumed", "rollouts consumed", MetricNames.PASS_AT_1,
                column(result.evaluations(), MetricNames.ROLLOUTS_CONSUMED), column(result.evaluations(), MetricNames.PASS_AT_1)));
        List<Map<String, Object>> withHistogram = result.metrics().stream().filter(m -> m.containsKey("p-hat-bin-0")).toList();
        if (!withHistogram.isEmpty()) {
            List<Charts.Series> series = new ArrayList<>();
            List<Double> centres = new ArrayList<>();
            for (int b = 0; b < MetricNames.P_HAT_BINS; b++) {
                centres.add((b + 0.5) / MetricNames.P_HAT_BINS);
            }
            int count = Math.min(5, withHistogram.size());
            for (int i = 0; i < count; i++) {
                Map<String, Object> row = withHistogram.get(count == 1 ? 0 : i * (withHistogram.size() - 1) / (count - 1));
                List<Double> counts = new ArrayList<>();
                for (int b = 0; b < MetricNames.P_HAT_BINS; b++) {
                    counts.add(number(row.get(MetricNames.P_HAT_BIN_PREFIX + b)));
                }
                series.add(new Charts.Series("version " + row.get("version"), centres, counts));
            }
            plots.add(Charts.lines(dir.resolve("p-hat.png"), "p̂ over the prompt pool as training goes", "p̂", "prompts", series));
        }
        List<Map<String, Object>> calibrated = result.evaluations().stream().filter(m -> m.containsKey("calibration-count-0")).toList();
        if (!calibrated.isEmpty()) {
            Map<String, Object> last = calibrated.get(calibrated.size() - 1);
            List<Double> estimated = new ArrayList<>();
            List<Double> observed = new ArrayList<>();
            for (int b = 0; b < MetricNames.P_HAT_BINS; b++) {
                if (last.containsKey(MetricNames.CALIBRATION_P_HAT_PREFIX + b)) {
                    estimated.add(number(last.get(MetricNames.CALIBRATION_P_HAT_PREFIX + b)));
                    observed.add(number(last.get(MetricNames.CALIBRATION_ACCURACY_PREFIX + b)));
                }
            }
            plots.add(Charts.lines(dir.resolve("calibration.png"), "p̂ against the probe prompts' observed accuracy, version "
                    + last.get("version"), "p̂ (bin mean)", "observed accuracy (bin mean)", List.of(
                    new Charts.Series("probe prompts", estimated, observed), new Charts.Series("perfect calibration", List.of(0, 1),
                            List.of(0, 1)))));
        }
        Map<Integer, Double> staleness = new TreeMap<>();
        for (Map<String, Object> row : result.metrics()) {
            row.forEach((key, value) -> {
                if (key.startsWith(MetricNames.STALENESS_PREFIX)) {
                    staleness.merge(Integer.parseInt(key.substring(MetricNames.STALENESS_PREFIX.length())), number(value), Double::sum);
                }
            });
        }
        if (!staleness.isEmpty()) {
            plots.add(Charts.bars(dir.resolve("staleness.png"), "Groups learned from, by versions behind the update", "versions behind",
                    "groups", staleness.keySet().stream().map(String::valueOf).toList(), new ArrayList<>(staleness.values())));
        }
        plots.add(Charts.line(dir.resolve("signal.png"), "Share of groups with 0 < correct < G", "version", "share",
                column(result.metrics(), "version"), column(result.metrics(), MetricNames.INFORMATIVE_SHARE)));
        plots.add(Charts.line(dir.resolve("beta-kl.png"), "β·KL(π_old ‖ π_θ) per update", "version", "β·KL",
                column(result.metrics(), "version"), column(result.metrics(), MetricNames.BETA_KL)));

        StringBuilder html = new StringBuilder();
        html.append("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>").append(escape(result.runId()))
                .append("</title><style>body{font-family:sans-serif;max-width:900px;margin:2em auto}"
                        + "td{padding:2px 12px 2px 0;vertical-align:top}img{max-width:100%}</style></head><body>\n");
        html.append("<h1>Training run ").append(escape(result.runId())).append("</h1>\n<table>\n");
        summary.forEach((key, value) -> html.append("<tr><td>").append(escape(key)).append("</td><td>").append(escape(value))
                .append("</td></tr>\n"));
        html.append("</table>\n");
        for (Path plot : plots) {
            image(html, plot);
        }
        html.append("<h2>Configuration</h2>\n<table>\n");
        new LinkedHashMap<>(result.config().asKeys()).forEach((key, value) -> html.append("<tr><td>").append(escape(key))
                .append("</td><td>").append(escape(String.valueOf(value))).append("</td></tr>\n"));
        html.append("</table>\n</body></html>\n");
        Path file = dir.resolve("report.html");
        Files.writeString(file, html);
        return file;
    }

    private static List<Double> column(List<Map<String, Object>> rows, String key) {
        return rows.stream().map(row -> number(row.get(key))).toList();
    }

    private static double number(Object value) {
        return value instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    /** A PNG embedded in the page, so the report is one file. */
    static void image(StringBuilder html, Path plot) throws IOException {
        html.append("<p><img alt=\"").append(escape(plot.getFileName().toString())).append("\" src=\"data:image/png;base64,")
                .append(Base64.getEncoder().encodeToString(Files.readAllBytes(plot))).append("\"></p>\n");
    }

    static String escape(String text) {
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
