package io.pacedrl.tasks;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Countdown expressions, checked by a parser rather than an evaluator of arbitrary code: the
 * response must be an arithmetic expression over integers with + − * / and parentheses, use
 * each given number exactly once (as a multiset), and equal the target in exact rational
 * arithmetic. Any such expression is correct, so a prompt has many correct answers.
 */
public final class CountdownVerifier implements RewardVerifier {
    public static final String KIND = "countdown";
    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public String name() {
        return "countdown";
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
        Spec spec = Spec.parse(prompt);
        Expression expression;
        try {
            expression = Expression.parse(response);
        } catch (IllegalArgumentException e) {
            return Verdict.wrong("unparseable: " + e.getMessage());
        }
        List<BigInteger> used = new ArrayList<>(expression.numbers());
        List<BigInteger> given = new ArrayList<>(spec.numbers());
        used.sort(null);
        given.sort(null);
        if (!used.equals(given)) {
            return new Verdict(0.0, false, Map.of("reason", "numbers used " + used + " but given " + given));
        }
        if (expression.value() == null) {
            return Verdict.wrong("division by zero");
        }
        String value = expression.value().toString();
        if (!expression.value().equals(Rational.of(spec.target()))) {
            return new Verdict(0.0, false, Map.of("reason", "value " + value + " is not the target " + spec.target(),
                    "value", value));
        }
        return Verdict.correct(Map.of("value", value, "expression", response.strip()));
    }

    /** The numbers and target of a countdown prompt's spec. */
    record Spec(List<BigInteger> numbers, BigInteger target) {
        static Spec parse(TaskPrompt prompt) {
            if (prompt.spec() == null) {
                throw new IllegalArgumentException("countdown prompt " + prompt.id() + " has no spec");
            }
            try {
                JsonNode node = JSON.readTree(prompt.spec());
                JsonNode numbers = node.get("numbers");
                JsonNode target = node.get("target");
                if (numbers == null || !numbers.isArray() || numbers.isEmpty() || target == null || !target.isIntegralNumber()) {
                    throw new IllegalArgumentException("countdown prompt " + prompt.id()
                            + " needs a spec {\"numbers\": [integers], \"target\": integer}, got " + prompt.spec());
                }
                List<BigInteger> values = new ArrayList<>();
                for (JsonNode number : numbers) {
                    if (!number.isIntegralNumber()) {
                        throw new IllegalArgumentException("countdown prompt " + prompt.id() + " has a non-integer number " + number);
                    }
                    values.add(number.bigIntegerValue());
                }
                return new Spec(values, target.bigIntegerValue());
            } catch (IOException e) {
                throw new IllegalArgumentException("countdown prompt " + prompt.id() + " has a spec that is not JSON: " + e.getMessage(), e);
            }
        }
    }

    /** An exact fraction in lowest terms with a positive denominator. */
    record Rational(BigInteger numerator, BigInteger denominator) {
        static Rational of(BigInteger integer) {
            return new Rational(integer, BigInteger.ONE);
        }

        static Rational of(BigInteger numerator, BigInteger denominator) {
            if (denominator.signum() < 0) {
                numerator = numerator.negate();
                denominator = denominator.negate();
            }
            BigInteger gcd = numerator.gcd(denominator);
            return gcd.signum() == 0 ? new Rational(numerator, denominator)
                    : new Rational(numerator.divide(gcd), denominator.divide(gcd));
        }

        Rational apply(char op, Rational other) {
            return switch (op) {
                case '+' -> of(numerator.multiply(other.denominator).add(other.numerator.multiply(denominator)),
                        denominator.multiply(other.denominator));
                case '-' -> of(numerator.multiply(other.denominator).subtract(other.numerator.multiply(denominator)),
                        denominator.multiply(other.denominator));
                case '*' -> of(numerator.multiply(other.numerator), denominator.multiply(other.denominator));
                default -> other.numerator.signum() == 0 ? null
                        : of(numerator.multiply(other.denominator), denominator.multiply(other.numerator));
            };
        }

        @Override
        public String toString() {
            return denominator.equals(BigInteger.ONE) ? numerator.toString() : numerator + "/" + denominator;
        }
    }

    /**
     * A parsed expression: its value (null after a division by zero) and the numbers it uses.
     * Grammar: expr = term (('+'|'-') term)*; term = factor (('*'|'/') factor)*;
     * factor = integer | '(' expr ')'. No unary minus: every number is used as given.
     */
    record Expression(Rational value, List<BigInteger> numbers) {
        private static final int MAX_LENGTH = 1_000;
        private static final int MAX_DEPTH = 64;

        static Expression parse(String text) {
            if (text.length() > MAX_LENGTH) {
                throw new IllegalArgumentException("longer than " + MAX_LENGTH + " characters");
            }
            Parser parser = new Parser(text);
            Rational value = parser.expression(0);
            if (parser.peek() != '\0') {
                throw new IllegalArgumentException("unexpected '" + parser.text.charAt(parser.position)
                        + "' at " + parser.position);
            }
            return new Expression(value, parser.numbers);
        }

        private static final class Parser {
            final String text;
            final List<BigInteger> numbers = new ArrayList<>();
            int position;

            Parser(String text) {
                this.text = text;
            }

            Rational expression(int depth) {
                Rational value = term(depth);
                while (peek() == '+' || peek() == '-') {
                    char op = text.charAt(position++);
                    value = combine(value, op, term(depth));
                }
                return value;
            }

            Rational term(int depth) {
                Rational value = factor(depth);
                while (peek() == '*' || peek() == '/') {
                    char op = text.charAt(position++);
                    value = combine(value, op, factor(depth));
                }
                return value;
            }

            Rational factor(int depth) {
                if (depth > MAX_DEPTH) {
                    throw new IllegalArgumentException("nested deeper than " + MAX_DEPTH);
                }
                if (peek() == '(') {
                    position++;
                    Rational value = expression(depth + 1);
                    if (peek() != ')') {
                        throw new IllegalArgumentException(position < text.length()
                                ? "expected ')' at " + position : "missing ')'");
                    }
                    position++;
                    return value;
                }
                peek();
                int start = position;
                while (position < text.length() && Character.isDigit(text.charAt(position))
                        && text.charAt(position) < 128) {
                    position++;
                }
                if (start == position) {
                    throw new IllegalArgumentException(position < text.length()
                            ? "expected a number at " + position + ", got '" + text.charAt(position) + "'"
                            : "expression ends early");
                }
                BigInteger number = new BigInteger(text.substring(start, position));
                numbers.add(number);
                return Rational.of(number);
            }

            /** Applies op; after a division by zero the value stays null but parsing goes on. */
            Rational combine(Rational left, char op, Rational right) {
                return left == null || right == null ? null : left.apply(op, right);
            }

            /** The next character that is not whitespace, or NUL at the end. */
            char peek() {
                while (position < text.length() && Character.isWhitespace(text.charAt(position))) {
                    position++;
                }
                return position < text.length() ? text.charAt(position) : '\0';
            }
        }
    }
}
