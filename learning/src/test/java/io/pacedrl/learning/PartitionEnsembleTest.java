package io.pacedrl.learning;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.pacedrl.policy.Torch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class PartitionEnsembleTest {
    static final int WIDTH = 6;
    static final int ROWS = 40;
    static final double BETA = 0.05;

    @BeforeAll
    static void engine() {
        Torch.configure(1);
    }

    @Test
    void theValuesAreHandedOutInTheOrdersRanking() {
        assertArrayEquals(new double[] {0.5, 0.1, 0.3}, PartitionEnsemble.ranked(new double[] {0.1, 0.5, 0.3}, new double[] {3, 1, 2}));
        assertArrayEquals(new double[] {0.1, 0.5, 0.3}, PartitionEnsemble.ranked(new double[] {0.1, 0.5, 0.3}, new double[] {0.1, 0.5, 0.3}),
                "the order of the values themselves changes nothing");
    }

    @Test
    void aPromptScoredTwiceCountsOnceAndTheRowsOrderChangesNothing() {
        // Rows 0 and 2 are one prompt (equal in both); three distinct prompts share the sorted values 0.2, 0.4, 0.9.
        double[] values = {0.2, 0.4, 0.2, 0.9};
        double[] order = {5, 1, 5, 3};
        assertArrayEquals(new double[] {0.9, 0.2, 0.9, 0.4}, PartitionEnsemble.ranked(values, order));
        assertArrayEquals(new double[] {0.4, 0.9, 0.2, 0.9}, PartitionEnsemble.ranked(new double[] {0.9, 0.2, 0.4, 0.2},
                new double[] {3, 5, 1, 5}), "the same prompts in reverse get the same values");
    }

    @Test
    void aCopyIsKeptAfterEveryEveryThUpdateAndTheOldestDropsOut() {
        try (NDManager manager = NDManager.newBaseManager();
                PartitionFunction now = new PartitionFunction(manager, WIDTH, new PartitionFunction.Config(8, 0f, 0), 1);
                PartitionEnsemble ensemble = new PartitionEnsemble(manager, now, 2, 2)) {
            List<Integer> held = new ArrayList<>();
            List<Float> biases = new ArrayList<>();
            for (int step = 1; step <= 7; step++) {
                ensemble.beforeUpdate(step);
                held.add(ensemble.copies());
                biases.clear();
                for (byte[] copy : ensemble.copyBytes()) {
                    try (PartitionFunction loaded = PartitionFunction.fromBytes(manager, copy)) {
                        biases.add(loaded.parameters().get("layer2.bias").getFloat(0));
                    }
                }
                // "Update" step: Z_φ's output bias becomes the step's number.
                now.parameters().get("layer2.bias").set(new float[] {step});
            }
            assertEquals(List.of(0, 0, 1, 1, 2, 2, 2), held, "copies as updates 3, 5 and 7 begin, two kept");
            assertEquals(List.of(4f, 6f), biases, "Z_φ as updates 4 and 6 left it, oldest first");
        }
    }

    @Test
    void withoutCopiesItIsZPhiNowAndWithThemAPermutationOfItInTheMeansOrder() {
        float[] rows = rows(ROWS, 7);
        try (NDManager manager = NDManager.newBaseManager();
                PartitionFunction now = new PartitionFunction(manager, WIDTH, new PartitionFunction.Config(8, 0f, 10), 1);
                PartitionFunction earlier = new PartitionFunction(manager, WIDTH, new PartitionFunction.Config(8, 0f, 10), 2);
                PartitionEnsemble ensemble = new PartitionEnsemble(manager, now, 1, 1)) {
            double[] alone = pHat(now, rows);
            assertArrayEquals(alone, ensemble.accuracyEstimates(rows, ROWS, BETA), "no copy yet: Z_φ now's p̂");

            byte[] nowBytes = now.toBytes();
            ensemble.restoreCopies(PartitionEnsemble.toBytes(nowBytes, List.of(earlier.toBytes())));
            double[] ranked = ensemble.accuracyEstimates(rows, ROWS, BETA);
            assertFalse(Arrays.equals(alone, ranked), "the copy reorders");
            double[] sortedAlone = alone.clone();
            double[] sortedRanked = ranked.clone();
            Arrays.sort(sortedAlone);
            Arrays.sort(sortedRanked);
            assertArrayEquals(sortedAlone, sortedRanked, "Z_φ now's values, level and spread kept");
            double[] mean = now.logZValues(rows, ROWS);
            double[] other = earlier.logZValues(rows, ROWS);
            for (int i = 0; i < ROWS; i++) {
                for (int j = 0; j < ROWS; j++) {
                    if (mean[i] + other[i] < mean[j] + other[j]) {
                        assertTrue(ranked[i] <= ranked[j], "row " + i + " ranks below row " + j + " by the mean");
                    }
                }
            }
        }
    }

    @Test
    void whatTheLearnerPublishesLoadsIntoTheSameEstimates() {
        float[] rows = rows(ROWS, 8);
        try (NDManager manager = NDManager.newBaseManager();
                PartitionFunction now = new PartitionFunction(manager, WIDTH, new PartitionFunction.Config(8, 0f, 10), 3);
                PartitionEnsemble learner = new PartitionEnsemble(manager, now, 1, 3)) {
            assertEquals(PartitionFunction.FORMAT, PartitionEnsemble.formatOf(now.toBytes()));
            for (int step = 1; step <= 6; step++) {
                learner.beforeUpdate(step);
                now.parameters().get("layer0.weight").muli(-1.1f);
            }
            byte[] published = PartitionEnsemble.toBytes(now.toBytes(), learner.copyBytes());
            assertEquals(PartitionEnsemble.FORMAT, PartitionEnsemble.formatOf(published));
            assertEquals(published.length, PartitionEnsemble.fullSize(now.toBytes(), 3), "three copies held: full size");
            try (PartitionEnsemble loaded = PartitionEnsemble.fromBytes(manager, published)) {
                assertEquals(3, loaded.copies());
                assertArrayEquals(learner.accuracyEstimates(rows, ROWS, BETA), loaded.accuracyEstimates(rows, ROWS, BETA));
            }
            try (PartitionEnsemble lone = PartitionEnsemble.fromBytes(manager, now.toBytes())) {
                assertEquals(0, lone.copies(), "a lone Z_φ, as runs before copies published it");
                assertArrayEquals(pHat(now, rows), lone.accuracyEstimates(rows, ROWS, BETA));
            }
            try (PartitionFunction other = new PartitionFunction(manager, WIDTH, new PartitionFunction.Config(8, 0f, 10), 4);
                    PartitionEnsemble fewer = new PartitionEnsemble(manager, other, 1, 2)) {
                fewer.restoreCopies(published);
                assertEquals(learner.copyBytes().subList(1, 3).stream().map(Arrays::toString).toList(),
                        fewer.copyBytes().stream().map(Arrays::toString).toList(), "a learner keeping two takes the two most recent");
            }
        }
    }

    @Test
    void bytesThatAreNotAnEnsembleAreRefusedSayingWhy() {
        try (NDManager manager = NDManager.newBaseManager();
                PartitionFunction now = new PartitionFunction(manager, WIDTH, new PartitionFunction.Config(8, 0f, 10), 3)) {
            byte[] published = PartitionEnsemble.toBytes(now.toBytes(), List.of(now.toBytes()));
            IllegalArgumentException truncated = assertThrows(IllegalArgumentException.class,
                    () -> PartitionEnsemble.fromBytes(manager, Arrays.copyOf(published, published.length - 9)));
            assertTrue(truncated.getMessage().startsWith(PartitionEnsemble.FORMAT + " parameters are truncated"), truncated.getMessage());
            IllegalArgumentException junk = assertThrows(IllegalArgumentException.class,
                    () -> PartitionEnsemble.fromBytes(manager, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}));
            assertTrue(junk.getMessage().contains("not " + PartitionFunction.FORMAT), junk.getMessage());
        }
    }

    /** Z_φ's own p̂ = clip(β·log Z, 0, 1), copies aside. */
    private static double[] pHat(PartitionFunction z, float[] rows) {
        return Arrays.stream(z.logZValues(rows, ROWS)).map(logZ -> TrajectoryBalanceLoss.accuracyEstimate(logZ, BETA)).toArray();
    }

    private static float[] rows(int count, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] rows = new float[count * WIDTH];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = (float) (random.nextDouble() * 4 - 2);
        }
        return rows;
    }
}
