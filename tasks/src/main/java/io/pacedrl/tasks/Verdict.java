package io.pacedrl.tasks;

import java.util.Map;

/**
 * A verifier's judgement of one response.
 *
 * @param reward  in [0, 1]
 * @param correct whether the response solves the task
 * @param details why, for reports and debugging (parsed value, rule broken, ...)
 */
public record Verdict(double reward, boolean correct, Map<String, String> details) {

    public Verdict {
        if (!(reward >= 0 && reward <= 1)) {
            throw new IllegalArgumentException("reward must be in [0, 1], got " + reward);
        }
        details = Map.copyOf(details);
    }

    public static Verdict correct(Map<String, String> details) {
        return new Verdict(1.0, true, details);
    }

    public static Verdict wrong(String reason) {
        return new Verdict(0.0, false, Map.of("reason", reason));
    }
}
