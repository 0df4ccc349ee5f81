package io.pacedrl.runner;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.topics.Topics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The options every command shares: where Kafka and the registry are, where the run's files go. */
public final class PlatformOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT[,...]",
            description = "An external Kafka cluster. Default: start a KRaft broker in this process.")
    String bootstrapServers;

    @Option(names = "--schema-registry-url", paramLabel = "URL",
            description = "A Confluent-protocol schema registry for the external cluster (required with --bootstrap-servers).")
    String schemaRegistryUrl;

    @Option(names = "--run-dir", paramLabel = "DIR",
            description = "Directory for the run's files (broker data, results). Default: runs/<command>-<time>.")
    Path runDir;

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

    /** The run directory (given, or runs/&lt;command&gt;-&lt;time&gt;), created if it does not exist. */
    Path runDir(String commandName) throws IOException {
        if (runDir == null) {
            runDir = Path.of("runs", commandName + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        }
        return Files.createDirectories(runDir);
    }

    /** Writes a command's results as indented JSON into the run directory and returns the file. */
    Path writeResults(String commandName, String fileName, Object results) throws IOException {
        Path file = runDir(commandName).resolve(fileName);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), results);
        return file;
    }

    /** Opens the external platform named by the options, or starts the embedded one under the run directory. */
    Platform open(String commandName) throws Exception {
        validate();
        if (bootstrapServers != null) {
            return Platform.external(bootstrapServers, schemaRegistryUrl);
        }
        return Platform.embedded(runDir(commandName).resolve("kafka"));
    }
}
