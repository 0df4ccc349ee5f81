package io.pacedrl.runner;

import java.time.Duration;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** How {@code train} and {@code fork} run a run's services: lock-step or not, how many generators, when to give up. */
public final class PipelineOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--sync", description = "Lock-step: the scheduler's look-ahead is 1, so generators wait for every update "
            + "(the same services and work, synchronous).")
    boolean sync;

    @Option(names = "--generators", defaultValue = "1", paramLabel = "N", description = "Generator instances (default: ${DEFAULT-VALUE}).")
    int generators;

    @Option(names = "--stall-seconds", defaultValue = "300", paramLabel = "S",
            description = "Stop with an error if no update arrives for this long (default: ${DEFAULT-VALUE}).")
    int stallSeconds;

    /** Checks the options, naming the one at fault. */
    void validate() {
        if (generators < 1) {
            throw new ParameterException(command.commandLine(), "--generators must be ≥ 1, got " + generators);
        }
    }

    Duration stall() {
        return Duration.ofSeconds(stallSeconds);
    }
}
