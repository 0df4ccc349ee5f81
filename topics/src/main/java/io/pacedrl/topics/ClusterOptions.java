package io.pacedrl.topics;

import io.pacedrl.registry.ClientOptions;
import io.pacedrl.registry.SchemaRegistryClient;
import java.time.Duration;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The command-line options every service takes to find its cluster, its registry and its run's topics. */
public final class ClusterOptions {
    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT[,...]", defaultValue = "${env:PACED_RL_BOOTSTRAP_SERVERS}",
            description = "The Kafka cluster (required). Env: PACED_RL_BOOTSTRAP_SERVERS.")
    public String bootstrapServers;

    @Option(names = "--schema-registry-url", paramLabel = "URL", defaultValue = "${env:PACED_RL_SCHEMA_REGISTRY_URL}",
            description = "Its schema registry (required). Env: PACED_RL_SCHEMA_REGISTRY_URL.")
    public String schemaRegistryUrl;

    @Option(names = "--topic-prefix", paramLabel = "PREFIX", defaultValue = "${env:PACED_RL_TOPIC_PREFIX:-}",
            description = "Prefix of the run's topics. Default: none. Env: PACED_RL_TOPIC_PREFIX.")
    public String topicPrefix;

    @Mixin
    public ClientOptions client;

    @Option(names = ClusterCheck.WAIT_OPTION, defaultValue = "${env:PACED_RL_CLUSTER_WAIT:-10}", paramLabel = "SECONDS",
            description = "How long the cluster and the registry have to answer at start-up (default: ${DEFAULT-VALUE}). "
                    + "Env: PACED_RL_CLUSTER_WAIT.")
    public int clusterWaitSeconds;

    /** Checks the options, naming the one at fault, and uses the client settings from now on. */
    public void validate() {
        if (bootstrapServers == null || bootstrapServers.isBlank()) {
            throw new IllegalArgumentException("--bootstrap-servers (or PACED_RL_BOOTSTRAP_SERVERS) is required");
        }
        if (schemaRegistryUrl == null || schemaRegistryUrl.isBlank()) {
            throw new IllegalArgumentException("--schema-registry-url (or PACED_RL_SCHEMA_REGISTRY_URL) is required");
        }
        SchemaRegistryClient.parseUrl(schemaRegistryUrl);
        Topics.checkPrefix(topicPrefix);
        client.apply();
    }

    /** Fails, naming what did not answer, unless the cluster and the registry answer within the wait. */
    public void requireReachable() {
        validate();
        if (clusterWaitSeconds < 1) {
            throw new IllegalArgumentException(ClusterCheck.WAIT_OPTION + " must be ≥ 1 second, got " + clusterWaitSeconds);
        }
        ClusterCheck.require(bootstrapServers, schemaRegistryUrl, Duration.ofSeconds(clusterWaitSeconds));
    }
}
