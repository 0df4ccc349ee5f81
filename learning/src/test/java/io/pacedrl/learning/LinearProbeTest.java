package io.pacedrl.learning;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.policy.Torch;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LinearProbeTest {
    @BeforeAll
    static void engine() {
        Torch.configure(1);
    }

    /** Rows of width 3: a column that matters on a scale of 1,000, one that matters on 0.001, and noise. */
    private static float[] rows(SplittableRandom random, int n) {
        float[] rows = new float[n * 3];
        for (int i = 0; i < n; i++) {
            rows[i * 3] = (float) (1000 * random.nextGaussian());
            rows[i * 3 + 1] = (float) (0.001 * random.nextGaussian());
            rows[i * 3 + 2] = (float) random.nextGaussian();
        }
        return rows;
    }

    private static double[] targets(float[] rows) {
        double[] y = new double[rows.length / 3];
        for (int i = 0; i < y.length; i++) {
            y[i] = 0.5 + 0.0001 * rows[i * 3] - 100 * rows[i * 3 + 1];
        }
        return y;
    }

    @Test
    void aLinearTargetIsRecoveredWhateverTheColumnsScaleAndRanksUnseenRows() {
        SplittableRandom random = new SplittableRandom(3);
        float[] fitted = rows(random, 400);
        LinearProbe probe = LinearProbe.fit(fitted, 3, targets(fitted), 1e-6);
        float[] unseen = rows(random, 200);
        double[] predicted = probe.predict(unseen);
        double[] truth = targets(unseen);
        for (int i = 0; i < truth.length; i++) {
            assertEquals(truth[i], predicted[i], 1e-3, "row " + i);
        }
        // A strong ridge shrinks towards the mean but keeps the order.
        LinearProbe shrunk = LinearProbe.fit(fitted, 3, targets(fitted), 1e4);
        double[] shrunkPrediction = shrunk.predict(unseen);
        assertTrue(RunMetrics.spearman(shrunkPrediction, truth) > 0.99);
        double spread = Arrays.stream(shrunkPrediction).map(p -> Math.abs(p - 0.5)).max().orElseThrow();
        assertTrue(spread < Arrays.stream(truth).map(t -> Math.abs(t - 0.5)).max().orElseThrow() / 2, "shrunk: " + spread);
    }

    @Test
    void rowsThatDoNotFitTheWidthAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> LinearProbe.fit(new float[7], 3, new double[2], 1));
    }

    @Test
    void theLevelReferenceFittedOnSomePromptsPredictsOthersByTheirStratum() {
        double[] predicted = HeldOutEvaluation.levelPrediction(List.of("a/1", "a/1", "b/2"), new double[] {0.2, 0.4, 0.9},
                List.of("b/2", "a/1", "c/3"));
        assertEquals(0.9, predicted[0], 1e-12);
        assertEquals(0.3, predicted[1], 1e-12);
        assertEquals(0.5, predicted[2], 1e-12, "a stratum never fitted gets the fitted prompts' mean");
    }
}
