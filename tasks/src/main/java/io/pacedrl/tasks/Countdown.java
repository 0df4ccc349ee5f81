package io.pacedrl.tasks;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

/**
 * Countdown: reach a target with each given number used exactly once and +, −, ×, ÷. Level L
 * gives L + 1 numbers from 1..12. The target is the value of a random expression tree over the
 * numbers whose every intermediate result is a positive integer (the game's rule), so a solution
 * always exists; usually there are several, which is where a distribution-matching objective
 * keeps more of them than a reward maximiser. The text is {@code "3 7 9 -> 30"}; the spec is
 * {@code {"numbers":[3,7,9],"target":30}}.
 */
public final class Countdown extends TaskFamily {
    public static final String FAMILY = "countdown";
    public static final String KIND = CountdownVerifier.KIND;
    static final int MAX_NUMBER = 12;
    static final int MAX_TARGET = 999;
    private static final char[] OPERATORS = {'+', '-', '*', '/'};

    public Countdown() {
        super(FAMILY, 1, 3);
    }

    @Override
    protected Example draw(SplittableRandom random, int level) {
        while (true) {
            List<Integer> numbers = new ArrayList<>();
            for (int i = 0; i <= level; i++) {
                numbers.add(random.nextInt(1, MAX_NUMBER + 1));
            }
            Node tree = tree(random, numbers);
            if (tree == null || tree.value > MAX_TARGET) {
                continue;
            }
            List<Integer> shown = new ArrayList<>(numbers);
            shuffle(shown, random);
            String listed = shown.stream().map(String::valueOf).collect(Collectors.joining(" "));
            String text = listed + " -> " + tree.value;
            String spec = "{\"numbers\":[" + listed.replace(' ', ',') + "],\"target\":" + tree.value + "}";
            TaskPrompt prompt = new TaskPrompt(TaskPrompt.contentId(FAMILY, text), KIND, FAMILY, level,
                    TaskPrompt.Split.UNKNOWN, text, null, spec);
            return new Example(prompt, tree.text);
        }
    }

    /** An expression over {@code numbers} in order, or null when a draw breaks the game's rule. */
    private static Node tree(SplittableRandom random, List<Integer> numbers) {
        if (numbers.size() == 1) {
            return new Node(numbers.get(0), Integer.toString(numbers.get(0)), 3);
        }
        int split = random.nextInt(1, numbers.size());
        Node left = tree(random, numbers.subList(0, split));
        Node right = tree(random, numbers.subList(split, numbers.size()));
        if (left == null || right == null) {
            return null;
        }
        char op = OPERATORS[random.nextInt(OPERATORS.length)];
        long value = switch (op) {
            case '+' -> left.value + right.value;
            case '-' -> left.value - right.value;
            case '*' -> left.value * right.value;
            default -> right.value != 0 && left.value % right.value == 0 ? left.value / right.value : -1;
        };
        if (value <= 0) {
            return null;
        }
        int precedence = op == '+' || op == '-' ? 1 : 2;
        // Parenthesise only where needed: a looser left operand, or a right operand that is
        // looser or equally tight under a non-associative operator (a-(b-c), a/(b*c)).
        String leftText = left.precedence < precedence ? "(" + left.text + ")" : left.text;
        boolean rightNeedsParens = right.precedence < precedence
                || (right.precedence == precedence && (op == '-' || op == '/'));
        String rightText = rightNeedsParens ? "(" + right.text + ")" : right.text;
        return new Node(value, leftText + op + rightText, precedence);
    }

    private static void shuffle(List<Integer> list, SplittableRandom random) {
        for (int i = list.size() - 1; i > 0; i--) {
            Collections.swap(list, i, random.nextInt(i + 1));
        }
    }

    private record Node(long value, String text, int precedence) {}
}
