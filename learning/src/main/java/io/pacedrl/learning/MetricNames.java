package io.pacedrl.learning;

/**
 * The names of a run's figures, in one place: the keys of the learner's {@code metrics},
 * {@code eval} and {@code final} run events, which the progress bar, the reports and the comparison
 * read back. Kebab case, as the training keys.
 */
public final class MetricNames {
    private MetricNames() {}

    // One update (LearnerUpdate.Figures).
    public static final String LOSS = "loss";
    public static final String GRADIENT_NORM = "gradient-norm";
    /** β·KL(π_old‖π_θ) on the fresh trajectories after the step: the gap p̂ assumes small. */
    public static final String BETA_KL = "beta-kl";
    /** Spearman of the p̂ each group was chosen with against the group's accuracy. */
    public static final String P_HAT_SPEARMAN = "p-hat-spearman";
    public static final String MEAN_P_HAT = "mean-p-hat";
    public static final String MEAN_REWARD = "mean-reward";
    /** Share of groups whose rewards differ (0 < correct < G for binary rewards). */
    public static final String INFORMATIVE_SHARE = "informative-share";
    public static final String GROUPS = "groups";
    public static final String ROLLOUTS = "rollouts";
    public static final String REPLAYED = "replayed";

    // The batch as the pipeline delivered it.
    public static final String STALE_GROUPS = "stale-groups";
    public static final String DISCARDED_GROUPS = "discarded-groups";
    public static final String RELEASED_GROUPS = "released-groups";
    public static final String MEAN_STALENESS = "mean-staleness";
    public static final String LATE_RECORDS = "late-records";
    /** Running total: rollouts the run has spent, used or dropped. */
    public static final String ROLLOUTS_CONSUMED = "rollouts-consumed";

    // Where the learner's time went, in seconds since it started.
    public static final String SECONDS_WAITING = "seconds-waiting";
    public static final String SECONDS_ASSEMBLING = "seconds-assembling";
    public static final String SECONDS_COMPUTE = "seconds-compute";
    public static final String SECONDS_SNAPSHOT = "seconds-snapshot";
    public static final String SECONDS_HAND_OFF = "seconds-hand-off";
    public static final String SECONDS_EVALUATING = "seconds-evaluating";
    public static final String SECONDS_PUBLISHING = "seconds-publishing";
    public static final String SECONDS_CHECKPOINTING = "seconds-checkpointing";
    /** The share of the learner thread's step time outside model compute. */
    public static final String PIPELINE_SHARE = "pipeline-share";

    // Held-out evaluations and the final one.
    public static final String PASS_AT_1 = "pass@1";
    public static final String AVERAGE_AT_K = "avg@k";
    public static final String PROBE_ACCURACY = "probe-accuracy";
    public static final String PROBE_SPEARMAN = "probe-spearman";
    /** Expected calibration error of p̂ on the probe prompts (10 bins). */
    public static final String PROBE_CALIBRATION_ERROR = "probe-calibration-error";
    /** The same two figures on the probe prompts the learner has learned from, and on those it never has. */
    public static final String PROBE_SPEARMAN_SCHEDULED = "probe-spearman-scheduled";
    public static final String PROBE_CALIBRATION_ERROR_SCHEDULED = "probe-calibration-error-scheduled";
    public static final String PROBE_SPEARMAN_UNSCHEDULED = "probe-spearman-never-scheduled";
    public static final String PROBE_CALIBRATION_ERROR_UNSCHEDULED = "probe-calibration-error-never-scheduled";
    /**
     * The same two figures on held-out probe prompts, which no update ever learns from: unlike the
     * pool's never-scheduled probes they are not selected by the scheduler (who leaves unscheduled the
     * prompts p̂ puts far from τ), so they measure what Z_φ generalises from the embedding alone.
     */
    public static final String PROBE_SPEARMAN_HELD_OUT = "probe-spearman-held-out";
    public static final String PROBE_CALIBRATION_ERROR_HELD_OUT = "probe-calibration-error-held-out";
    public static final String PROBE_HELD_OUT = "probe-held-out";
    /**
     * A reference for probe-spearman and its forms: the Spearman, on the same prompts, of what the
     * prompt's face alone predicts, its family and level's mean accuracy on the other probe set at the
     * same evaluation (held-out probes for pool probes, and the other way round;
     * HeldOutEvaluation.levelPrediction). Before it was fitted on the probes it ranked, each level's
     * mean included the prompt's own result, which raised it.
     */
    public static final String PROBE_SPEARMAN_BY_LEVEL = "probe-spearman-by-level";
    public static final String PROBE_SPEARMAN_BY_LEVEL_SCHEDULED = "probe-spearman-by-level-scheduled";
    public static final String PROBE_SPEARMAN_BY_LEVEL_UNSCHEDULED = "probe-spearman-by-level-never-scheduled";
    public static final String PROBE_SPEARMAN_BY_LEVEL_HELD_OUT = "probe-spearman-by-level-held-out";
    /**
     * The highest Spearman an estimate without ties could reach against the observed accuracies of
     * all probes, the learned-from, the never-scheduled and the held-out ones (RunMetrics.highestSpearman):
     * where most never-scheduled probes are never solved in probe-samples, their ties cap the figure.
     */
    public static final String PROBE_HIGHEST_SPEARMAN = "probe-highest-spearman";
    public static final String PROBE_HIGHEST_SPEARMAN_SCHEDULED = "probe-highest-spearman-scheduled";
    public static final String PROBE_HIGHEST_SPEARMAN_UNSCHEDULED = "probe-highest-spearman-never-scheduled";
    public static final String PROBE_HIGHEST_SPEARMAN_HELD_OUT = "probe-highest-spearman-held-out";
    /** Probe prompts, and among them those the learner has learned from (the rest never were scheduled). */
    public static final String PROBE_PROMPTS = "probe-prompts";
    public static final String PROBE_SCHEDULED = "probe-scheduled";
    /** Samples per probe prompt behind the figures. */
    public static final String PROBE_SAMPLES = "probe-samples";
    public static final String SAMPLES = "samples";
    public static final String PROMPTS = "prompts";
    public static final String DISTINCT_CORRECT = "distinct-correct";
    public static final String DISTINCT_CORRECT_COUNTDOWN = "distinct-correct-countdown";

    /** p̂'s histograms and calibration tables have this many bins: tenths of [0, 1]. */
    public static final int P_HAT_BINS = 10;

    public static final String PASS_AT_PREFIX = "pass@";
    public static final String STALENESS_PREFIX = "staleness-";
    public static final String P_HAT_BIN_PREFIX = "p-hat-bin-";
    public static final String CALIBRATION_COUNT_PREFIX = "calibration-count-";
    public static final String LEVEL_PASS_AT_1_PREFIX = "level-pass@1:";
    public static final String CALIBRATION_P_HAT_PREFIX = "calibration-p-hat-";
    public static final String CALIBRATION_ACCURACY_PREFIX = "calibration-accuracy-";

    /** Unbiased pass@k. */
    public static String passAt(int k) {
        return PASS_AT_PREFIX + k;
    }

    /** Groups used that were sampled {@code behind} versions before their update. */
    public static String staleness(long behind) {
        return STALENESS_PREFIX + behind;
    }

    /** Pool prompts whose p̂ falls in tenth {@code bin} of [0, 1]. */
    public static String pHatBin(int bin) {
        return P_HAT_BIN_PREFIX + bin;
    }

    /** Final held-out pass@1 of the prompts of one task family and level ("aggregate/2"). */
    public static String levelPassAt1(String familyLevel) {
        return LEVEL_PASS_AT_1_PREFIX + familyLevel;
    }

    public static String calibrationCount(int bin) {
        return CALIBRATION_COUNT_PREFIX + bin;
    }

    public static String calibrationPHat(int bin) {
        return CALIBRATION_P_HAT_PREFIX + bin;
    }

    public static String calibrationAccuracy(int bin) {
        return CALIBRATION_ACCURACY_PREFIX + bin;
    }
}
