package io.pacedrl.topics;

import java.time.Duration;
import picocli.CommandLine.Option;

/** The command-line options every service takes to find its cluster, its registry and its run's topics. */
public final class ClusterOptions {
    @Option(names = "--bootstrap-servers", required = true, paramLabel = "HOST:PORT[,...]")
    public String bootstrapServers;

    @Option(names = "--schema-registry-url", required = true, paramLabel = "URL")
    public String schemaRegistryUrl;

    @Option(names = "--topic-prefix", defaultValue = "", paramLabel = "PREFIX", description = "Prefix of the run's topics. Default: none.")
    public String topicPrefix;

    @Option(names = ClusterCheck.WAIT_OPTION, defaultValue = "10", paramLabel = "SECONDS",
            description = "How long the cluster and the registry have to answer at start-up (default: ${DEFAULT-VALUE}).")
    public int clusterWaitSeconds;

    /** Fails, naming what did not answer, unless the cluster and the registry answer within the wait. */
    public void requireReachable() {
        if (clusterWaitSeconds < 1) {
            throw new IllegalArgumentException(ClusterCheck.WAIT_OPTION + " must be ≥ 1 second, got " + clusterWaitSeconds);
        }
        ClusterCheck.require(bootstrapServers, schemaRegistryUrl, Duration.ofSeconds(clusterWaitSeconds));
    }
}
