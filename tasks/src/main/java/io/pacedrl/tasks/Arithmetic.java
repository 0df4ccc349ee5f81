package io.pacedrl.tasks;

import java.util.SplittableRandom;

/**
 * {@code a op b} with +, − or ×: level L draws operands of up to L digits, at least one of them
 * with exactly L, so level 1 is single digits and level 4 reaches 4-digit products of 8 digits.
 * The text is {@code "37*45="}; the one correct answer is the integer value.
 */
public final class Arithmetic extends TaskFamily {
    public static final String FAMILY = "arith";
    public static final String KIND = NumericAnswerVerifier.KIND;
    private static final char[] OPERATORS = {'+', '-', '*'};

    public Arithmetic() {
        super(FAMILY, 1, 4);
    }

    @Override
    protected Example draw(SplittableRandom random, int level) {
        boolean firstIsLong = random.nextBoolean();
        long a = operand(random, firstIsLong ? level : random.nextInt(1, level + 1));
        long b = operand(random, firstIsLong ? random.nextInt(1, level + 1) : level);
        char op = OPERATORS[random.nextInt(OPERATORS.length)];
        long value = switch (op) {
            case '+' -> a + b;
            case '-' -> a - b;
            default -> a * b;
        };
        String text = a + String.valueOf(op) + b + "=";
        String answer = Long.toString(value);
        TaskPrompt prompt = new TaskPrompt(TaskPrompt.contentId(FAMILY, text), KIND, FAMILY, level,
                TaskPrompt.Split.UNKNOWN, text, answer, null);
        return new Example(prompt, answer);
    }

    /** A number with exactly {@code digits} digits (0..9 for one digit). */
    private static long operand(SplittableRandom random, int digits) {
        if (digits == 1) {
            return random.nextInt(10);
        }
        long low = (long) Math.pow(10, digits - 1);
        return random.nextLong(low, low * 10);
    }
}
