package io.pacedrl.topics;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** The command-line options of the services that read the run's training keys and write run events. */
public final class ServiceConfigOptions {
    @Option(names = "--config", paramLabel = "FILE", defaultValue = "${env:PACED_RL_CONFIG}",
            description = "YAML or JSON file of training keys (the same file for every service). Env: PACED_RL_CONFIG.")
    public Path configFile;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Set one training key; repeatable, after --config.")
    public Map<String, String> set = new LinkedHashMap<>();

    @Option(names = "--run-id", paramLabel = "ID", description = "Run id on run events. Default: from the prefix.")
    public String runId;

    /** The run id given, or the default for the topic prefix. */
    public String runId(String topicPrefix) {
        return runId != null ? runId : defaultRunId(topicPrefix);
    }

    /** A run id made from the topic prefix (its trailing separators dropped), or "run" without one. */
    public static String defaultRunId(String topicPrefix) {
        return topicPrefix.isEmpty() ? "run" : topicPrefix.replaceAll("[._-]+$", "");
    }
}
