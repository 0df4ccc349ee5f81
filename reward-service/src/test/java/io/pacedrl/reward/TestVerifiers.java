package io.pacedrl.reward;

import io.pacedrl.tasks.RewardVerifier;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.Verdict;
import java.util.Set;

/** Verifiers that misbehave, found by ServiceLoader on the test class path like any other. */
final class TestVerifiers {
    private TestVerifiers() {}

    /** Never answers (until interrupted). */
    public static final class Sleepy implements RewardVerifier {
        @Override
        public String name() {
            return "sleepy";
        }

        @Override
        public String version() {
            return "1";
        }

        @Override
        public Set<String> kinds() {
            return Set.of("sleepy");
        }

        @Override
        public Verdict verify(TaskPrompt prompt, String response) {
            try {
                Thread.sleep(Long.MAX_VALUE);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new IllegalStateException("interrupted");
        }
    }

    /** Throws on every response. */
    public static final class Broken implements RewardVerifier {
        @Override
        public String name() {
            return "broken";
        }

        @Override
        public String version() {
            return "1";
        }

        @Override
        public Set<String> kinds() {
            return Set.of("broken");
        }

        @Override
        public Verdict verify(TaskPrompt prompt, String response) {
            throw new IllegalArgumentException("spec of " + prompt.id() + " is broken");
        }
    }
}
