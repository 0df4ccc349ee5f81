package io.pacedrl.runner;

import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.topics.ClusterOptions;
import io.pacedrl.topics.TopicCreator;
import io.pacedrl.topics.Topics;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The first step of a deployment without {@code train}: the run's topics made and its pool (the
 * generated suite, or a JSONL dataset) with its held-out split put on the {@code prompts} topic,
 * idempotently. The four services started against the same topic prefix then run the training.
 */
@Command(name = "pool", mixinStandardHelpOptions = true,
        description = "Make a run's topics on a cluster and put its pool of prompts (and the held-out split) on them, idempotently.")
final class PoolCommand implements Callable<Integer> {
    @Mixin
    ClusterOptions cluster;

    @Mixin
    SuiteOptions suiteOptions;

    @Option(names = "--dataset", paramLabel = "FILE", defaultValue = "${env:PACED_RL_DATASET}",
            description = "A JSONL file of prompts (split train or held_out) instead of the generated suite. Env: PACED_RL_DATASET.")
    Path dataset;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PromptPool pool;
        try {
            cluster.validate();
            pool = dataset != null ? PromptPool.read(dataset, 1) : PromptPool.of(suiteOptions.suite());
            cluster.requireReachable();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        Topics topics = new Topics(cluster.topicPrefix, new SchemaRegistryClient(cluster.schemaRegistryUrl));
        try (Admin admin = Admin.create(ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers)))) {
            new TopicCreator(admin, Duration.ofSeconds(60)).ensure(topics.all());
        }
        PoolLoader.Loaded loaded = PoolLoader.load(cluster.bootstrapServers, topics, pool.all());
        Map<String, Integer> families = new TreeMap<>();
        pool.all().forEach(p -> families.merge(p.family() + (p.split() == TaskPrompt.Split.HELD_OUT ? " (held out)" : ""), 1,
                Integer::sum));
        out.printf("pool       %,d train and %,d held-out prompts from %s → %s on %s%n", pool.train().size(), pool.heldOut().size(),
                dataset != null ? dataset : "the generated suite (--pool-size " + pool.train().size() + ")", topics.prompts.name(),
                cluster.bootstrapServers);
        out.printf("families   %s%n", families.entrySet().stream().map(e -> String.format("%s %,d", e.getKey(), e.getValue()))
                .reduce((a, b) -> a + ", " + b).orElse("none"));
        out.printf("wrote      %,d prompts; %,d were already there%n", loaded.written(), loaded.alreadyThere());
        return 0;
    }
}
