package io.pacedrl.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.pacedrl.tasks.TaskSuite;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class AdamWTest {
    @BeforeAll
    static void engine() {
        Torch.configure(1);
    }

    @Test
    void trainingAndSamplingLeaveNoArraysBehind() {
        try (NDManager manager = NDManager.newBaseManager();
             Transformer model = new Transformer(manager, new Transformer.Config(99, 32, 2, 2, 48, 0.1f, true), CharTokenizer.ASCII, 1);
             AdamW optimizer = new AdamW(model.parameters(), AdamW.Config.DEFAULT)) {
            SupervisedStep training = new SupervisedStep(model, optimizer);
            DemonstrationBatches batches = new DemonstrationBatches(
                    TaskSuite.generate(new TaskSuite.Config(1, 10, 10, 0.5, 0.0)).demonstrations(2), CharTokenizer.ASCII, 8, 2, 1);
            DemonstrationBatches.Batch first = batches.next();
            training.step(manager, first.prompts(), first.responses(), 1e-3f);
            model.sample(first.prompts(), new Transformer.SamplingConfig(1f, 0.9f, 8), 1);
            int arrays = manager.getManagedArrays().size();
            float firstLoss = Float.NaN;
            float loss = Float.NaN;
            for (int step = 0; step < 30; step++) {
                loss = training.step(manager, first.prompts(), first.responses(), 3e-3f);
                firstLoss = step == 0 ? loss : firstLoss;
                model.sample(first.prompts(), new Transformer.SamplingConfig(1f, 0.9f, 8), step);
            }
            assertEquals(arrays, manager.getManagedArrays().size(), "arrays alive after 30 more steps");
            assertEquals(31, optimizer.steps());
            assertTrue(loss < firstLoss / 2, "a repeated batch is learned: " + firstLoss + " → " + loss);
        }
    }

    @Test
    void theLearningRateWarmsUpThenDecaysToATenth() {
        assertEquals(0.1f, SupervisedStep.learningRate(1f, 0, 10, 100), 1e-6);
        assertEquals(1f, SupervisedStep.learningRate(1f, 9, 10, 100), 1e-6);
        assertEquals(0.55f, SupervisedStep.learningRate(1f, 55, 10, 100), 1e-6);
        assertEquals(0.1f, SupervisedStep.learningRate(1f, 100, 10, 100), 1e-6);
        assertTrue(List.of(20, 40, 60, 80).stream().map(s -> SupervisedStep.learningRate(1f, s, 10, 100))
                .reduce((a, b) -> { assertTrue(b < a); return b; }).isPresent());
    }
}
