package io.pacedrl.topics;

/**
 * The kinds of run-events, named in one place: which service emits them ({@code source}) and what
 * they are ({@code type}). Run events are for observing a run (progress bars, reports, dashboards);
 * no service steers by them. What the learner must know from the scheduler travels on the
 * scheduler-decisions topic.
 */
public final class RunEvents {
    private RunEvents() {}

    public static final String DIFFICULTY_STREAM = "difficulty-stream";
    public static final String LEARNER = "learner-service";

    /** difficulty-stream: prompts went out or were released (counts of scheduled, released, in flight, free). */
    public static final String SCHEDULE = "schedule";
    /** difficulty-stream: a dynamic-sampling batch is closed (its batch, kept groups, rounds). */
    public static final String BATCH_CLOSED = "batch";
    /** difficulty-stream: the replay draw for a learner update (drawn, buffered, groups offered). */
    public static final String REPLAY = "replay";
    /** learner-service: the run started (attribute state "started", at version 0) or a restarted learner resumed it ("resumed"). */
    public static final String LIFECYCLE = "lifecycle";
    /** learner-service: one update's figures (loss, β·KL, staleness, time split, …). */
    public static final String METRICS = "metrics";
    /** learner-service: a held-out evaluation. */
    public static final String EVAL = "eval";
    /** learner-service: the final evaluation; the run's updates are done. */
    public static final String FINAL = "final";
}
