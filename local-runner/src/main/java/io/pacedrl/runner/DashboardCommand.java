package io.pacedrl.runner;

import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.topics.ClusterOptions;
import io.pacedrl.topics.MetricsOptions;
import io.pacedrl.topics.ServiceConfigOptions;
import io.pacedrl.topics.ServiceLifecycle;
import io.pacedrl.topics.Topics;
import java.net.URI;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The live dashboard of a run on a cluster, on its own (train serves the same page for its run). */
@Command(name = "dashboard", mixinStandardHelpOptions = true,
        description = "Serve the live dashboard of a run on a cluster: accuracy, p̂, staleness, lag, dead letters, prompts.")
final class DashboardCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Option(names = "--run-id", paramLabel = "ID", description = "The run's id on its events. Default: from --topic-prefix.")
    String runId;

    @Option(names = "--queries-url", paramLabel = "URL", defaultValue = "${env:PACED_RL_QUERIES_URL}",
            description = "The difficulty stream's query URL, for the p̂ histogram and the prompt table. Env: PACED_RL_QUERIES_URL.")
    URI queries;

    @Option(names = "--http-port", defaultValue = "${env:PACED_RL_HTTP_PORT:-8080}", paramLabel = "PORT",
            description = "Port to serve it on (default: ${DEFAULT-VALUE}). Env: PACED_RL_HTTP_PORT.")
    int httpPort;

    @Option(names = "--http-host", defaultValue = "${env:PACED_RL_HTTP_HOST:-127.0.0.1}", paramLabel = "HOST",
            description = "Address to serve it on (default: ${DEFAULT-VALUE}; 0.0.0.0 in a container). Env: PACED_RL_HTTP_HOST.")
    String httpHost;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        try {
            cluster.requireReachable();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        String id = runId != null ? runId : ServiceConfigOptions.defaultRunId(cluster.topicPrefix);
        Dashboard dashboard = Dashboard.start(httpHost, httpPort);
        dashboard.attach(cluster.bootstrapServers, new Topics(cluster.topicPrefix, new SchemaRegistryClient(cluster.schemaRegistryUrl)),
                id, queries);
        return ServiceLifecycle.runUntilShutdown(dashboard, "dashboard of run " + id + " on " + dashboard.url(), Optional::empty,
                new MetricsOptions());
    }
}
