package io.pacedrl.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.tasks.TaskSuite;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WarmStartTest {
    /** Small enough to train in seconds; dropout on, so its random masks must be seeded too. */
    private static final WarmStart.Config TINY = new WarmStart.Config(
            new Transformer.Config(CharTokenizer.ASCII.vocabularySize(), 32, 2, 2, 48, 0.1f, true),
            new TaskSuite.Config(3, 300, 50, 0.5, 0.0), 40, 16, 3e-3f, 5, 7, 20, 2);

    @TempDir
    Path dir;

    @BeforeAll
    static void engine() {
        Torch.configure(1);
    }

    @Test
    void twoRunsWithOneSeedGiveIdenticalWeights() throws Exception {
        WarmStart.Result first = WarmStart.obtain(TINY, dir.resolve("a"), progress -> {});
        WarmStart.Result second = WarmStart.obtain(TINY, dir.resolve("b"), progress -> {});
        assertFalse(first.cached() || second.cached());
        assertArrayEquals(Files.readAllBytes(first.weights()), Files.readAllBytes(second.weights()));
        assertEquals(first.report().checksum(), second.report().checksum());

        WarmStart.Config otherSeed = new WarmStart.Config(TINY.model(), TINY.suite(), TINY.steps(), TINY.batchSize(),
                TINY.learningRate(), TINY.warmupSteps(), 8, TINY.evalPoolPrompts(), TINY.samplesPerPrompt());
        assertNotEquals(first.report().checksum(), WarmStart.obtain(otherSeed, dir.resolve("c"), progress -> {}).report().checksum());
    }

    @Test
    void aSecondRunLoadsTheCachedWeightsAndReport() throws Exception {
        List<WarmStart.Progress> progress = new java.util.ArrayList<>();
        WarmStart.Result trained = WarmStart.obtain(TINY, dir, progress::add);
        assertEquals(TINY.steps(), progress.get(progress.size() - 1).step());
        WarmStart.Result cached = WarmStart.obtain(TINY, dir, p -> {
            throw new AssertionError("a cached warm start trains nothing");
        });
        assertTrue(cached.cached());
        assertEquals(trained.weights(), cached.weights());
        assertEquals(trained.report().checksum(), cached.report().checksum());
        assertArrayEquals(trained.report().poolHistogram(), cached.report().poolHistogram());
        try (ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager();
             Transformer model = Weights.load(manager, cached.weights())) {
            assertEquals(cached.report().checksum(), model.checksum());
        }

        // A changed file is not trusted: the warm start is trained again.
        Files.write(trained.weights(), new byte[] {1, 2, 3});
        assertFalse(WarmStart.obtain(TINY, dir, p -> {}).cached());
    }

    @Test
    void theReportCoversTrainingAndEvaluation() throws Exception {
        WarmStart.Report report = WarmStart.obtain(TINY, dir, progress -> {}).report();
        List<double[]> curve = report.lossCurve();
        assertTrue(curve.get(curve.size() - 1)[1] < curve.get(0)[1], "the loss falls");
        assertEquals(TINY.evalPoolPrompts(), Arrays.stream(report.poolHistogram()).sum());
        assertEquals(TINY.samplesPerPrompt() + 1, report.poolHistogram().length);
        assertTrue(report.heldOutPassAt1() >= 0 && report.heldOutPassAt1() <= 1);
        List<String> levels = TaskSuite.generate(TINY.suite()).heldOut().stream()
                .map(p -> p.family() + "/" + p.difficulty()).distinct().sorted().toList();
        assertTrue(levels.size() >= 5, "the held-out set spans the levels: " + levels);
        assertEquals(levels, List.copyOf(report.heldOutByLevel().keySet()));
    }
}
