package io.pacedrl.learning;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.Locale;
import java.util.function.Function;
import java.util.stream.Collectors;

/** The two choices of how replay follows the method, each a training key with an ablation. */
public final class ReplayRules {

    private ReplayRules() {}

    /** The value named {@code key}, or an error saying what the values are (the config adds the training key). */
    private static <E> E ofKey(E[] values, Function<E, String> keyOf, String key) {
        return Arrays.stream(values).filter(v -> keyOf.apply(v).equals(key)).findFirst().orElseThrow(() -> new IllegalArgumentException(
                "must be one of " + Arrays.stream(values).map(keyOf).collect(Collectors.joining(", ")) + ", got '" + key + "'"));
    }

    /**
     * The π_old a trajectory's trajectory-balance residual is anchored on: {@code recomputed}, the
     * learner's pre-update policy, scored in the update itself; {@code recorded}, the behaviour
     * log-probs the generator recorded when it sampled the trajectory. {@code replay-old-policy}
     * chooses it for replayed trajectories (recomputed is the method, as verl runs it; recorded,
     * possibly many versions old, the ablation), {@code fresh-old-policy} for the batch's own.
     */
    public enum OldPolicy {
        RECOMPUTED, RECORDED;

        @JsonValue
        public String key() {
            return name().toLowerCase(Locale.ROOT);
        }

        @JsonCreator
        public static OldPolicy of(String key) {
            return ofKey(values(), OldPolicy::key, key);
        }
    }

    /**
     * {@code replay-priority}: {@code current} recomputes every buffered entry's priority against
     * p̂ from the current Z_φ before each draw, so that a prompt the estimate has caught up with
     * stops being drawn; {@code recorded} keeps the priority an entry came in with (the ablation).
     */
    public enum Priority {
        CURRENT, RECORDED;

        @JsonValue
        public String key() {
            return name().toLowerCase(Locale.ROOT);
        }

        @JsonCreator
        public static Priority of(String key) {
            return ofKey(values(), Priority::key, key);
        }
    }
}
