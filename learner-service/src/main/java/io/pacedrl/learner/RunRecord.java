package io.pacedrl.learner;

import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.ForkPoint;
import io.pacedrl.schemas.LearnedGroup;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.ModelVersion;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.Topics;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;

/**
 * What a run's topics recorded of its learner, read without writing anything: each version's record
 * on model-versions (checksums and the batch it learned from), the configuration, π_ref, the pool,
 * and the scored rollouts the versions name. Everything a {@link Reproduction} needs.
 *
 * @param pool      the training pool in the learner's order
 * @param versions  the version records, consecutive from the run's first (0, or a fork's first)
 * @param rollouts  the scored rollouts the versions learned from (fresh and replayed), by rollout id
 * @param parent    a fork's parent run, read the same way from the same cluster; null for a run of its own
 */
public record RunRecord(String runId, String modelId, TrainingConfig config, byte[] reference, List<TaskPrompt> pool,
        List<ModelVersion> versions, Map<String, ScoredRollout> rollouts, RunRecord parent) {

    /** A run's record is missing or inconsistent; the message says what. */
    public static final class IncompleteRecordException extends RuntimeException {
        IncompleteRecordException(String message) {
            super(message);
        }
    }

    /** The versions recorded for {@code modelId} under {@code topicPrefix}, in order; empty when the run has none. */
    public static List<ModelVersion> versions(String bootstrapServers, String schemaRegistryUrl, String topicPrefix, String modelId) {
        Topics topics = new Topics(topicPrefix, new SchemaRegistryClient(schemaRegistryUrl));
        TreeMap<Long, ModelVersion> byVersion = new TreeMap<>();
        try (KafkaConsumer<String, byte[]> reader = TopicReads.consumer(bootstrapServers, Map.of())) {
            if (!reader.listTopics().containsKey(topics.modelVersions.name())) {
                return List.of();
            }
            for (ConsumerRecord<String, byte[]> record : TopicReads.readAll(reader, topics.modelVersions)) {
                ModelVersion version = topics.modelVersions.valueSerde().deserializer().deserialize(record.topic(), record.value());
                if (version.getModelId().equals(modelId) && byVersion.put(version.getVersion(), version) != null) {
                    throw new IncompleteRecordException(topics.modelVersions.name() + " holds version " + version.getVersion()
                            + " twice");
                }
            }
        }
        long expected = byVersion.isEmpty() ? 0 : firstVersion(byVersion.firstEntry().getValue());
        for (long version : byVersion.keySet()) {
            if (version != expected++) {
                throw new IncompleteRecordException(topics.modelVersions.name() + " lacks version " + (expected - 1) + " of '"
                        + modelId + "' (it has " + byVersion.firstKey() + " to " + byVersion.lastKey() + ")");
            }
        }
        return List.copyOf(byVersion.values());
    }

    /** Reads the whole record of the run whose topics carry {@code topicPrefix}. */
    public static RunRecord read(String bootstrapServers, String schemaRegistryUrl, String topicPrefix, String modelId) {
        List<ModelVersion> versions = versions(bootstrapServers, schemaRegistryUrl, topicPrefix, modelId);
        if (versions.isEmpty()) {
            throw new IncompleteRecordException("no version of '" + modelId + "' is recorded on " + topicPrefix + "model-versions");
        }
        ModelVersion first = versions.get(0);
        if (first.getConfig() == null) {
            throw new IncompleteRecordException("version " + first.getVersion() + " on model-versions carries no configuration");
        }
        RunRecord parent = null;
        if (first.getForkedFrom() != null) {
            ForkPoint from = first.getForkedFrom();
            parent = read(bootstrapServers, schemaRegistryUrl, from.getRunId() + ".", modelId);
            if (parent.latestVersion() < from.getVersion()
                    || !parent.version(from.getVersion()).getWeightsSha256().equals(from.getWeightsSha256())) {
                throw new IncompleteRecordException("run " + first.getRunId() + " is a fork of run " + from.getRunId() + " at version "
                        + from.getVersion() + ", which that run's record does not hold as the fork recorded it");
            }
        }
        TrainingConfig config = TrainingConfig.fromJson(first.getConfig());
        Topics topics = new Topics(topicPrefix, new SchemaRegistryClient(schemaRegistryUrl));
        byte[] reference = reference(bootstrapServers, topics, modelId).orElseThrow(() -> new IncompleteRecordException(
                topics.modelUpdates.name() + " holds no π_ref (model '" + modelId + LearnerService.REFERENCE_SUFFIX + "')"));
        if (!ModelUpdateChunks.sha256(reference).equals(first.getReferenceSha256())) {
            throw new IncompleteRecordException("π_ref on model-updates is not the one version 0 recorded");
        }
        Set<String> wanted = new HashSet<>();
        for (ModelVersion version : versions) {
            version.getGroups().stream().map(LearnedGroup::getRolloutIds).forEach(wanted::addAll);
            wanted.addAll(version.getReplayIds());
        }
        Map<String, ScoredRollout> rollouts = new HashMap<>();
        try (KafkaConsumer<String, byte[]> reader = TopicReads.consumer(bootstrapServers, Map.of())) {
            for (ConsumerRecord<String, byte[]> record : TopicReads.readAll(reader, topics.scoredRollouts)) {
                if (record.value() == null) {
                    continue;
                }
                ScoredRollout scored;
                try {
                    scored = topics.scoredRollouts.valueSerde().deserializer().deserialize(record.topic(), record.value());
                } catch (RuntimeException e) {
                    continue; // dead-lettered when the run read it; no version learned from it
                }
                if (wanted.contains(scored.getRollout().getRolloutId())) {
                    rollouts.putIfAbsent(scored.getRollout().getRolloutId(), scored);
                }
            }
        }
        return new RunRecord(first.getRunId(), modelId, config, reference, PoolTopic.read(bootstrapServers, topics, config.seed()).train(),
                versions, rollouts, parent);
    }

    /** The first version of the run whose first record is {@code first}: 0, or the version a fork started from. */
    private static long firstVersion(ModelVersion first) {
        return first.getForkedFrom() == null ? 0 : first.getForkedFrom().getVersion();
    }

    /** The run's first version: 0, or the version a fork started from. */
    public long firstVersion() {
        return versions.get(0).getVersion();
    }

    /** The record of {@code version}, which must be between the first and the newest. */
    public ModelVersion version(long version) {
        return versions.get((int) (version - firstVersion()));
    }

    /** π_ref as version 0 published it under its own model id. */
    private static Optional<byte[]> reference(String bootstrapServers, Topics topics, String modelId) {
        ModelUpdateChunks.Assembler chunks = new ModelUpdateChunks.Assembler(modelId + LearnerService.REFERENCE_SUFFIX);
        Optional<byte[]> found = Optional.empty();
        try (KafkaConsumer<String, byte[]> reader = TopicReads.consumer(bootstrapServers,
                Map.of(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, topics.modelUpdates.maxMessageBytes()))) {
            for (ConsumerRecord<String, byte[]> record : TopicReads.readAll(reader, topics.modelUpdates)) {
                if (record.value() == null || !record.key().startsWith(modelId + LearnerService.REFERENCE_SUFFIX + "/")) {
                    continue;
                }
                ModelUpdate chunk = topics.modelUpdates.valueSerde().deserializer().deserialize(record.topic(), record.value());
                Optional<ModelUpdateChunks.Version> whole = chunks.add(chunk);
                if (whole.isPresent()) {
                    found = Optional.of(whole.get().weights());
                }
            }
        }
        return found;
    }

    /** The version after the newest recorded: where the run stands. */
    public long latestVersion() {
        return versions.get(versions.size() - 1).getVersion();
    }
}
