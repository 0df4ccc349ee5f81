package io.pacedrl.runner;

import io.pacedrl.learning.HeldOutEvaluation.EstimatorFit;
import io.pacedrl.learning.MetricNames;
import java.util.Map;

/** The estimator's fit on the probe prompts in one line, the same in every command's summary. */
final class ProbeFit {

    private ProbeFit() {}

    /** From a synchronous run's last evaluation. */
    static String describe(EstimatorFit all, EstimatorFit scheduled, EstimatorFit never, EstimatorFit heldOut, double byLevel,
            int samples) {
        return String.format("p̂ against %d samples per probe prompt: Spearman %.2f, calibration error %.3f on all %d; "
                + "%.2f / %.3f on the %d learned from; %.2f / %.3f on the %d never scheduled; %.2f / %.3f on %d held-out prompts; "
                + "family and level alone: Spearman %.2f",
                samples, all.spearman(), all.calibrationError(), all.prompts(), scheduled.spearman(), scheduled.calibrationError(),
                scheduled.prompts(), never.spearman(), never.calibrationError(), never.prompts(), heldOut.spearman(),
                heldOut.calibrationError(), heldOut.prompts(), byLevel);
    }

    /** From a pipeline run's last evaluation event. */
    static String describe(Map<String, Object> evaluation, int samples) {
        int scheduled = (int) number(evaluation, MetricNames.PROBE_SCHEDULED);
        int all = (int) number(evaluation, MetricNames.PROBE_PROMPTS);
        return describe(new EstimatorFit(all, number(evaluation, MetricNames.PROBE_SPEARMAN),
                        number(evaluation, MetricNames.PROBE_CALIBRATION_ERROR)),
                new EstimatorFit(scheduled, number(evaluation, MetricNames.PROBE_SPEARMAN_SCHEDULED),
                        number(evaluation, MetricNames.PROBE_CALIBRATION_ERROR_SCHEDULED)),
                new EstimatorFit(all - scheduled, number(evaluation, MetricNames.PROBE_SPEARMAN_UNSCHEDULED),
                        number(evaluation, MetricNames.PROBE_CALIBRATION_ERROR_UNSCHEDULED)),
                new EstimatorFit((int) number(evaluation, MetricNames.PROBE_HELD_OUT), number(evaluation, MetricNames.PROBE_SPEARMAN_HELD_OUT),
                        number(evaluation, MetricNames.PROBE_CALIBRATION_ERROR_HELD_OUT)),
                number(evaluation, MetricNames.PROBE_SPEARMAN_BY_LEVEL), samples);
    }

    private static double number(Map<String, Object> row, String key) {
        return row.get(key) instanceof Number n ? n.doubleValue() : Double.NaN;
    }
}
