package io.pacedrl.tasks;

import java.math.BigDecimal;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Exact numeric answers: the response is correct when it is a number equal to the reference
 * answer, whatever its formatting (spaces, leading zeros, a leading +, thousands written as
 * {@code 1 000}, a trailing {@code .0}).
 */
public final class NumericAnswerVerifier implements RewardVerifier {
    public static final String KIND = "numeric";
    private static final Pattern NUMBER = Pattern.compile("[+-]?(\\d+(\\.\\d*)?|\\.\\d+)");

    @Override
    public String name() {
        return "numeric";
    }

    @Override
    public String version() {
        return "1";
    }

    @Override
    public Set<String> kinds() {
        return Set.of(KIND);
    }

    @Override
    public Verdict verify(TaskPrompt prompt, String response) {
        if (prompt.answer() == null) {
            throw new IllegalArgumentException("numeric prompt " + prompt.id() + " has no answer");
        }
        BigDecimal expected = parse(prompt.answer()).orElseThrow(() -> new IllegalArgumentException(
                "numeric prompt " + prompt.id() + " has a non-numeric answer: " + prompt.answer()));
        Optional<BigDecimal> given = parse(response);
        if (given.isEmpty()) {
            return Verdict.wrong("not a number");
        }
        if (given.get().compareTo(expected) != 0) {
            return new Verdict(0.0, false, Map.of("reason", "wrong value", "value", given.get().toPlainString()));
        }
        return Verdict.correct(Map.of("value", given.get().toPlainString()));
    }

    /** The number written in {@code text} after removing all whitespace, if it is one. */
    public static Optional<BigDecimal> parse(String text) {
        String compact = text.replaceAll("\\s+", "");
        if (!NUMBER.matcher(compact).matches()) {
            return Optional.empty();
        }
        return Optional.of(new BigDecimal(compact.startsWith("+") ? compact.substring(1) : compact));
    }
}
