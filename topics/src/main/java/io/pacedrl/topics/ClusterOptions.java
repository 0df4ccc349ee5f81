package io.pacedrl.topics;

import picocli.CommandLine.Option;

/** The command-line options every service takes to find its cluster, its registry and its run's topics. */
public final class ClusterOptions {
    @Option(names = "--bootstrap-servers", required = true, paramLabel = "HOST:PORT[,...]")
    public String bootstrapServers;

    @Option(names = "--schema-registry-url", required = true, paramLabel = "URL")
    public String schemaRegistryUrl;

    @Option(names = "--topic-prefix", defaultValue = "", paramLabel = "PREFIX", description = "Prefix of the run's topics. Default: none.")
    public String topicPrefix;
}
