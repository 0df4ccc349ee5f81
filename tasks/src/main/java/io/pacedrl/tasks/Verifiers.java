package io.pacedrl.tasks;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The verifiers on the class path and in plug-ins (found with {@link java.util.ServiceLoader}), looked up by task kind. */
public final class Verifiers {
    private final Map<String, RewardVerifier> byKind = new HashMap<>();

    private Verifiers(List<RewardVerifier> verifiers) {
        for (RewardVerifier verifier : verifiers) {
            for (String kind : verifier.kinds()) {
                RewardVerifier other = byKind.putIfAbsent(kind, verifier);
                if (other != null) {
                    throw new IllegalStateException("task kind '" + kind + "' is claimed by both verifier "
                            + other.name() + " and " + verifier.name());
                }
            }
        }
    }

    /** Every verifier the class path and the loaded {@link Plugins} provide. */
    public static Verifiers load() {
        return new Verifiers(Plugins.verifiers());
    }

    /** The verifier for {@code kind}; an error naming the kinds known when there is none. */
    public RewardVerifier forKind(String kind) {
        RewardVerifier verifier = byKind.get(kind);
        if (verifier == null) {
            throw new IllegalArgumentException("no verifier scores task kind '" + kind + "' (known: "
                    + byKind.keySet().stream().sorted().toList() + ")");
        }
        return verifier;
    }

    /** Scores a response with the verifier of the prompt's kind. */
    public Verdict verify(TaskPrompt prompt, String response) {
        return forKind(prompt.kind()).verify(prompt, response);
    }
}
