package io.pacedrl.tasks;

import java.util.SplittableRandom;

/** A generator of verifiable prompts at graded difficulty levels, each with one known solution. */
public abstract class TaskFamily {
    private final String name;
    private final int minLevel;
    private final int maxLevel;

    protected TaskFamily(String name, int minLevel, int maxLevel) {
        this.name = name;
        this.minLevel = minLevel;
        this.maxLevel = maxLevel;
    }

    /** The family name recorded on its prompts. */
    public final String name() {
        return name;
    }

    public final int minLevel() {
        return minLevel;
    }

    public final int maxLevel() {
        return maxLevel;
    }

    /** A prompt of the given level and a correct response to it, drawn from {@code random}. */
    public final Example generate(SplittableRandom random, int level) {
        if (level < minLevel || level > maxLevel) {
            throw new IllegalArgumentException(name + " level must be " + minLevel + ".." + maxLevel + ", got " + level);
        }
        return draw(random, level);
    }

    /** Draws an example of a level already checked to be in range. */
    protected abstract Example draw(SplittableRandom random, int level);

    /**
     * A generated prompt and a correct response to it: the demonstration the supervised warm
     * start trains on. For tasks with many correct responses it is one of them.
     */
    public record Example(TaskPrompt prompt, String solution) {}
}
