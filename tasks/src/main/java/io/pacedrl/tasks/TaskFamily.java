package io.pacedrl.tasks;

import java.util.SplittableRandom;

/** A generator of verifiable prompts at graded difficulty levels, each with one known solution. */
public interface TaskFamily {

    /** The family name recorded on its prompts. */
    String name();

    /** The lowest difficulty level. */
    int minLevel();

    /** The highest difficulty level. */
    int maxLevel();

    /** A prompt of the given level and a correct response to it, drawn from {@code random}. */
    Example generate(SplittableRandom random, int level);

    /**
     * A generated prompt and a correct response to it: the demonstration the supervised warm
     * start trains on. For tasks with many correct responses it is one of them.
     */
    record Example(TaskPrompt prompt, String solution) {}
}
