package io.pacedrl.tasks;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

/**
 * The largest, the smallest or the sum of a list: level L shows L + 1 numbers, two-digit for
 * {@code max} and {@code min}, one-digit for {@code sum}. What makes a prompt hard is on its face
 * (the operation and how many numbers), and the skills carry between levels and to arithmetic
 * (comparing, adding), which is what lets an estimator of accuracy that reads the prompt
 * generalise to prompts it has not seen scheduled. The text is {@code "max 37 82 15="}; the one
 * correct answer is the integer value.
 */
public final class Aggregate extends TaskFamily {
    public static final String FAMILY = "aggregate";
    public static final String KIND = NumericAnswerVerifier.KIND;
    private static final String[] OPERATIONS = {"max", "min", "sum"};

    public Aggregate() {
        super(FAMILY, 1, 4);
    }

    @Override
    protected Example draw(SplittableRandom random, int level) {
        String operation = OPERATIONS[random.nextInt(OPERATIONS.length)];
        int bound = operation.equals("sum") ? 10 : 100;
        List<Integer> numbers = new ArrayList<>();
        for (int i = 0; i <= level; i++) {
            numbers.add(random.nextInt(bound));
        }
        int value = switch (operation) {
            case "max" -> numbers.stream().mapToInt(Integer::intValue).max().orElseThrow();
            case "min" -> numbers.stream().mapToInt(Integer::intValue).min().orElseThrow();
            default -> numbers.stream().mapToInt(Integer::intValue).sum();
        };
        String text = operation + " " + numbers.stream().map(String::valueOf).collect(Collectors.joining(" ")) + "=";
        String answer = Integer.toString(value);
        TaskPrompt prompt = new TaskPrompt(TaskPrompt.contentId(FAMILY, text), KIND, FAMILY, level, TaskPrompt.Split.UNKNOWN, text,
                answer, null);
        return new Example(prompt, answer);
    }
}
