package io.pacedrl.learning;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The training methods the system runs, each a loss, a way to choose prompts, and whether
 * updates mix in replay. The PACED-RL ablations and the DAPO-style curriculum baseline run in the
 * same loop with the same budget as the full method.
 */
public enum Method {
    /** GRPO with uniform prompt sampling. */
    GRPO("grpo", Loss.GRPO, Prompts.UNIFORM, false),
    /** FlowRL with uniform prompt sampling. */
    FLOWRL("flowrl", Loss.FLOWRL, Prompts.UNIFORM, false),
    /** PACED-RL: trajectory balance, difficulty scheduling and error-prioritised replay. */
    PACED("paced", Loss.TRAJECTORY_BALANCE, Prompts.DIFFICULTY, true),
    /** PACED-RL with difficulty scheduling only. */
    PACED_SELECTION("paced-selection", Loss.TRAJECTORY_BALANCE, Prompts.DIFFICULTY, false),
    /** PACED-RL with replay only (uniform prompts). */
    PACED_REPLAY("paced-replay", Loss.TRAJECTORY_BALANCE, Prompts.UNIFORM, true),
    /** GRPO with DAPO-style dynamic sampling: groups with all-equal rewards are dropped and refilled. */
    DYNAMIC_SAMPLING("dynamic-sampling", Loss.GRPO, Prompts.DYNAMIC, false);

    public enum Loss { GRPO, FLOWRL, TRAJECTORY_BALANCE }

    public enum Prompts { UNIFORM, DIFFICULTY, DYNAMIC }

    private final String key;
    private final Loss loss;
    private final Prompts prompts;
    private final boolean replay;

    Method(String key, Loss loss, Prompts prompts, boolean replay) {
        this.key = key;
        this.loss = loss;
        this.prompts = prompts;
        this.replay = replay;
    }

    @JsonValue
    public String key() {
        return key;
    }

    public Loss loss() {
        return loss;
    }

    public Prompts prompts() {
        return prompts;
    }

    public boolean replay() {
        return replay;
    }

    /** Whether the method learns log Z_φ (FlowRL and the trajectory-balance family). */
    public boolean learnsPartition() {
        return loss != Loss.GRPO;
    }

    /** Whether log Z_φ is an accuracy estimate p̂ (trajectory balance anchored on π_old). */
    public boolean estimatesAccuracy() {
        return loss == Loss.TRAJECTORY_BALANCE;
    }

    @JsonCreator
    public static Method of(String key) {
        return Arrays.stream(values()).filter(m -> m.key.equals(key)).findFirst().orElseThrow(() ->
                new IllegalArgumentException("unknown method '" + key + "'; one of " + keys()));
    }

    public static String keys() {
        return Arrays.stream(values()).map(Method::key).collect(Collectors.joining(", "));
    }

    @Override
    public String toString() {
        return key;
    }
}
