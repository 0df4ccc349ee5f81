package io.pacedrl.topics;

/**
 * The run-events the services read from one another, named in one place: which service emits
 * them ({@code source}), what they are ({@code type}), and the metric and attribute keys a reader
 * relies on. Other metrics on an event are for people and dashboards.
 */
public final class RunEvents {
    private RunEvents() {}

    public static final String DIFFICULTY_STREAM = "difficulty-stream";
    public static final String LEARNER = "learner-service";

    /** difficulty-stream: prompts went out or were released; attribute {@link #RELEASED_IDS} lists the released. */
    public static final String SCHEDULE = "schedule";
    /** difficulty-stream: a dynamic-sampling batch is closed; metric {@link #BATCH}, attribute {@link #KEPT_IDS}. */
    public static final String BATCH_CLOSED = "batch";
    /**
     * difficulty-stream: the replay draws for learner update {@link #FOR_VERSION} are out; metric
     * {@link #DRAWN} says how many.
     */
    public static final String REPLAY = "replay";
    /** learner-service: one update's figures (loss, β·KL, staleness, time split, …). */
    public static final String METRICS = "metrics";
    /** learner-service: a held-out evaluation. */
    public static final String EVAL = "eval";
    /** learner-service: the final evaluation; the run's updates are done. */
    public static final String FINAL = "final";

    public static final String BATCH = "batch";
    public static final String DRAWN = "drawn";
    public static final String FOR_VERSION = "for-version";
    /** Schedule ids, separated by spaces. */
    public static final String RELEASED_IDS = "released-ids";
    /** Schedule ids, separated by spaces, in the order kept. */
    public static final String KEPT_IDS = "kept-ids";
}
