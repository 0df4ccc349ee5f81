package io.pacedrl.runner;

import io.pacedrl.difficulty.DifficultyStream;
import io.pacedrl.embedded.SchemaRegistryServer;
import io.pacedrl.generator.GeneratorService;
import io.pacedrl.learner.LearnerService;
import io.pacedrl.reward.RewardService;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/** The command line: {@code paced-rl <command>}. */
@Command(name = "paced-rl", mixinStandardHelpOptions = true, versionProvider = BuildInfo.class,
        description = "PACED-RL on Kafka: RL post-training of language models as an event-streaming pipeline.",
        subcommands = {TrainCommand.class, PoolCommand.class, EvalCommand.class, DashboardCommand.class, ReproduceCommand.class, ForkCommand.class, ChaosCommand.class, ExportCommand.class, ImportCommand.class, CompareCommand.class, DemoCommand.class, WarmStartCommand.class, SyncTrainCommand.class, BenchCommand.class,
                SchemaRegistryServer.Main.class, DifficultyStream.Main.class, GeneratorService.Main.class, RewardService.Main.class,
                LearnerService.Main.class})
public final class PacedRl {
    /** slf4j-simple's default level, read when the first logger is made: before that, from --log-level. */
    static final String LOG_LEVEL_PROPERTY = "org.slf4j.simpleLogger.defaultLogLevel";
    private static final List<String> LEVELS = List.of("error", "warn", "info", "debug", "trace");

    @Option(names = "--log-level", scope = ScopeType.INHERIT, paramLabel = "LEVEL", defaultValue = "${env:PACED_RL_LOG_LEVEL:-warn}",
            description = "Log level: error, warn, info, debug or trace (default: ${DEFAULT-VALUE}). Env: PACED_RL_LOG_LEVEL.")
    void logLevel(String level) {
        if (!LEVELS.contains(level.toLowerCase(Locale.ROOT))) {
            throw new ParameterException(spec.commandLine(), "--log-level " + level + ": one of " + String.join(", ", LEVELS));
        }
    }

    @Spec
    CommandSpec spec;

    private PacedRl() {}

    /**
     * The command line. A command that fails reports what went wrong in one line on stderr (the
     * stack trace goes to the log at debug level) and exits with 1; bad options exit with 2.
     */
    public static CommandLine commandLine() {
        CommandLine commandLine = new CommandLine(new PacedRl());
        // Every command, the services' included, answers --version with this build's.
        commandLine.getSubcommands().values().forEach(sub -> sub.getCommandSpec().versionProvider(new BuildInfo()));
        commandLine.setExecutionExceptionHandler((e, failed, parseResult) -> {
            LoggerFactory.getLogger(PacedRl.class).debug("{} failed", failed.getCommandName(), e);
            failed.getErr().println("paced-rl " + failed.getCommandName() + ": " + describe(e));
            failed.getErr().flush();
            return 1;
        });
        return commandLine;
    }

    /**
     * The level --log-level (or PACED_RL_LOG_LEVEL) asks for, read before the command line is parsed:
     * loggers take their level when they are made, which can be while the command is built.
     */
    static Optional<String> logLevel(String[] args) {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--log-level") && i + 1 < args.length) {
                return Optional.of(args[i + 1]);
            }
            if (args[i].startsWith("--log-level=")) {
                return Optional.of(args[i].substring("--log-level=".length()));
            }
        }
        return Optional.ofNullable(System.getenv("PACED_RL_LOG_LEVEL"));
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
        logLevel(args).ifPresent(level -> System.setProperty(LOG_LEVEL_PROPERTY, level.toLowerCase(Locale.ROOT)));
        CommandLine commandLine = commandLine();
        if (args.length == 0) {
            commandLine.usage(System.out);
            System.exit(2);
        }
        System.exit(commandLine.execute(args));
    }
}
