package io.pacedrl.learning;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.policy.CharTokenizer;
import io.pacedrl.policy.Torch;
import io.pacedrl.policy.Transformer;
import io.pacedrl.policy.WarmStart;
import io.pacedrl.tasks.TaskSuite;
import io.pacedrl.tasks.Verifiers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The trainer's mechanics on a tiny model: every method runs, counts and times what it did. */
class SyncTrainerTest {
    private static final TaskSuite.Config SUITE = new TaskSuite.Config(3, 400, 40, 0.5, 0.0);
    private static final WarmStart.Config TINY = new WarmStart.Config(
            new Transformer.Config(CharTokenizer.ASCII.vocabularySize(), 32, 2, 2, 48, 0f, true), SUITE, 60, 32, 3e-3f, 5, 7, 16, 2);

    @TempDir
    static Path dir;
    private static byte[] weights;
    private static TaskSuite suite;

    @BeforeAll
    static void warmStart() throws Exception {
        Torch.configure(2);
        weights = Files.readAllBytes(WarmStart.obtain(TINY, dir, progress -> {}).weights());
        suite = TaskSuite.generate(SUITE);
    }

    private static TrainingConfig small(Method method) {
        return TrainingConfig.defaults().with(Map.ofEntries(Map.entry("method", method.key()), Map.entry("steps", 3),
                Map.entry("prompts-per-step", 4), Map.entry("group-size", 4), Map.entry("replay-size", 4),
                Map.entry("max-new-tokens", 12), Map.entry("eval-every", 2), Map.entry("eval-prompts", 8),
                Map.entry("eval-samples", 2), Map.entry("final-samples", 4), Map.entry("probe-prompts", 8),
                Map.entry("estimator-warmup-steps", 1)));
    }

    @Test
    void everyMethodRunsAndReportsWhatItDid() {
        for (Method method : Method.values()) {
            TrainingConfig config = small(method);
            List<SyncTrainer.Progress> progress = new ArrayList<>();
            SyncTrainer.Report report;
            double[] pHat;
            double[] logZ;
            try (SyncTrainer trainer = new SyncTrainer(config, weights, suite.train(), suite.heldOut(), Verifiers.load())) {
                report = trainer.run(progress::add);
                pHat = trainer.accuracyEstimates();
                logZ = trainer.logPartition();
            }
            String name = method.key();
            assertEquals(3, report.history().size(), name);
            assertEquals(3, progress.get(2).step(), name);
            assertEquals(List.of(0, 2, 3), report.evaluations().stream().map(SyncTrainer.EvalPoint::step).toList(), name);
            long expected = method == Method.DYNAMIC_SAMPLING
                    ? report.history().stream().mapToLong(step -> step.samplingRounds()).sum() : 3 * 4 * 4;
            if (method == Method.DYNAMIC_SAMPLING) {
                // Each round draws at least one group of 4 rollouts; dropped groups still count as consumed.
                assertTrue(report.rollouts() >= 4 * expected, name + ": " + report.rollouts());
                report.history().forEach(step -> assertTrue(step.figures().groups() <= 4 && step.samplingRounds() <= 4));
            } else {
                assertEquals(expected, report.rollouts(), name);
                report.history().forEach(step -> assertEquals(4, step.figures().groups()));
            }
            double shares = report.timeShare().values().stream().mapToDouble(Double::doubleValue).sum();
            assertEquals(1.0, shares, 1e-9, name);
            assertEquals(List.of("pass@1", "pass@2", "pass@4"), List.copyOf(report.passAtK().keySet()), name);
            assertTrue(report.passAtK().get("pass@1") <= report.passAtK().get("pass@4"), name);
            assertTrue(Arrays.stream(pHat).allMatch(p -> p >= 0 && p <= 1), name);
            if (method.replay()) {
                assertEquals(0, report.history().get(0).figures().replayed(), name + ": the buffer starts empty");
            } else {
                report.history().forEach(step -> assertEquals(0, step.figures().replayed(), name));
            }
            if (method.estimatesAccuracy()) {
                assertTrue(Double.isFinite(report.history().get(0).figures().meanPHat()), name);
                // Compared before the clip: a tiny π_ref solves almost nothing, and p̂ may rightly be 0 for every prompt.
                assertTrue(Arrays.stream(logZ).distinct().count() > 1, name + ": Z_φ gives prompts different estimates");
            } else {
                assertTrue(Double.isNaN(report.probeSpearman()), name);
            }
        }
    }

    /**
     * p̂'s fit on the probe prompts is reported apart for those learned from and those never
     * scheduled: none are learned from before the first update, some after three on a pool of 12.
     */
    @Test
    void theEstimatorIsMeasuredOnProbePromptsLearnedFromAndNeverScheduledApart() {
        TrainingConfig config = small(Method.PACED_REPLAY).with(Map.of("probe-samples", 16));
        SyncTrainer.Report report;
        try (SyncTrainer trainer = new SyncTrainer(config, weights, suite.train().subList(0, 12), suite.heldOut(), Verifiers.load())) {
            report = trainer.run(p -> {});
        }
        SyncTrainer.EvalPoint first = report.evaluations().get(0);
        SyncTrainer.EvalPoint last = report.evaluations().get(report.evaluations().size() - 1);
        assertEquals(8, first.probe().prompts());
        assertEquals(0, first.probeScheduled().prompts());
        assertEquals(8, first.probeNeverScheduled().prompts());
        assertTrue(last.probeScheduled().prompts() > 0, last.toString());
        assertEquals(8, last.probeScheduled().prompts() + last.probeNeverScheduled().prompts());
        assertTrue(last.probe().calibrationError() >= 0 && last.probe().calibrationError() <= 1, last.toString());
        assertEquals(8, last.probeHeldOut().prompts(), "as many held-out probe prompts");
        assertTrue(last.probeHeldOut().calibrationError() >= 0 && last.probeHeldOut().calibrationError() <= 1, last.toString());
    }

    @Test
    void aRunIsReproducibleFromItsSeed() {
        TrainingConfig config = small(Method.PACED);
        String first;
        String second;
        try (SyncTrainer trainer = new SyncTrainer(config, weights, suite.train(), suite.heldOut(), Verifiers.load())) {
            trainer.run(p -> {});
            first = trainer.policy().checksum();
        }
        try (SyncTrainer trainer = new SyncTrainer(config, weights, suite.train(), suite.heldOut(), Verifiers.load())) {
            trainer.run(p -> {});
            second = trainer.policy().checksum();
        }
        assertEquals(first, second);
    }

    @Test
    void aForkThatChangesNothingReproducesTheNextStepBitForBitAndAChangedKeyDoesNot() {
        TrainingConfig config = small(Method.PACED);
        String whole;
        try (SyncTrainer trainer = new SyncTrainer(config, weights, suite.train(), suite.heldOut(), Verifiers.load())) {
            trainer.run(p -> {});
            whole = trainer.policy().checksum();
        }
        SyncTrainer.Snapshot atTwo;
        try (SyncTrainer parent = new SyncTrainer(config.with(Map.of("steps", 2)), weights, suite.train(), suite.heldOut(),
                Verifiers.load())) {
            atTwo = parent.snapshot(parent.run(p -> {}));
        }
        assertEquals(2, atTwo.step());
        assertEquals(2 * 4 * 4, atTwo.rollouts());
        try (SyncTrainer fork = new SyncTrainer(config, weights, suite.train(), suite.heldOut(), Verifiers.load())) {
            SyncTrainer.Report report = fork.run(atTwo, p -> {});
            assertEquals(List.of(3), report.history().stream().map(SyncTrainer.StepRecord::step).toList());
            assertEquals(3 * 4 * 4, report.rollouts());
            assertEquals(whole, fork.policy().checksum(), "step 3 from the state after step 2 is the whole run's step 3");
        }
        try (SyncTrainer fork = new SyncTrainer(config.with(Map.of("policy-learning-rate", 1e-3)), weights, suite.train(), suite.heldOut(),
                Verifiers.load())) {
            fork.run(atTwo, p -> {});
            assertNotEquals(whole, fork.policy().checksum(), "another learning rate, another step 3");
        }
    }

    @Test
    void badKeysAreNamed() {
        TrainingConfig defaults = TrainingConfig.defaults();
        assertEquals("unknown method 'ppo'; one of " + Method.keys(),
                assertThrows(IllegalArgumentException.class, () -> defaults.with(Map.of("method", "ppo"))).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> defaults.with(Map.of("replay-sise", 3))).getMessage()
                .startsWith("unknown training key 'replay-sise'"));
        assertEquals("tau must be in [0.0, 1.0], got 1.5",
                assertThrows(IllegalArgumentException.class, () -> defaults.with(Map.of("tau", 1.5))).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> defaults.with(Map.of("steps", "many"))).getMessage()
                .startsWith("training key 'steps'"));
        assertEquals("prompts-per-step must be ≥ 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> defaults.with(Map.of("prompts-per-step", 0))).getMessage());
        assertEquals(defaults, defaults.with(defaults.asKeys()), "every key round-trips");
    }
}
