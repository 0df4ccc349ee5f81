package io.pacedrl.runner;

import io.pacedrl.policy.Torch;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The PyTorch engine's threads, for every command that runs tensors. */
public final class EngineOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--threads", paramLabel = "N", description = "PyTorch intra-op threads (default: the available cores).")
    int threads = Runtime.getRuntime().availableProcessors();

    /** Configures and loads the engine; call before the first array is made. */
    void startEngine() {
        if (threads < 1) {
            throw new ParameterException(command.commandLine(), "--threads must be ≥ 1, got " + threads);
        }
        Torch.configure(threads);
    }
}
