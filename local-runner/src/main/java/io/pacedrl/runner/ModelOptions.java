package io.pacedrl.runner;

import io.pacedrl.policy.CharTokenizer;
import io.pacedrl.policy.Transformer;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The policy's architecture and the engine's threads, for every command that runs the model. */
public final class ModelOptions {
    private static final Transformer.Config DEFAULTS = Transformer.Config.defaults(CharTokenizer.ASCII.vocabularySize());

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--d-model", paramLabel = "N", description = "Width of the residual stream (default: 128).")
    int dModel = DEFAULTS.dModel();

    @Option(names = "--layers", paramLabel = "N", description = "Transformer blocks (default: 4).")
    int layers = DEFAULTS.layers();

    @Option(names = "--heads", paramLabel = "N", description = "Attention heads; must divide --d-model (default: 4).")
    int heads = DEFAULTS.heads();

    @Option(names = "--context", paramLabel = "N", description = "Longest sequence, prompt and response together (default: 64).")
    int context = DEFAULTS.context();

    @Option(names = "--dropout", paramLabel = "RATE", description = "Dropout while training (default: 0).")
    float dropout = DEFAULTS.dropout();

    @Option(names = "--untied-head", description = "Give the output head its own weights instead of the token embedding's.")
    boolean untiedHead = !DEFAULTS.tiedHead();

    @Mixin
    EngineOptions engine;

    /** The architecture, or an error naming the option at fault. */
    Transformer.Config config() {
        try {
            return new Transformer.Config(CharTokenizer.ASCII.vocabularySize(), dModel, layers, heads, context, dropout, !untiedHead);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(command.commandLine(), "model options: " + e.getMessage());
        }
    }

    /** Configures and loads the engine; call before the first model is made. */
    void startEngine() {
        engine.startEngine();
    }
}
