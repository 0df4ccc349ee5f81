package io.pacedrl.runner;

import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.WarmStart;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The options of the commands that train: the training keys (a file, then --set, then the
 * shortcuts) and π_ref.
 */
public final class TrainingOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--config", paramLabel = "FILE", description = "YAML or JSON file of training keys (their table: docs/method.md).")
    Path configFile;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Set one training key; repeatable, applied after --config.")
    Map<String, String> set = new LinkedHashMap<>();

    @Option(names = "--method", paramLabel = "NAME", description = "Shortcut for --set method=NAME: grpo, flowrl, paced, "
            + "paced-selection, paced-replay, dynamic-sampling.")
    String method;

    @Option(names = "--steps", paramLabel = "N", description = "Shortcut for --set steps=N.")
    Integer steps;

    @Option(names = "--seed", paramLabel = "N", description = "Shortcut for --set seed=N.")
    Long seed;

    @Option(names = "--weights", paramLabel = "FILE", description = "π_ref weights (a warm start's). Default: the default "
            + "warm start, trained now if it is not cached.")
    Path weights;

    @Mixin
    CacheOptions cache;

    /** The defaults, then the file, then --set, then the shortcut options; errors name the key. */
    TrainingConfig config() throws IOException {
        return config(Map.of());
    }

    /** As {@link #config()}, with the command's own defaults {@code base} before the file. */
    TrainingConfig config(Map<String, ?> base) throws IOException {
        Map<String, Object> keys = new LinkedHashMap<>(set);
        if (method != null) {
            keys.put("method", method);
        }
        if (steps != null) {
            keys.put("steps", steps);
        }
        if (seed != null) {
            keys.put("seed", seed);
        }
        try {
            return TrainingConfig.load(base, configFile, keys);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(command.commandLine(), e.getMessage());
        }
    }

    /** The given weights file, or the default warm start (cached, or trained now with a progress bar). */
    Path referenceWeights(PrintWriter out) throws IOException {
        return referenceWeights(out, WarmStart.Config.defaults());
    }

    /** The given weights file, or the warm start {@code warmStart} (cached, or trained now with a progress bar). */
    Path referenceWeights(PrintWriter out, WarmStart.Config warmStart) throws IOException {
        if (weights != null) {
            if (!Files.isRegularFile(weights)) {
                throw new ParameterException(command.commandLine(), "--weights " + weights + ": no such file");
            }
            return weights;
        }
        // The bar appears only if the warm start trains (a cached one reports no progress).
        ProgressBar[] bar = new ProgressBar[1];
        try {
            WarmStart.Result result = WarmStart.obtain(warmStart, cache.cacheDir, progress -> {
                if (bar[0] == null) {
                    bar[0] = ProgressBars.create("warm start", warmStart.steps());
                }
                bar[0].stepTo(progress.step());
            });
            out.printf("π_ref      %s (%s, held-out pass@1 %.3f)%n", result.weights(), result.cached() ? "cached" : "trained now",
                    result.report().heldOutPassAt1());
            return result.weights();
        } finally {
            if (bar[0] != null) {
                bar[0].close();
            }
        }
    }
}
