package io.pacedrl.runner;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** PNG plots of a run's results, for the figures people would rather look at than read. */
final class Charts {
    private static final int WIDTH = 800;
    private static final int HEIGHT = 500;

    static {
        System.setProperty("java.awt.headless", "true");
    }

    private Charts() {}

    /** A bar chart of {@code values} over {@code labels}. */
    static Path bars(Path file, String title, String xTitle, String yTitle, List<String> labels, List<? extends Number> values)
            throws IOException {
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT).title(title)
                .xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setLegendVisible(false);
        chart.addSeries(yTitle, labels, values);
        return save(chart, file);
    }

    /** A line chart of y over x. */
    static Path line(Path file, String title, String xTitle, String yTitle, List<? extends Number> x, List<? extends Number> y)
            throws IOException {
        return lines(file, title, xTitle, yTitle, List.of(new Series(yTitle, x, y)));
    }

    /** One named line of a chart, with error bars of ± {@code errors} where given (null: none). */
    record Series(String name, List<? extends Number> x, List<? extends Number> y, List<? extends Number> errors) {
        Series(String name, List<? extends Number> x, List<? extends Number> y) {
            this(name, x, y, null);
        }
    }

    /** Bars of several series over the same labels, stacked. */
    static Path stackedBars(Path file, String title, String xTitle, String yTitle, List<String> labels,
            Map<String, List<? extends Number>> series) throws IOException {
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT).title(title)
                .xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setStacked(true);
        series.forEach((name, values) -> chart.addSeries(name, labels, values));
        return save(chart, file);
    }

    /** Several lines on one chart, with a legend when there is more than one. */
    static Path lines(Path file, String title, String xTitle, String yTitle, List<Series> series) throws IOException {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setLegendVisible(series.size() > 1);
        for (Series s : series) {
            // Points without a value (an update with nothing to measure) are left out.
            List<Double> x = new ArrayList<>();
            List<Double> y = new ArrayList<>();
            List<Double> errors = new ArrayList<>();
            for (int i = 0; i < s.x().size(); i++) {
                double xi = s.x().get(i).doubleValue();
                double yi = s.y().get(i).doubleValue();
                if (Double.isFinite(xi) && Double.isFinite(yi)) {
                    x.add(xi);
                    y.add(yi);
                    double error = s.errors() == null ? 0 : s.errors().get(i).doubleValue();
                    errors.add(Double.isFinite(error) ? error : 0);
                }
            }
            if (x.isEmpty()) {
                x.add(0.0);
                y.add(0.0);
                errors.add(0.0);
            }
            (s.errors() == null ? chart.addSeries(s.name(), x, y) : chart.addSeries(s.name(), x, y, errors))
                    .setMarker(series.size() > 1 ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
        }
        return save(chart, file);
    }

    private static Path save(Chart<?, ?> chart, Path file) throws IOException {
        String name = file.toString();
        BitmapEncoder.saveBitmap(chart, name.endsWith(".png") ? name.substring(0, name.length() - 4) : name,
                BitmapEncoder.BitmapFormat.PNG);
        return file;
    }
}
