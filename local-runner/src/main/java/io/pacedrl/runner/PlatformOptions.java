package io.pacedrl.runner;

import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.topics.Topics;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The options of every command that uses Kafka: where the cluster and the registry are, where the run's files go. */
public final class PlatformOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT[,...]",
            description = "An external Kafka cluster. Default: start a KRaft broker in this process.")
    String bootstrapServers;

    @Option(names = "--schema-registry-url", paramLabel = "URL",
            description = "A Confluent-protocol schema registry for the external cluster (required with --bootstrap-servers).")
    String schemaRegistryUrl;

    @Mixin
    RunOptions run;

    @Option(names = "--topic-prefix", paramLabel = "PREFIX", defaultValue = "",
            description = "Prefix for every topic name, to keep runs apart on a shared cluster. Default: none.")
    String topicPrefix;

    /** Checks the options together, naming the one at fault. */
    void validate() {
        if (bootstrapServers != null && schemaRegistryUrl == null) {
            throw new ParameterException(command.commandLine(),
                    "--schema-registry-url is required with --bootstrap-servers (the registry of that cluster)");
        }
        if (bootstrapServers == null && schemaRegistryUrl != null) {
            throw new ParameterException(command.commandLine(),
                    "--schema-registry-url needs --bootstrap-servers; without both the embedded platform is used");
        }
        if (schemaRegistryUrl != null) {
            try {
                SchemaRegistryClient.parseUrl(schemaRegistryUrl);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(command.commandLine(), "--schema-registry-url: " + e.getMessage());
            }
        }
        try {
            Topics.checkPrefix(topicPrefix);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(command.commandLine(), "--topic-prefix: " + e.getMessage());
        }
    }

    Path runDir(String commandName) throws IOException {
        return run.runDir(commandName);
    }

    /** The run directory: --run-dir, or runs/&lt;command&gt;-&lt;id&gt;. */
    Path runDir(String commandName, String id) throws IOException {
        return run.runDir(commandName, id);
    }

    boolean embedded() {
        return bootstrapServers == null;
    }

    Path writeResults(String commandName, String fileName, Object results) throws IOException {
        return run.writeResults(commandName, fileName, results);
    }

    /** Opens the external platform named by the options, or starts the embedded one under the run directory. */
    Platform open(String commandName) throws Exception {
        validate();
        if (!embedded()) {
            return Platform.external(bootstrapServers, schemaRegistryUrl);
        }
        return Platform.embedded(runDir(commandName).resolve("kafka"));
    }
}
