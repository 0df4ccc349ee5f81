package io.pacedrl.policy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.List;

/**
 * One step of supervised fine-tuning: the mean negative log-likelihood of the response tokens
 * given their prompts (prompt tokens are context, not targets), backpropagated, then an AdamW
 * update.
 */
public final class SupervisedStep {
    private final Transformer model;
    private final AdamW optimizer;

    public SupervisedStep(Transformer model, AdamW optimizer) {
        this.model = model;
        this.optimizer = optimizer;
    }

    /** Trains on one batch at {@code learningRate}; returns the batch's mean token loss. */
    public float step(NDManager manager, List<int[]> prompts, List<int[]> responses, float learningRate) {
        float loss;
        try (NDManager scratch = manager.newSubManager()) {
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                TokenLogProbs logProbs = model.logProbs(scratch, prompts, responses, 1f, true);
                NDArray meanLoss = logProbs.values().sum().neg().div(logProbs.mask().sum());
                collector.backward(meanLoss);
                loss = meanLoss.getFloat();
            }
        }
        optimizer.step(learningRate);
        return loss;
    }

    /** Linear warm-up to the peak rate, then cosine decay to a tenth of it at {@code total}. */
    public static float learningRate(float peak, int step, int warmup, int total) {
        if (step < warmup) {
            return peak * (step + 1) / warmup;
        }
        double progress = Math.min(1.0, (step - warmup) / (double) Math.max(1, total - warmup));
        return (float) (peak * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress))));
    }
}
