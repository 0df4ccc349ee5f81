package io.pacedrl.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class TaskSuiteTest {
    private static final TaskSuite.Config SMALL = new TaskSuite.Config(7, 3_000, 500, 0.3, 0.4);

    @Test
    void sameSeedGivesTheSameSuiteAndAnotherSeedAnother() {
        TaskSuite first = TaskSuite.generate(SMALL);
        TaskSuite again = TaskSuite.generate(SMALL);
        assertEquals(first.train(), again.train());
        assertEquals(first.heldOut(), again.heldOut());
        TaskSuite other = TaskSuite.generate(new TaskSuite.Config(8, 3_000, 500, 0.3, 0.4));
        assertNotEquals(first.train(), other.train());
    }

    @Test
    void trainAndHeldOutAreDisjointWithUniqueIds() {
        TaskSuite suite = TaskSuite.generate(SMALL);
        assertEquals(3_000, suite.train().size());
        assertEquals(500, suite.heldOut().size());
        Set<String> trainIds = suite.train().stream().map(TaskPrompt::id).collect(Collectors.toSet());
        Set<String> trainTexts = suite.train().stream().map(TaskPrompt::text).collect(Collectors.toSet());
        assertEquals(3_000, trainIds.size());
        assertEquals(3_000, trainTexts.size());
        for (TaskPrompt prompt : suite.heldOut()) {
            assertTrue(!trainIds.contains(prompt.id()) && !trainTexts.contains(prompt.text()), prompt.toString());
            assertEquals(TaskPrompt.Split.HELD_OUT, prompt.split());
        }
        suite.train().forEach(p -> assertEquals(TaskPrompt.Split.TRAIN, p.split()));
    }

    @Test
    void everyFamilyAndLevelIsRepresentedWithItsDifficultyRecorded() {
        TaskSuite suite = TaskSuite.generate(SMALL);
        Map<String, Set<Integer>> levels = new TreeMap<>();
        suite.train().forEach(p -> levels.computeIfAbsent(p.family(), f -> new HashSet<>()).add(p.difficulty()));
        assertEquals(Map.of("arith", Set.of(1, 2, 3, 4), "countdown", Set.of(1, 2, 3), "aggregate", Set.of(1, 2, 3, 4)), levels);
        long arithEasier = suite.train().stream().filter(p -> p.family().equals("arith") && p.difficulty() == 2).count();
        long arithHardest = suite.train().stream().filter(p -> p.family().equals("arith") && p.difficulty() == 4).count();
        assertTrue(arithEasier > 1.5 * arithHardest, "easier levels are more common: " + arithEasier + " vs " + arithHardest);
        long countdown = suite.train().stream().filter(p -> p.family().equals("countdown")).count();
        assertTrue(countdown > 750 && countdown < 1_050, "share of countdown (0.3): " + countdown);
        long aggregate = suite.train().stream().filter(p -> p.family().equals("aggregate")).count();
        assertTrue(aggregate > 1_050 && aggregate < 1_350, "share of aggregate (0.4): " + aggregate);
    }

    /** Aggregate prompts say what they ask and how much of it; the answer is the one value, which the verifier accepts. */
    @Test
    void aggregatePromptsShowTheirOperationAndLengthAndCarryTheirValue() {
        Aggregate family = new Aggregate();
        java.util.SplittableRandom random = new java.util.SplittableRandom(3);
        NumericAnswerVerifier verifier = new NumericAnswerVerifier();
        Set<String> operations = new HashSet<>();
        for (int level = 1; level <= 4; level++) {
            for (int i = 0; i < 50; i++) {
                TaskFamily.Example example = family.generate(random, level);
                TaskPrompt prompt = example.prompt();
                String[] parts = prompt.text().substring(0, prompt.text().length() - 1).split(" ");
                operations.add(parts[0]);
                assertEquals(level + 1, parts.length - 1, prompt.text());
                java.util.IntSummaryStatistics numbers = java.util.Arrays.stream(parts, 1, parts.length).mapToInt(Integer::parseInt)
                        .summaryStatistics();
                long expected = switch (parts[0]) {
                    case "max" -> numbers.getMax();
                    case "min" -> numbers.getMin();
                    default -> numbers.getSum();
                };
                assertEquals(Long.toString(expected), prompt.answer(), prompt.text());
                assertTrue(verifier.verify(prompt, example.solution()).correct(), prompt.text());
                assertEquals(level, prompt.difficulty());
            }
        }
        assertEquals(Set.of("max", "min", "sum"), operations);
    }

    /**
     * Easy levels run out of distinct texts early in the stream; the held-out set must not take
     * them all, or it would be easier than the pool it is meant to stand for.
     */
    @Test
    void heldOutHasThePoolsMixOfFamiliesAndLevels() {
        TaskSuite suite = TaskSuite.generate(new TaskSuite.Config(5, 20_000, 1_000, 0.3, 0.4));
        Map<String, Double> train = shares(suite.train());
        Map<String, Double> heldOut = shares(suite.heldOut());
        assertEquals(train.keySet(), heldOut.keySet());
        // A uniform sample of n has a share's sampling error √(p(1−p)/n): eleven strata are held to
        // four of those (1000 prompts: about 0.045 for the largest shares, 0.02 for the smallest),
        // which a held-out set that drew easy levels out of proportion would not meet.
        train.forEach((stratum, share) -> assertEquals(share, heldOut.get(stratum), 4 * Math.sqrt(share * (1 - share) / 1_000),
                stratum + ": " + train + " against " + heldOut));
        // Its first quarter too: evaluations that take a prefix get the same mix.
        Map<String, Double> prefix = shares(suite.heldOut().subList(0, 250));
        train.forEach((stratum, share) -> assertEquals(share, prefix.getOrDefault(stratum, 0.0),
                4 * Math.sqrt(share * (1 - share) / 250), stratum + ": " + train + " against the first 250 " + prefix));
    }

    private static Map<String, Double> shares(java.util.List<TaskPrompt> prompts) {
        Map<String, Double> shares = new TreeMap<>();
        prompts.forEach(p -> shares.merge(p.family() + "/" + p.difficulty(), 1.0 / prompts.size(), Double::sum));
        return shares;
    }

    @Test
    void idsComeFromTheText() {
        TaskSuite suite = TaskSuite.generate(SMALL);
        for (TaskPrompt prompt : suite.train()) {
            assertEquals(TaskPrompt.contentId(prompt.family(), prompt.text()), prompt.id());
        }
    }

    @Test
    void everyDemonstrationIsJudgedCorrectAndNoneIsHeldOut() {
        TaskSuite suite = TaskSuite.generate(SMALL);
        Set<String> heldOut = suite.heldOut().stream().map(TaskPrompt::text).collect(Collectors.toSet());
        Verifiers verifiers = Verifiers.load();
        Iterator<TaskFamily.Example> demonstrations = suite.demonstrations(99);
        for (int i = 0; i < 5_000; i++) {
            TaskFamily.Example example = demonstrations.next();
            assertTrue(!heldOut.contains(example.prompt().text()));
            Verdict verdict = verifiers.verify(example.prompt(), example.solution());
            assertTrue(verdict.correct(), example + " judged " + verdict);
        }
    }

    @Test
    void aLevelOutsideTheFamilysRangeIsAnError() {
        IllegalArgumentException error = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new Countdown().generate(new java.util.SplittableRandom(1), 4));
        assertEquals("countdown level must be 1..3, got 4", error.getMessage());
    }

    @Test
    void countdownTargetsAreReachableAndBounded() {
        Countdown countdown = new Countdown();
        java.util.SplittableRandom random = new java.util.SplittableRandom(3);
        for (int level = 1; level <= 3; level++) {
            for (int i = 0; i < 300; i++) {
                TaskFamily.Example example = countdown.generate(random, level);
                CountdownVerifier.Spec spec = CountdownVerifier.Spec.parse(example.prompt());
                assertEquals(level + 1, spec.numbers().size());
                assertTrue(spec.target().intValue() >= 1 && spec.target().intValue() <= Countdown.MAX_TARGET);
            }
        }
    }
}
