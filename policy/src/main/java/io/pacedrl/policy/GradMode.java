package io.pacedrl.policy;

import ai.djl.pytorch.jni.JniUtils;

/**
 * Turns PyTorch's gradient recording off for a scope and restores it after. Recording is a
 * per-thread setting that is on by default in a new thread; inference (sampling, embeddings) and
 * in-place weight updates must run with it off, or every op is kept for a backward pass that
 * never comes (and in-place writes to parameters are refused).
 */
public final class GradMode implements AutoCloseable {
    private final boolean previous;

    private GradMode() {
        previous = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
    }

    public static GradMode off() {
        return new GradMode();
    }

    @Override
    public void close() {
        JniUtils.setGradMode(previous);
    }
}
