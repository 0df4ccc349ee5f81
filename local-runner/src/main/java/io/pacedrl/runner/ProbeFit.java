package io.pacedrl.runner;

import io.pacedrl.learning.HeldOutEvaluation.EstimatorFit;
import io.pacedrl.learning.MetricNames;
import java.util.Map;

/** The estimator's fit on the probe prompts in one line, the same in every command's summary. */
final class ProbeFit {

    private ProbeFit() {}

    /**
     * From a synchronous run's last evaluation. Each Spearman is followed by two references on the same
     * prompts: the highest any estimate without ties could reach against the same observations, which
     * ties at 0 and 1 cap, and what family and level alone rank them at (each level's mean accuracy on
     * the other probe set).
     */
    static String describe(EstimatorFit all, EstimatorFit scheduled, EstimatorFit never, EstimatorFit heldOut, int samples) {
        return String.format("p̂ against %d samples per probe prompt (Spearman ≤ highest reachable, family and level alone; "
                + "calibration error): %s on all %d; %s on the %d learned from; %s on the %d never scheduled; %s on %d held-out prompts",
                samples, figures(all), all.prompts(), figures(scheduled), scheduled.prompts(), figures(never), never.prompts(),
                figures(heldOut), heldOut.prompts());
    }

    private static String figures(EstimatorFit fit) {
        return String.format("%.2f ≤ %.2f, %.2f; %.3f", fit.spearman(), fit.highestSpearman(), fit.levelSpearman(),
                fit.calibrationError());
    }

    /** From a pipeline run's last evaluation event. */
    static String describe(Map<String, Object> evaluation, int samples) {
        int scheduled = (int) number(evaluation, MetricNames.PROBE_SCHEDULED);
        int all = (int) number(evaluation, MetricNames.PROBE_PROMPTS);
        return describe(fit(evaluation, all, MetricNames.PROBE_SPEARMAN, MetricNames.PROBE_CALIBRATION_ERROR,
                        MetricNames.PROBE_HIGHEST_SPEARMAN, MetricNames.PROBE_SPEARMAN_BY_LEVEL),
                fit(evaluation, scheduled, MetricNames.PROBE_SPEARMAN_SCHEDULED, MetricNames.PROBE_CALIBRATION_ERROR_SCHEDULED,
                        MetricNames.PROBE_HIGHEST_SPEARMAN_SCHEDULED, MetricNames.PROBE_SPEARMAN_BY_LEVEL_SCHEDULED),
                fit(evaluation, all - scheduled, MetricNames.PROBE_SPEARMAN_UNSCHEDULED,
                        MetricNames.PROBE_CALIBRATION_ERROR_UNSCHEDULED, MetricNames.PROBE_HIGHEST_SPEARMAN_UNSCHEDULED,
                        MetricNames.PROBE_SPEARMAN_BY_LEVEL_UNSCHEDULED),
                fit(evaluation, (int) number(evaluation, MetricNames.PROBE_HELD_OUT), MetricNames.PROBE_SPEARMAN_HELD_OUT,
                        MetricNames.PROBE_CALIBRATION_ERROR_HELD_OUT, MetricNames.PROBE_HIGHEST_SPEARMAN_HELD_OUT,
                        MetricNames.PROBE_SPEARMAN_BY_LEVEL_HELD_OUT),
                samples);
    }

    private static EstimatorFit fit(Map<String, Object> evaluation, int prompts, String spearman, String calibrationError,
            String highestSpearman, String levelSpearman) {
        return new EstimatorFit(prompts, number(evaluation, spearman), number(evaluation, calibrationError),
                number(evaluation, highestSpearman), number(evaluation, levelSpearman));
    }

    private static double number(Map<String, Object> row, String key) {
        return row.get(key) instanceof Number n ? n.doubleValue() : Double.NaN;
    }
}
