package io.pacedrl.runner;

import ai.djl.ndarray.NDManager;
import io.pacedrl.learning.EmbeddingProbe;
import io.pacedrl.learning.HeldOutEvaluation;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.Torch;
import io.pacedrl.policy.Transformer;
import io.pacedrl.policy.Weights;
import io.pacedrl.tasks.Verifiers;
import io.pacedrl.topics.PluginOptions;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Scores a weights file on the held-out set as a run's final evaluation does ({@link HeldOutEvaluation}):
 * pass@k, avg@k and distinct correct answers from {@code final-samples} samples of each of the first
 * {@code eval-prompts} held-out prompts, with the run's sampling keys.
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Score any weights file (a warm start, a run's final.weights) on the held-out set: pass@k and avg@k.")
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--weights", required = true, paramLabel = "FILE", description = "The policy to score.")
    Path weights;

    @Option(names = "--config", paramLabel = "FILE", description = "YAML or JSON file of training keys (eval-prompts, final-samples, "
            + "temperature, max-new-tokens, seed).")
    Path configFile;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Set one training key; repeatable, after --config.")
    Map<String, String> set = new LinkedHashMap<>();

    @Mixin
    SuiteOptions suiteOptions;

    @Mixin
    PluginOptions plugins;

    @Option(names = "--dataset", paramLabel = "FILE", description = "Score on a JSONL dataset's held_out prompts instead of the suite's.")
    Path dataset;

    @Option(names = "--embedding-probe", paramLabel = "N", description = "Also sample probe-samples of N pool prompts, fit a linear "
            + "probe of accuracy on the embedding Z_φ reads (partition-embedding) on half of them and rank the other half: how much "
            + "the embedding tells about difficulty, beside the family-and-level reference fitted the same way.")
    Integer embeddingProbe;

    @Option(names = "--threads", defaultValue = "1", paramLabel = "N", description = "PyTorch threads (default: ${DEFAULT-VALUE}).")
    int threads;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (!Files.isRegularFile(weights)) {
            throw new ParameterException(spec.commandLine(), "--weights " + weights + ": no such file");
        }
        TrainingConfig config;
        PromptPool prompts;
        try {
            plugins.load();
            config = TrainingConfig.load(Map.of(), configFile, new LinkedHashMap<>(set));
            prompts = dataset != null ? PromptPool.read(dataset, 1) : PromptPool.of(suiteOptions.suite());
            if (embeddingProbe != null && (embeddingProbe < 4 || embeddingProbe > prompts.train().size())) {
                throw new IllegalArgumentException("--embedding-probe must be in [4, " + prompts.train().size() + "], got " + embeddingProbe);
            }
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        Torch.configure(threads);
        HeldOutEvaluation evaluation = new HeldOutEvaluation(config, prompts.train(), prompts.heldOut(), Verifiers.load());
        long started = System.nanoTime();
        HeldOutEvaluation.Final scored;
        EmbeddingProbe.Result probe = null;
        double scoredSeconds;
        double probeSeconds = 0;
        try (NDManager manager = NDManager.newBaseManager(); Transformer policy = Weights.load(manager, weights)) {
            scored = evaluation.finalEvaluation(policy);
            scoredSeconds = (System.nanoTime() - started) / 1e9;
            if (embeddingProbe != null) {
                probe = EmbeddingProbe.measure(policy, prompts.train(), embeddingProbe, config, Verifiers.load());
                probeSeconds = (System.nanoTime() - started) / 1e9 - scoredSeconds;
            }
        }
        List<String> passAtK = scored.passAtK().entrySet().stream().map(e -> String.format("%s %.3f", e.getKey(), e.getValue())).toList();
        out.printf("eval       %s on %d held-out prompts × %d samples (temperature %.2f, %d new tokens at most), %.0f s%n", weights,
                evaluation.heldOut().size(), config.finalSamples(), config.temperature(), config.maxNewTokens(), scoredSeconds);
        out.printf("scores     %s, avg@%d %.3f, distinct correct answers per solved prompt %.2f%n", String.join(", ", passAtK),
                config.finalSamples(), scored.averageAtK(), scored.distinctCorrect());
        if (probe != null) {
            out.printf("embedding  %d pool prompts × %d samples: mean accuracy %.3f, %.0f %% with 0 < p < 1, %.0f s%n", probe.prompts(),
                    config.probeSamples(), probe.meanAccuracy(), 100 * probe.shareWithSignal(), probeSeconds);
            out.printf("embedding  a linear probe of accuracy on the %s embedding, fitted on half, ranks the other half at Spearman "
                    + "%.2f; family and level alone %.2f%n", config.partitionEmbedding(), probe.spearman(), probe.levelSpearman());
        }
        return 0;
    }
}
