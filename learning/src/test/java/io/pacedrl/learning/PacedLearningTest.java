package io.pacedrl.learning;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.policy.CharTokenizer;
import io.pacedrl.policy.Torch;
import io.pacedrl.policy.Transformer;
import io.pacedrl.policy.WarmStart;
import io.pacedrl.tasks.TaskSuite;
import io.pacedrl.tasks.Verifiers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * PACED-RL learns, on a small budget (about three and a half minutes on 2 cores, most of it the warm start and the evaluations): from a short warm start of
 * the default model on a 3,000-prompt suite, 100 synchronous steps raise held-out pass@1 above the
 * warm start's, and p̂ ranks pool prompts by the accuracy fresh samples then show.
 */
class PacedLearningTest {
    private static final TaskSuite.Config SUITE = new TaskSuite.Config(1, 3_000, 300, 0.5, 0.0);

    @TempDir
    Path dir;

    @Test
    void aShortRunRaisesHeldOutAccuracyAndPHatTracksObservedAccuracy() throws Exception {
        Torch.configure(2);
        WarmStart.Config warmStart = new WarmStart.Config(Transformer.Config.defaults(CharTokenizer.ASCII.vocabularySize()), SUITE,
                1200, 64, 1e-3f, 100, 1, 64, 2);
        byte[] weights = Files.readAllBytes(WarmStart.obtain(warmStart, dir, progress -> {}).weights());
        TaskSuite suite = TaskSuite.generate(SUITE);
        TrainingConfig config = TrainingConfig.defaults().with(Map.of("steps", 100, "eval-every", 40, "eval-prompts", 300,
                "eval-samples", 16, "final-samples", 2, "probe-prompts", 512, "probe-samples", 8));
        SyncTrainer.Report report;
        try (SyncTrainer trainer = new SyncTrainer(config, weights, suite.train(), suite.heldOut(), Verifiers.load())) {
            report = trainer.run(progress -> {});
        }
        List<SyncTrainer.EvalPoint> evaluations = report.evaluations();
        String curve = evaluations.toString();
        System.out.println("PACED-RL learning curve: " + curve);
        // 300 prompts × 16 samples, the same seed at every evaluation: a sampling standard error
        // of about 0.004 on the difference.
        double start = evaluations.get(0).passAt1();
        double end = evaluations.stream().filter(e -> e.step() == 80 || e.step() == 100).mapToDouble(SyncTrainer.EvalPoint::passAt1)
                .average().orElseThrow();
        assertTrue(end > start + 0.008, "held-out pass@1 " + start + " → " + end + ": " + curve);
        // Steps 40, 80 and 100, 512 probe prompts each: a single evaluation of a few hundred
        // prompts, most of them never solved, ranks them with much noise. (Evaluations every 40
        // steps and at the end: each costs about as much as 35 training steps.)
        double spearman = evaluations.stream().filter(e -> e.step() >= 40)
                .mapToDouble(SyncTrainer.EvalPoint::probeSpearman).average().orElseThrow();
        assertTrue(spearman > 0.3, "Spearman(p̂, probe accuracy) after warm-up " + spearman + ": " + curve);
        assertTrue(report.meanBetaKl() < 0.01, "β·KL stays small: " + report.meanBetaKl());
        assertTrue(report.meanSignalShare() > 0.5, "most scheduled groups carry a signal: " + report.meanSignalShare());
    }
}
