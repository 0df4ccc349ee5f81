package io.pacedrl.tasks;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;

/** The verifiers on the class path (found with {@link ServiceLoader}), looked up by task kind. */
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

    /** Every verifier the class path provides. */
    public static Verifiers load() {
        return new Verifiers(ServiceLoader.load(RewardVerifier.class).stream().map(ServiceLoader.Provider::get).toList());
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
