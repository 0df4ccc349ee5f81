package io.pacedrl.runner;

import ai.djl.ndarray.NDManager;
import io.pacedrl.policy.ModelBenchmark;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The policy model against the machine's roofline: training and sampling throughput, with and
 * without the KV cache, each as achieved GFLOP/s and as a share of a matmul measured in the same
 * process.
 */
@Command(name = "model", mixinStandardHelpOptions = true,
        description = "Training and sampling throughput of the policy model against a matmul roofline measured in the same process.")
final class ModelBenchmarkCommand implements Callable<Integer> {
    @Mixin
    ModelOptions model;

    @Mixin
    RunOptions run;

    @Option(names = "--train-batch", paramLabel = "N", description = "Sequences per training step (default: ${DEFAULT-VALUE}).")
    int trainBatch = 128;

    @Option(names = "--train-steps", paramLabel = "N", description = "Timed training steps (default: ${DEFAULT-VALUE}).")
    int trainSteps = 40;

    @Option(names = "--sample-batch", paramLabel = "N", description = "Rows sampled at once (default: ${DEFAULT-VALUE}).")
    int sampleBatch = 256;

    @Option(names = "--new-tokens", paramLabel = "N", description = "Tokens sampled per row (default: ${DEFAULT-VALUE}).")
    int newTokens = 32;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        model.startEngine();
        ModelBenchmark.Config config = new ModelBenchmark.Config(model.config(), trainBatch, trainSteps, sampleBatch, newTokens, 1);
        out.printf("model benchmark: %s, %,d parameters, %d threads%n", config.model(), config.model().parameterCount(), model.engine.threads);
        out.flush();
        ModelBenchmark.Result r;
        try (NDManager manager = NDManager.newBaseManager()) {
            r = ModelBenchmark.run(manager, config, stage -> {
                out.printf("  measuring %s...%n", stage);
                out.flush();
            });
        }
        out.printf("matmul roofline     %7.1f GFLOP/s (%d×%d float32, best of several)%n", r.matmulGflops(), r.matmulSize(), r.matmulSize());
        out.printf("training            %,9.0f tokens/s  %7.1f GFLOP/s  %4.0f%% of roofline (batch %d)%n",
                r.trainTokensPerSecond(), r.trainGflops(), 100 * r.trainRooflineShare(), trainBatch);
        out.printf("sampling, KV cache  %,9.0f tokens/s  %7.1f GFLOP/s  %4.0f%% of roofline (batch %d, %d new tokens)%n",
                r.sampleTokensPerSecondCached(), r.sampleGflopsCached(), 100 * r.sampleRooflineShare(), sampleBatch, newTokens);
        out.printf("sampling, no cache  %,9.0f tokens/s  (the cache is %.1f× faster)%n",
                r.sampleTokensPerSecondRecomputed(), r.cacheSpeedup());
        Map<String, Object> results = new LinkedHashMap<>();
        results.put("config", config);
        results.put("threads", model.engine.threads);
        results.put("result", r);
        out.printf("figures             %s%n", run.writeResults("bench-model", "bench-model.json", results));
        return 0;
    }
}
