package io.pacedrl.learning;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class SchedulingAndReplayTest {

    private static List<String> ids(int n) {
        return IntStream.range(0, n).mapToObj(i -> String.format("q%05d", i)).toList();
    }

    @Test
    void schedulerAgreesWithAFullSortAndSkipsInFlightPrompts() {
        SplittableRandom random = new SplittableRandom(3);
        int n = 5000;
        // Shuffled ids, so that id order is not index order; coarse p̂ values, so ties are common.
        List<String> ids = new ArrayList<>(ids(n));
        java.util.Collections.shuffle(ids, new java.util.Random(4));
        double[] pHat = new double[n];
        for (int i = 0; i < n; i++) {
            pHat[i] = random.nextInt(21) / 20.0;
        }
        Set<Integer> inFlight = new HashSet<>();
        for (int i = 0; i < n; i += 7) {
            inFlight.add(i);
        }
        DifficultyScheduler scheduler = new DifficultyScheduler(ids, 0.3);
        int[] chosen = scheduler.select(pHat, 64, inFlight::contains);
        int[] expected = IntStream.range(0, n).filter(i -> !inFlight.contains(i)).boxed()
                .sorted(Comparator.<Integer>comparingDouble(i -> Math.abs(pHat[i] - 0.3)).thenComparing(ids::get))
                .limit(64).mapToInt(Integer::intValue).toArray();
        assertArrayEquals(expected, chosen);
        assertEquals(5, new DifficultyScheduler(ids(5), 0.5).select(new double[5], 10, i -> false).length,
                "a small pool gives all it has");
        assertThrows(IllegalArgumentException.class, () -> scheduler.select(new double[3], 1, i -> false));
    }

    @Test
    void exploringPromptsAreDrawnUniformlyFromTheCandidatesNotNearestTau() {
        SplittableRandom random = new SplittableRandom(7);
        int n = 200;
        List<String> ids = new ArrayList<>(ids(n));
        java.util.Collections.shuffle(ids, new java.util.Random(8));
        double[] pool = random.doubles(n).toArray();
        int[] candidates = IntStream.range(0, n).filter(i -> i % 5 != 0).toArray(); // 160 of them
        double[] pHat = Arrays.stream(candidates).mapToDouble(i -> pool[i]).toArray();
        DifficultyScheduler scheduler = new DifficultyScheduler(ids, 0.5);
        int[] near = scheduler.selectAmong(candidates, pHat, 12);

        int[] chosen = scheduler.selectAmong(candidates, pHat, 16, 4, 99);
        assertArrayEquals(near, Arrays.copyOf(chosen, 12), "the first B − E are the nearest τ");
        Set<Integer> candidateSet = Arrays.stream(candidates).boxed().collect(java.util.stream.Collectors.toSet());
        assertEquals(16, Arrays.stream(chosen).distinct().count());
        assertTrue(Arrays.stream(chosen).allMatch(candidateSet::contains), "only candidates are drawn");
        assertArrayEquals(chosen, scheduler.selectAmong(candidates, pHat, 16, 4, 99), "seeded");
        assertArrayEquals(scheduler.selectAmong(candidates, pHat, 16), scheduler.selectAmong(candidates, pHat, 16, 0, 99),
                "explore 0 is the paper's rule");

        // The same pool joined in another order (other indices), its candidates listed in another order:
        // the same prompts, since the draw runs over the candidates in id order.
        List<String> reversed = new ArrayList<>(ids);
        java.util.Collections.reverse(reversed);
        int[] reversedCandidates = Arrays.stream(candidates).map(i -> n - 1 - i).boxed()
                .sorted(Comparator.reverseOrder()).mapToInt(Integer::intValue).toArray();
        double[] reversedPHat = Arrays.stream(reversedCandidates).mapToDouble(i -> pool[n - 1 - i]).toArray();
        int[] again = new DifficultyScheduler(reversed, 0.5).selectAmong(reversedCandidates, reversedPHat, 16, 4, 99);
        assertEquals(Arrays.stream(chosen).mapToObj(ids::get).toList(), Arrays.stream(again).mapToObj(reversed::get).toList());

        // Uniform over the 148 candidates left: each drawn 4 / 148 of the time.
        Map<Integer, Integer> drawn = new HashMap<>();
        int draws = 20_000;
        for (int seed = 0; seed < draws; seed++) {
            int[] batch = scheduler.selectAmong(candidates, pHat, 16, 4, seed);
            assertArrayEquals(near, Arrays.copyOf(batch, 12));
            Arrays.stream(batch, 12, 16).forEach(i -> drawn.merge(i, 1, Integer::sum));
        }
        assertEquals(148, drawn.size());
        assertTrue(Arrays.stream(near).noneMatch(drawn::containsKey));
        double expected = draws * 4 / 148.0;
        assertTrue(drawn.values().stream().allMatch(c -> Math.abs(c - expected) < 0.25 * expected), drawn.toString());
        assertThrows(IllegalArgumentException.class, () -> scheduler.selectAmong(candidates, pHat, 4, 5, 1));
    }

    @Test
    void uniformSamplerIsSeededDistinctAndSkipsInFlight() {
        double[] pool = new double[100];
        int[] a = new UniformSampler(9).select(pool, 30, i -> i % 2 == 0);
        int[] b = new UniformSampler(9).select(pool, 30, i -> i % 2 == 0);
        assertArrayEquals(a, b);
        assertEquals(30, Arrays.stream(a).distinct().count());
        assertTrue(Arrays.stream(a).allMatch(i -> i % 2 == 1));
        assertNotEquals(Arrays.toString(a), Arrays.toString(new UniformSampler(10).select(pool, 30, i -> i % 2 == 0)));
        // Only 50 prompts are free: asking for more returns those 50.
        assertEquals(50, new UniformSampler(1).select(pool, 80, i -> i % 2 == 0).length);
    }

    @Test
    void replayDrawsInProportionToPriorityWithoutRepeats() {
        ReplayBuffer<String> buffer = new ReplayBuffer<>(10, 10);
        List<ReplayBuffer.Trajectory<String>> high = List.of(new ReplayBuffer.Trajectory<>("h", true, "h", "h"));
        List<ReplayBuffer.Trajectory<String>> low = List.of(new ReplayBuffer.Trajectory<>("l", true, "l", "l"),
                new ReplayBuffer.Trajectory<>("wrong", false, "wrong", "wrong"));
        // Groups of one correct out of 1 and of 2: priorities |1 − 0.1| = 0.9 and |0.5 − 0.2| = 0.3.
        buffer.add(List.of(new ReplayBuffer.Group<>("a", 0.1, high), new ReplayBuffer.Group<>("b", 0.2, low)));
        assertEquals(List.of("h", "l"), buffer.entries().stream().map(ReplayBuffer.Entry::id).toList(), "wrong answers are never buffered");
        SplittableRandom random = new SplittableRandom(5);
        Map<String, Integer> first = new HashMap<>();
        for (int i = 0; i < 20_000; i++) {
            List<ReplayBuffer.Entry<String>> drawn = buffer.sample(1, random);
            first.merge(drawn.get(0).id(), 1, Integer::sum);
            assertEquals(2, buffer.sample(2, random).stream().map(ReplayBuffer.Entry::id).distinct().count());
        }
        // With weights 0.9 and 0.3 the first draw is "h" three times in four.
        assertEquals(0.75, first.get("h") / 20_000.0, 0.015);
    }

    @Test
    void theBufferHoldsOnePromptResponsePairOnce() {
        ReplayBuffer<String> buffer = new ReplayBuffer<>(10, 10);
        // Two of a's three successes answered "12"; b's "12" is another prompt's and is kept.
        buffer.add(List.of(new ReplayBuffer.Group<>("a", 0.5, List.of(new ReplayBuffer.Trajectory<>("a0", true, "12", ""),
                new ReplayBuffer.Trajectory<>("a1", true, "12", ""), new ReplayBuffer.Trajectory<>("a2", true, "13", ""))),
                new ReplayBuffer.Group<>("b", 0.5, List.of(new ReplayBuffer.Trajectory<>("b0", true, "12", "")))));
        assertEquals(List.of("a0", "a2", "b0"), buffer.entries().stream().map(ReplayBuffer.Entry::id).sorted().toList());
        // A later step answers a with "13" again, which replaces the held a2, and with "14", which is new.
        List<ReplayBuffer.Entry<String>> added = buffer.add(List.of(new ReplayBuffer.Group<>("a", 0.1, List.of(
                new ReplayBuffer.Trajectory<>("a9", true, "13", ""), new ReplayBuffer.Trajectory<>("a8", true, "14", "")))));
        assertEquals(List.of("a8", "a9"), added.stream().map(ReplayBuffer.Entry::id).toList());
        assertEquals(List.of("a0", "a8", "a9", "b0"), buffer.entries().stream().map(ReplayBuffer.Entry::id).sorted().toList());
    }

    @Test
    void reprioritisingRanksByHowWrongTheCurrentEstimateIs() {
        ReplayBuffer<String> buffer = new ReplayBuffer<>(10, 10);
        // a: 1 of 2 correct, scheduled at p̂ 0.9 (priority 0.4); b: 2 of 2, scheduled at 0.5 (priority 0.5).
        buffer.add(List.of(new ReplayBuffer.Group<>("a", 0.9, List.of(new ReplayBuffer.Trajectory<>("a0", true, "1", ""),
                new ReplayBuffer.Trajectory<>("a1", false, "2", ""))),
                new ReplayBuffer.Group<>("b", 0.5, List.of(new ReplayBuffer.Trajectory<>("b0", true, "1", ""),
                        new ReplayBuffer.Trajectory<>("b1", true, "2", "")))));
        assertEquals(List.of("b0", "b1", "a0"), buffer.entries().stream().map(ReplayBuffer.Entry::id).toList());
        // Z_φ has since learned b (p̂ 0.95) and still thinks a is easy (p̂ 1.0).
        buffer.reprioritise(prompts -> prompts.stream().mapToDouble(p -> p.equals("a") ? 1.0 : 0.95).toArray());
        assertEquals(List.of("a0", "b0", "b1"), buffer.entries().stream().map(ReplayBuffer.Entry::id).toList());
        assertEquals(0.5, buffer.entries().get(0).priority(), 1e-12);
        assertEquals(0.05, buffer.entries().get(1).priority(), 1e-12);
    }

    @Test
    void replayAddsAtMostKAddAndKeepsTheNewerOnTies() {
        ReplayBuffer<String> buffer = new ReplayBuffer<>(2, 1);
        buffer.add(List.of(new ReplayBuffer.Group<>("a", 0.5, List.of(new ReplayBuffer.Trajectory<>("b1", true, "b1", "")))));
        buffer.add(List.of(new ReplayBuffer.Group<>("a", 0.5, List.of(new ReplayBuffer.Trajectory<>("a1", true, "a1", ""),
                new ReplayBuffer.Trajectory<>("a2", true, "a2", "")))));
        // Step 2 offered two candidates but K_add is 1: a1 (smaller id) is added.
        assertEquals(List.of("a1", "b1"), buffer.entries().stream().map(ReplayBuffer.Entry::id).toList());
        List<ReplayBuffer.Entry<String>> kept = buffer.add(List.of(new ReplayBuffer.Group<>("c", 0.5,
                List.of(new ReplayBuffer.Trajectory<>("z9", true, "z9", "")))));
        // Equal priorities, capacity 2: the newest entries stay, even with a larger id.
        assertEquals(List.of("z9", "a1"), buffer.entries().stream().map(ReplayBuffer.Entry::id).toList());
        assertEquals(1, kept.size());
    }

    @Test
    void dynamicSamplingKeepsOnlyInformativeGroupsAndStopsAtTheRoundLimit() {
        DynamicSampling<String> dynamic = new DynamicSampling<>(3, 2.0, 2);
        assertEquals(6, dynamic.promptsToDraw());
        dynamic.offer(List.of("all-right", "mixed-1", "all-wrong"),
                List.of(new double[] {1, 1}, new double[] {0, 1}, new double[] {0, 0}));
        assertTrue(dynamic.needsMore());
        assertEquals(4, dynamic.promptsToDraw(), "two groups missing, oversampled 2×");
        dynamic.offer(List.of("all-wrong-2"), List.of(new double[] {0, 0}));
        assertTrue(!dynamic.needsMore(), "the round limit is reached");
        assertEquals(List.of("mixed-1"), dynamic.batch());
        assertEquals(4, dynamic.offered());
    }

    @Test
    void calibrationErrorIsTheBinWeightedGapBetweenEstimateAndObservation() {
        // Bin 0.1–0.2: estimates 0.1, 0.15 (mean 0.125) against 0.0, 0.5 (0.25); bin 0.9–1: 1.0 against 1.0.
        double[] estimates = {0.1, 0.15, 1.0};
        double[] observed = {0.0, 0.5, 1.0};
        assertEquals((2 * 0.125 + 0) / 3, RunMetrics.Calibration.of(estimates, observed, 10).error(), 1e-12);
        assertEquals(0.0, RunMetrics.Calibration.of(new double[] {0.3, 0.7}, new double[] {0.3, 0.7}, 10).error(), 1e-12);
        assertTrue(Double.isNaN(RunMetrics.Calibration.of(new double[0], new double[0], 10).error()));
    }

    @Test
    void theLevelReferencePredictsEachPromptByTheMeanOfItsLevelAmongOtherPrompts() {
        // Fitted on another set: two prompts of a/1 (0.2, 0.4), three of a/2 (0.0, 0.1, 0.2), one of b/1 (0.9).
        double[] prediction = HeldOutEvaluation.levelPrediction(List.of("a/1", "a/1", "a/2", "a/2", "a/2", "b/1"),
                new double[] {0.2, 0.4, 0.0, 0.1, 0.2, 0.9}, List.of("a/1", "a/1", "a/2", "a/2", "a/2", "b/1"));
        assertArrayEquals(new double[] {0.3, 0.3, 0.1, 0.1, 0.1, 0.9}, prediction, 1e-12);
        // Levels ranked right, ties within a level: short of 1 by what the levels do not tell apart.
        double spearman = RunMetrics.spearman(prediction, new double[] {0.35, 0.5, 0.0, 0.05, 0.2, 0.8});
        assertTrue(spearman > 0.8 && spearman < 1, "Spearman " + spearman);
    }

    @Test
    void spearmanUsesAverageRanksForTies() {
        assertEquals(1.0, RunMetrics.spearman(new double[] {1, 2, 3, 4}, new double[] {10, 20, 30, 400}), 1e-12);
        assertEquals(-1.0, RunMetrics.spearman(new double[] {1, 2, 3}, new double[] {3, 2, 1}), 1e-12);
        assertArrayEquals(new double[] {1.5, 1.5, 3}, RunMetrics.ranks(new double[] {0.2, 0.2, 0.9}), 1e-12);
        assertTrue(Double.isNaN(RunMetrics.spearman(new double[] {1, 1}, new double[] {1, 2})));
        // x ranks 1.5 1.5 3 4, y ranks 1 2 3 4: Pearson of the ranks.
        assertEquals(0.9486832980505138, RunMetrics.spearman(new double[] {0, 0, 1, 2}, new double[] {5, 6, 7, 8}), 1e-12);
    }

    @Test
    void tiesInTheObservationsCapTheSpearmanAnEstimateWithoutTiesCanReach() {
        // 52 of 55 probes never solved, three solved once, twice, three times: the case behind this figure.
        double[] observed = new double[55];
        observed[52] = 1 / 16.0;
        observed[53] = 2 / 16.0;
        observed[54] = 3 / 16.0;
        double highest = RunMetrics.highestSpearman(observed);
        assertEquals(Math.sqrt(1 - (52.0 * 52 * 52 - 52) / (55.0 * 55 * 55 - 55)), highest, 1e-12);
        assertTrue(highest < 0.4, "the bar of 0.5 is out of reach here: " + highest);
        // An estimate that orders the prompts as the observations do (ties broken anyhow) reaches it...
        SplittableRandom random = new SplittableRandom(5);
        double[] consistent = new double[55];
        for (int i = 0; i < 55; i++) {
            consistent[i] = observed[i] + random.nextDouble() * 1e-3;
        }
        assertEquals(highest, RunMetrics.spearman(consistent, observed), 1e-12);
        // ...and no estimate without ties exceeds it.
        for (int trial = 0; trial < 200; trial++) {
            double[] estimate = random.doubles(55).toArray();
            assertTrue(RunMetrics.spearman(estimate, observed) <= highest + 1e-12);
        }
        assertEquals(1.0, RunMetrics.highestSpearman(new double[] {0.1, 0.5, 0.2}), 1e-12);
        assertEquals(0.0, RunMetrics.highestSpearman(new double[] {0, 0, 0, 0}), 1e-12);
        assertTrue(Double.isNaN(RunMetrics.highestSpearman(new double[] {0, 1})));
    }

    @Test
    void passAtKAndAverageAtK() {
        assertEquals(0.5, RunMetrics.averageAtK(new int[] {2, 6}, 8), 1e-12);
        assertEquals((0.25 + 0.75) / 2, RunMetrics.meanPassAtK(new int[] {2, 6}, 8, 1), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> RunMetrics.passAtK(4, 1, 5));
    }
}
