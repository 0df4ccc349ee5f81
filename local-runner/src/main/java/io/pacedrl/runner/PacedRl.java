package io.pacedrl.runner;

import io.pacedrl.embedded.SchemaRegistryServer;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The command line: {@code paced-rl <command>}. */
@Command(name = "paced-rl", mixinStandardHelpOptions = true, version = "paced-rl 0.1.0",
        description = "PACED-RL on Kafka: RL post-training of language models as an event-streaming pipeline.",
        subcommands = {DemoCommand.class, BenchCommand.class, SchemaRegistryServer.Main.class})
public final class PacedRl {
    private PacedRl() {}

    public static CommandLine commandLine() {
        return new CommandLine(new PacedRl());
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
