package io.pacedrl.learning;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.pacedrl.policy.TokenLogProbs;
import org.junit.jupiter.api.Test;

class GrpoLossTest {

    /**
     * Two trajectories, lengths 2 and 1 (the third slot is padding). On-policy (ρ = 1) the
     * gradient of each token is −Â/3; where ρ has left [1−ε, 1+ε] in the advantage's direction
     * the clipped branch wins and the token gets none.
     */
    @Test
    void tokenMeanSurrogateWithClipping() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray mask = m.create(new float[] {1, 1, 0, 1, 0, 0}, new Shape(2, 3));
            float[] theta = {-1f, -2f, 0f, -0.5f, 0f, 0f};
            NDArray values = m.create(theta, new Shape(2, 3));
            values.setRequiresGradient(true);
            // Token 1 of row 0 moved up by 0.5 since sampling (ρ = e^0.5 > 1.2) with Â > 0: clipped.
            NDArray old = m.create(new float[] {-1f, -2.5f, 0f, -0.5f, 0f, 0f}, new Shape(2, 3));
            NDArray advantages = m.create(new float[] {0.6f, -1.2f});
            GrpoLoss loss = new GrpoLoss(0.2, 0);
            double value;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray l = loss.loss(new TokenLogProbs(values, mask), old, null, advantages);
                collector.backward(l);
                value = l.getFloat();
            }
            double expected = -(0.6 + 1.2 * 0.6 + (-1.2)) / 3;
            assertEquals(expected, value, 1e-6);
            assertArrayEquals(new float[] {-0.2f, 0f, 0f, 0.4f, 0f, 0f}, values.getGradient().toFloatArray(), 1e-6f);
        }
    }

    @Test
    void klTermIsZeroAtTheReferenceAndPositiveAway() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray mask = m.ones(new Shape(1, 2));
            NDArray theta = m.create(new float[] {-1f, -1f}, new Shape(1, 2));
            NDArray zero = m.zeros(new Shape(1));
            GrpoLoss withKl = new GrpoLoss(0.2, 0.5);
            assertEquals(0.0, withKl.loss(new TokenLogProbs(theta, mask), theta, theta, zero).getFloat(), 1e-7);
            // ref − θ = 1 on both tokens: k3 = e − 2 per token, times 0.5.
            NDArray ref = m.create(new float[] {0f, 0f}, new Shape(1, 2));
            assertEquals(0.5 * (Math.E - 2), withKl.loss(new TokenLogProbs(theta, mask), theta, ref, zero).getFloat(), 1e-6);
        }
    }
}
