package io.pacedrl.runner;

import io.pacedrl.registry.ClientOptions;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.topics.ClusterCheck;
import io.pacedrl.topics.Topics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The options of every command that uses Kafka: where the cluster and the registry are, where the run's files go. */
public final class PlatformOptions {
    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT[,...]", defaultValue = "${env:PACED_RL_BOOTSTRAP_SERVERS}",
            description = "An external Kafka cluster. Default: start a KRaft broker in this process. Env: PACED_RL_BOOTSTRAP_SERVERS.")
    String bootstrapServers;

    @Option(names = "--schema-registry-url", paramLabel = "URL", defaultValue = "${env:PACED_RL_SCHEMA_REGISTRY_URL}",
            description = "A Confluent-protocol schema registry for the external cluster (required with --bootstrap-servers). "
                    + "Env: PACED_RL_SCHEMA_REGISTRY_URL.")
    String schemaRegistryUrl;

    @Mixin
    ClientOptions client;

    @Mixin
    RunOptions run;

    @Option(names = "--topic-prefix", paramLabel = "PREFIX", defaultValue = "${env:PACED_RL_TOPIC_PREFIX:-}",
            description = "Prefix for every topic name, to keep runs apart on a shared cluster. Default: none. Env: PACED_RL_TOPIC_PREFIX.")
    String topicPrefix;

    @Option(names = ClusterCheck.WAIT_OPTION, defaultValue = "${env:PACED_RL_CLUSTER_WAIT:-10}", paramLabel = "SECONDS",
            description = "How long an external cluster and its registry have to answer at start-up (default: ${DEFAULT-VALUE}). "
                    + "Env: PACED_RL_CLUSTER_WAIT.")
    int clusterWaitSeconds;

    /** Checks the options together, naming the one at fault. */
    void validate() {
        if (clusterWaitSeconds < 1) {
            throw new ParameterException(command.commandLine(), ClusterCheck.WAIT_OPTION + " must be ≥ 1 second, got " + clusterWaitSeconds);
        }
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
        try {
            client.apply();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(command.commandLine(), e.getMessage());
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

    /**
     * The cluster that holds a recorded run: the external one, or the embedded broker started over
     * the data an earlier command left in {@code --run-dir} (DIR/kafka).
     */
    Platform openRecorded() throws Exception {
        validate();
        if (!embedded()) {
            return external();
        }
        if (run.runDir == null || !Files.isDirectory(run.runDir.resolve("kafka"))) {
            throw new ParameterException(command.commandLine(), "--run-dir must name a run's directory holding its embedded broker's "
                    + "data (DIR/kafka), or --bootstrap-servers the cluster it ran on");
        }
        return Platform.embedded(run.runDir.resolve("kafka"));
    }

    /**
     * The topic prefix of run {@code runId} on {@code platform}, or of the only run recorded there
     * when {@code runId} is null; an error, listing the runs, otherwise.
     */
    String recordedRun(Platform platform, String runId) throws Exception {
        List<String> runs = platform.recordedRuns(topicPrefix);
        if (runId != null) {
            String prefix = topicPrefix + runId + ".";
            if (!runs.contains(prefix)) {
                throw new ParameterException(command.commandLine(), "no run '" + runId + "' is recorded on " + platform.bootstrapServers()
                        + (runs.isEmpty() ? "" : "; recorded: " + String.join(", ", strip(runs))));
            }
            return prefix;
        }
        if (runs.size() != 1) {
            throw new ParameterException(command.commandLine(), runs.isEmpty() ? "no run is recorded on " + platform.bootstrapServers()
                    : "several runs are recorded on " + platform.bootstrapServers() + "; name one with --run-id: "
                    + String.join(", ", strip(runs)));
        }
        return runs.get(0);
    }

    private List<String> strip(List<String> prefixes) {
        return prefixes.stream().map(p -> p.substring(topicPrefix.length(), p.length() - 1)).toList();
    }

    /** The external cluster, once a broker and the registry have answered. */
    private Platform external() {
        ClusterCheck.require(bootstrapServers, schemaRegistryUrl, Duration.ofSeconds(clusterWaitSeconds));
        return Platform.external(bootstrapServers, schemaRegistryUrl);
    }

    /** Opens the external platform named by the options, or starts the embedded one under the run directory. */
    Platform open(String commandName) throws Exception {
        validate(); // before the run directory is made
        return openAt(embedded() ? runDir(commandName) : null);
    }

    /** Opens the external platform named by the options, or starts the embedded one in {@code runDir}. */
    Platform openAt(Path runDir) throws Exception {
        validate();
        if (!embedded()) {
            return external();
        }
        return Platform.embedded(runDir.resolve("kafka"));
    }
}
