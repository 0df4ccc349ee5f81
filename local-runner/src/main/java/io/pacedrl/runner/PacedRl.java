package io.pacedrl.runner;

import io.pacedrl.difficulty.DifficultyStream;
import io.pacedrl.embedded.SchemaRegistryServer;
import io.pacedrl.generator.GeneratorService;
import io.pacedrl.learner.LearnerService;
import io.pacedrl.reward.RewardService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The command line: {@code paced-rl <command>}. */
@Command(name = "paced-rl", mixinStandardHelpOptions = true, version = "paced-rl 0.1.0",
        description = "PACED-RL on Kafka: RL post-training of language models as an event-streaming pipeline.",
        subcommands = {TrainCommand.class, PoolCommand.class, ReproduceCommand.class, ChaosCommand.class, ExportCommand.class, ImportCommand.class, CompareCommand.class, DemoCommand.class, WarmStartCommand.class, SyncTrainCommand.class, BenchCommand.class,
                SchemaRegistryServer.Main.class, DifficultyStream.Main.class, GeneratorService.Main.class, RewardService.Main.class,
                LearnerService.Main.class})
public final class PacedRl {
    private static final Logger log = LoggerFactory.getLogger(PacedRl.class);

    private PacedRl() {}

    /**
     * The command line. A command that fails reports what went wrong in one line on stderr (the
     * stack trace goes to the log at debug level) and exits with 1; bad options exit with 2.
     */
    public static CommandLine commandLine() {
        CommandLine commandLine = new CommandLine(new PacedRl());
        commandLine.setExecutionExceptionHandler((e, failed, parseResult) -> {
            log.debug("{} failed", failed.getCommandName(), e);
            failed.getErr().println("paced-rl " + failed.getCommandName() + ": " + describe(e));
            failed.getErr().flush();
            return 1;
        });
        return commandLine;
    }

    /** The exception's message and the distinct messages of its causes. */
    static String describe(Throwable e) {
        StringBuilder text = new StringBuilder(String.valueOf(e.getMessage()));
        for (Throwable cause = e.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
            if (cause.getMessage() != null && !text.toString().contains(cause.getMessage())) {
                text.append(": ").append(cause.getMessage());
            }
        }
        return text.toString();
    }

    public static void main(String[] args) {
        CommandLine commandLine = commandLine();
        if (args.length == 0) {
            commandLine.usage(System.out);
            System.exit(2);
        }
        System.exit(commandLine.execute(args));
    }
}
