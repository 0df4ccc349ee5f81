package io.pacedrl.tasks;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * The generated task suite: a training pool and a disjoint held-out set, both drawn from the
 * families with the configured mix, deterministic from the seed. Prompt ids come from the text,
 * so disjoint texts mean disjoint ids.
 */
public final class TaskSuite {
    private static final List<TaskFamily> FAMILIES = List.of(new Arithmetic(), new Countdown());

    private final Config config;
    private final List<TaskPrompt> train;
    private final List<TaskPrompt> heldOut;
    private final Set<String> heldOutTexts;

    /**
     * @param seed         the seed everything is drawn from
     * @param trainSize    prompts in the training pool
     * @param heldOutSize  prompts held out for evaluation
     * @param countdownShare share of prompts from the countdown family; the rest are arith
     */
    public record Config(long seed, int trainSize, int heldOutSize, double countdownShare) {
        public static final Config DEFAULT = new Config(1, 20_000, 1_000, 0.5);

        public Config {
            if (trainSize < 1 || heldOutSize < 0) {
                throw new IllegalArgumentException("trainSize must be ≥ 1 and heldOutSize ≥ 0");
            }
            if (!(countdownShare >= 0 && countdownShare <= 1)) {
                throw new IllegalArgumentException("countdownShare must be in [0, 1], got " + countdownShare);
            }
        }
    }

    private TaskSuite(Config config, List<TaskPrompt> train, List<TaskPrompt> heldOut) {
        this.config = config;
        this.train = List.copyOf(train);
        this.heldOut = List.copyOf(heldOut);
        this.heldOutTexts = new HashSet<>();
        heldOut.forEach(p -> heldOutTexts.add(p.text()));
    }

    /** Generates the suite: the held-out set first, then a training pool that avoids its texts. */
    public static TaskSuite generate(Config config) {
        Iterator<TaskFamily.Example> examples = examples(config, config.seed());
        Set<String> seen = new HashSet<>();
        List<TaskPrompt> heldOut = draw(examples, config.heldOutSize(), seen, TaskPrompt.Split.HELD_OUT);
        List<TaskPrompt> train = draw(examples, config.trainSize(), seen, TaskPrompt.Split.TRAIN);
        return new TaskSuite(config, train, heldOut);
    }

    private static List<TaskPrompt> draw(Iterator<TaskFamily.Example> examples, int count, Set<String> seen,
                                         TaskPrompt.Split split) {
        List<TaskPrompt> prompts = new ArrayList<>(count);
        int duplicatesInARow = 0;
        while (prompts.size() < count) {
            TaskPrompt prompt = examples.next().prompt();
            if (seen.add(prompt.text())) {
                prompts.add(prompt.withSplit(split));
                duplicatesInARow = 0;
            } else if (++duplicatesInARow > 100_000) {
                throw new IllegalArgumentException("the task families cannot produce " + count
                        + " distinct prompts; ask for fewer");
            }
        }
        return prompts;
    }

    /**
     * An endless stream of examples for the supervised warm start, drawn with its own seed and
     * never showing a held-out text.
     */
    public Iterator<TaskFamily.Example> demonstrations(long seed) {
        return Stream.generate(examples(config, seed)::next)
                .filter(example -> !heldOutTexts.contains(example.prompt().text()))
                .iterator();
    }

    /**
     * Endless examples: a family by the configured share, then a level with weight
     * {@code maxLevel − level + 1} (arith 4:3:2:1, countdown 3:2:1). Most prompts are within
     * a small policy's reach after the warm start and a tail is not, so a pool has easy, learnable
     * and out-of-reach prompts for a scheduler to tell apart.
     */
    private static Iterator<TaskFamily.Example> examples(Config config, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        return Stream.generate(() -> {
            TaskFamily family = random.nextDouble() < config.countdownShare() ? FAMILIES.get(1) : FAMILIES.get(0);
            return family.generate(random, level(family, random));
        }).iterator();
    }

    private static int level(TaskFamily family, SplittableRandom random) {
        int levels = family.maxLevel() - family.minLevel() + 1;
        int ticket = random.nextInt(levels * (levels + 1) / 2);
        for (int level = family.minLevel(); ; level++) {
            int weight = family.maxLevel() - level + 1;
            if (ticket < weight) {
                return level;
            }
            ticket -= weight;
        }
    }

    public Config config() {
        return config;
    }

    public List<TaskPrompt> train() {
        return train;
    }

    public List<TaskPrompt> heldOut() {
        return heldOut;
    }

    /** The families prompts are generated from. */
    public static List<TaskFamily> families() {
        return FAMILIES;
    }
}
