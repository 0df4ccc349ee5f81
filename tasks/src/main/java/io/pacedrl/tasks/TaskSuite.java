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
    private static final List<TaskFamily> FAMILIES = List.of(new Arithmetic(), new Countdown(), new Aggregate());

    private final Config config;
    private final List<TaskPrompt> train;
    private final List<TaskPrompt> heldOut;
    private final Set<String> heldOutTexts;

    /**
     * @param seed         the seed everything is drawn from
     * @param trainSize    prompts in the training pool
     * @param heldOutSize  prompts held out for evaluation
     * @param countdownShare share of prompts from the countdown family
     * @param aggregateShare share of prompts from the aggregate family; the rest are arith
     */
    public record Config(long seed, int trainSize, int heldOutSize, double countdownShare, double aggregateShare) {
        public static final Config DEFAULT = new Config(1, 20_000, 1_000, 0.3, 0.4);

        public Config {
            if (trainSize < 1 || heldOutSize < 0) {
                throw new IllegalArgumentException("trainSize must be ≥ 1 and heldOutSize ≥ 0");
            }
            if (!(countdownShare >= 0 && aggregateShare >= 0 && countdownShare + aggregateShare <= 1)) {
                throw new IllegalArgumentException("countdownShare and aggregateShare must be ≥ 0 and add up to at most 1, got "
                        + countdownShare + " and " + aggregateShare);
            }
        }

        /** The same suite with a training pool of {@code size} prompts. */
        public Config withTrainSize(int size) {
            return new Config(seed, size, heldOutSize, countdownShare, aggregateShare);
        }
    }

    private TaskSuite(Config config, List<TaskPrompt> train, List<TaskPrompt> heldOut) {
        this.config = config;
        this.train = List.copyOf(train);
        this.heldOut = List.copyOf(heldOut);
        this.heldOutTexts = new HashSet<>();
        heldOut.forEach(p -> heldOutTexts.add(p.text()));
    }

    /**
     * Generates the suite: distinct prompts from one seeded stream, of which a seeded random
     * subset is held out. Easy levels have few distinct texts and run out early in the stream, so
     * the held-out set is drawn from all of it rather than its start: that way it has the same
     * mix of families and levels as the training pool, and measures generalisation to the pool's
     * own distribution.
     */
    public static TaskSuite generate(Config config) {
        Iterator<TaskFamily.Example> examples = examples(config, config.seed());
        List<TaskPrompt> all = draw(examples, config.heldOutSize() + config.trainSize(), new HashSet<>());
        int[] order = new int[all.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        // A partial Fisher-Yates shuffle picks the held-out positions.
        SplittableRandom random = new SplittableRandom(config.seed() ^ 0x5DEECE66DL);
        boolean[] held = new boolean[all.size()];
        for (int i = 0; i < config.heldOutSize(); i++) {
            int j = i + random.nextInt(order.length - i);
            int swap = order[i];
            order[i] = order[j];
            order[j] = swap;
            held[order[i]] = true;
        }
        // The held-out set in the order it was drawn, so that any prefix of it is a uniform sample too.
        List<TaskPrompt> heldOut = new ArrayList<>(config.heldOutSize());
        for (int i = 0; i < config.heldOutSize(); i++) {
            heldOut.add(all.get(order[i]).withSplit(TaskPrompt.Split.HELD_OUT));
        }
        List<TaskPrompt> train = new ArrayList<>(config.trainSize());
        for (int i = 0; i < all.size(); i++) {
            if (!held[i]) {
                train.add(all.get(i).withSplit(TaskPrompt.Split.TRAIN));
            }
        }
        return new TaskSuite(config, train, heldOut);
    }

    private static List<TaskPrompt> draw(Iterator<TaskFamily.Example> examples, int count, Set<String> seen) {
        List<TaskPrompt> prompts = new ArrayList<>(count);
        int duplicatesInARow = 0;
        while (prompts.size() < count) {
            TaskPrompt prompt = examples.next().prompt();
            if (seen.add(prompt.text())) {
                prompts.add(prompt);
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
            double u = random.nextDouble();
            TaskFamily family = u < config.countdownShare() ? FAMILIES.get(1)
                    : u < config.countdownShare() + config.aggregateShare() ? FAMILIES.get(2) : FAMILIES.get(0);
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
