package io.pacedrl.policy;

import ai.djl.engine.Engine;

/** Start-up settings for the PyTorch engine, applied before it first loads. */
public final class Torch {
    private Torch() {}

    /**
     * Runs offline (the native library comes from the Maven jar; nothing is downloaded) with
     * {@code threads} intra-op threads and one inter-op thread. Services that share a few cores
     * should use 1: PyTorch's spinning threads otherwise slow every step several-fold. A value
     * already given as a system property wins.
     */
    public static Engine configure(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be ≥ 1, got " + threads);
        }
        System.setProperty("ai.djl.offline", "true");
        setIfAbsent("ai.djl.pytorch.num_threads", Integer.toString(threads));
        setIfAbsent("ai.djl.pytorch.num_interop_threads", "1");
        return Engine.getEngine("PyTorch");
    }

    /** The intra-op threads the engine runs (or will run) with in this process: the first setting wins. */
    public static int threads() {
        return Integer.parseInt(System.getProperty("ai.djl.pytorch.num_threads", Integer.toString(Runtime.getRuntime().availableProcessors())));
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }
}
