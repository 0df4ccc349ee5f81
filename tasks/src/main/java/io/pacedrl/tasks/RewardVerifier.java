package io.pacedrl.tasks;

import java.util.Set;

/**
 * Scores responses to prompts of the kinds it declares. Implementations are found with
 * {@link java.util.ServiceLoader} (list them in
 * {@code META-INF/services/io.pacedrl.tasks.RewardVerifier}), so a new verifier is a new jar.
 * A verifier judges a well-formed response that is wrong with a zero reward; it throws only when
 * the prompt itself cannot be scored (a kind it does not handle, a broken spec).
 */
public interface RewardVerifier {

    /** A short stable name, used for the verifier's consumer group and in scored records. */
    String name();

    /** Bumped whenever the same response could be judged differently. */
    String version();

    /** The task kinds this verifier scores. */
    Set<String> kinds();

    /** Judges {@code response} as an answer to {@code prompt}. */
    Verdict verify(TaskPrompt prompt, String response);
}
