package io.pacedrl.topics;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

/**
 * Makes the catalogue true on a cluster, idempotently: creates each missing topic with its partitions
 * and config, and checks each existing one. A topic that exists with other settings is an error
 * naming the topic and the setting, never silently used or changed.
 */
public final class TopicCreator {
    /** What start-up did for one topic. */
    public record Outcome(String topic, int partitions, short replicationFactor, boolean created) {}

    private final Admin admin;
    private final Duration timeout;

    public TopicCreator(Admin admin, Duration timeout) {
        this.admin = admin;
        this.timeout = timeout;
    }

    /**
     * Creates what is missing and checks what exists. Replication is min(3, brokers), with
     * min.insync.replicas one less where there are replicas to spare.
     */
    public List<Outcome> ensure(Collection<TopicSpec<?, ?>> specs) {
        int brokers = await(admin.describeCluster().nodes()).size();
        short replication = (short) Math.min(3, brokers);
        String minInsync = Integer.toString(Math.max(1, replication - 1));
        Set<String> existing = await(admin.listTopics().names());

        List<TopicSpec<?, ?>> missing = specs.stream().filter(spec -> !existing.contains(spec.name())).toList();
        List<TopicSpec<?, ?>> toCheck = new ArrayList<>(specs.stream().filter(spec -> existing.contains(spec.name())).toList());
        Map<String, KafkaFuture<Void>> creations = admin.createTopics(missing.stream().map(spec -> {
            Map<String, String> configs = new HashMap<>(spec.configs());
            configs.put(TopicConfig.MIN_IN_SYNC_REPLICAS_CONFIG, minInsync);
            return new NewTopic(spec.name(), spec.partitions(), replication).configs(configs);
        }).toList()).values();
        List<Outcome> outcomes = new ArrayList<>();
        for (TopicSpec<?, ?> spec : missing) {
            try {
                await(creations.get(spec.name()));
                outcomes.add(new Outcome(spec.name(), spec.partitions(), replication, true));
            } catch (TopicExistsException e) {
                toCheck.add(spec); // another instance created it meanwhile
            }
        }
        awaitServed(missing.stream().map(TopicSpec::name).toList());
        if (!toCheck.isEmpty()) {
            outcomes.addAll(check(toCheck));
        }
        return outcomes;
    }

    /**
     * Waits until the broker serves the new topics' metadata and config: the controller acknowledges a
     * creation before every broker knows of it, and a service starting right after would fail.
     */
    private void awaitServed(List<String> names) {
        if (names.isEmpty()) {
            return;
        }
        List<ConfigResource> resources = names.stream()
                .map(name -> new ConfigResource(ConfigResource.Type.TOPIC, name)).toList();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                Map<String, TopicDescription> described = await(admin.describeTopics(names).allTopicNames());
                await(admin.describeConfigs(resources).all());
                // A partition whose leader replica is not yet open refuses writes, and an idempotent
                // producer with several requests in flight can then have a later batch accepted before
                // an earlier one, which is retried until it expires (KAFKA-15591). The metadata can name
                // a leader before that broker opened the replica; listing offsets asks the replica itself.
                if (described.values().stream().allMatch(d -> d.partitions().stream().allMatch(p -> p.leader() != null))
                        && leadersServe(described)) {
                    return;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("the new topics " + names + " have partitions without a leader after " + timeout);
                }
            } catch (IllegalStateException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException) || System.nanoTime() > deadline) {
                    throw e;
                }
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted waiting for new topics", e);
            }
        }
    }

    private boolean leadersServe(Map<String, TopicDescription> described) {
        Map<TopicPartition, OffsetSpec> partitions = new HashMap<>();
        described.forEach((name, d) -> d.partitions().forEach(p -> partitions.put(new TopicPartition(name, p.partition()),
                OffsetSpec.latest())));
        try {
            admin.listOffsets(partitions).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
            return true;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RetriableException) {
                return false;
            }
            throw new IllegalStateException("topic administration failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted waiting for new topics", e);
        }
    }

    private List<Outcome> check(List<TopicSpec<?, ?>> specs) {
        List<String> names = specs.stream().map(TopicSpec::name).toList();
        Map<String, TopicDescription> descriptions = await(admin.describeTopics(names).allTopicNames());
        List<ConfigResource> resources = names.stream()
                .map(name -> new ConfigResource(ConfigResource.Type.TOPIC, name)).toList();
        Map<ConfigResource, Config> configs = await(admin.describeConfigs(resources).all());

        List<String> mismatches = new ArrayList<>();
        List<Outcome> outcomes = new ArrayList<>();
        for (TopicSpec<?, ?> spec : specs) {
            TopicDescription description = descriptions.get(spec.name());
            int partitions = description.partitions().size();
            if (partitions != spec.partitions()) {
                mismatches.add("topic '" + spec.name() + "' has " + partitions + " partitions, the catalogue says "
                        + spec.partitions());
            }
            Config actual = configs.get(new ConfigResource(ConfigResource.Type.TOPIC, spec.name()));
            new TreeMap<>(spec.configs()).forEach((key, expected) -> {
                ConfigEntry entry = actual.get(key);
                String value = entry == null ? null : entry.value();
                if (!expected.equals(value)) {
                    mismatches.add("topic '" + spec.name() + "' has " + key + "=" + value + ", the catalogue says "
                            + expected);
                }
            });
            short replication = (short) description.partitions().get(0).replicas().size();
            outcomes.add(new Outcome(spec.name(), partitions, replication, false));
        }
        if (!mismatches.isEmpty()) {
            throw new TopicMismatchException(mismatches);
        }
        return outcomes;
    }

    private <T> T await(KafkaFuture<T> future) {
        try {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TopicExistsException exists) {
                throw exists;
            }
            throw new IllegalStateException("topic administration failed: " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("the Kafka cluster did not answer within " + timeout.toMillis()
                    + " ms; is bootstrap.servers right and the cluster up?", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted during topic administration", e);
        }
    }
}
