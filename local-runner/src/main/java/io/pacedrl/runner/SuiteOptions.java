package io.pacedrl.runner;

import io.pacedrl.tasks.TaskSuite;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The task suite of the commands that run the whole pipeline: the default suite with its training pool sized. */
public final class SuiteOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--pool-size", defaultValue = "4000", paramLabel = "N",
            description = "Training prompts of the run's task suite (the default suite's seed and mix, 1,000 held out; "
                    + "default: ${DEFAULT-VALUE}).")
    int poolSize;

    /**
     * The default suite's seed, mix and held-out size, with {@code --pool-size} training prompts. A
     * smaller suite is richer in first-level prompts (they have few distinct texts and come early in
     * the stream), held-out and pool alike.
     */
    TaskSuite suite() {
        if (poolSize < 1) {
            throw new ParameterException(command.commandLine(), "--pool-size must be ≥ 1, got " + poolSize);
        }
        TaskSuite.Config defaults = TaskSuite.Config.DEFAULT;
        return TaskSuite.generate(defaults.withTrainSize(poolSize));
    }
}
