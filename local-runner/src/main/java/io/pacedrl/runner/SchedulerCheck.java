package io.pacedrl.runner;

import io.pacedrl.difficulty.ScheduleComparison;
import io.pacedrl.difficulty.ScheduleReproduction;
import io.pacedrl.learner.LearnerService;
import io.pacedrl.learner.Reproduction;
import io.pacedrl.learner.RunRecord;
import io.pacedrl.learning.PartitionEnsemble;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.SchedulerDecision;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.PoolEmbeddings;
import io.pacedrl.topics.TopicScan;
import io.pacedrl.topics.TopicSpec;
import io.pacedrl.topics.Topics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * {@code reproduce --scheduler}: the difficulty stream's topology run again over a run's recorded
 * inputs, fed each version as the learner recomputes it (Z_φ and the policy, at the time the version
 * was recorded), and its decisions compared with the ones the run's scheduler recorded. Reads the
 * run's topics; the reprocessing's outputs stay in this process.
 */
final class SchedulerCheck implements AutoCloseable {
    /** What the comparison found, and over how many recorded inputs. */
    record Outcome(ScheduleComparison.Result result, int inputs) {}

    private final RunRecord record;
    private final List<ScheduleReproduction.Input> inputs;
    private final List<SchedulerDecision> recorded;
    private final ScheduleReproduction reprocessing;
    private final Path stateDir;
    private int next;
    private long lastFed = -1;

    SchedulerCheck(Platform cluster, String prefix, RunRecord record) throws IOException {
        this.record = record;
        SchemaRegistryClient registry = new SchemaRegistryClient(cluster.schemaRegistryUrl());
        Topics topics = new Topics(prefix, registry);
        inputs = new ArrayList<>();
        recorded = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> reader = new KafkaConsumer<>(ClientSettings.kafka(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, cluster.bootstrapServers(), ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false)), new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicSpec<?, ?>> specs = ScheduleReproduction.inputTopics(topics);
            for (TopicSpec<?, ?> spec : specs) {
                if (reader.listTopics().containsKey(spec.name())) {
                    TopicScan.toEnd(reader, spec, r -> inputs.add(new ScheduleReproduction.Input(r.topic(), r.key(), r.value(), r.timestamp())));
                }
            }
            TopicScan.toEnd(reader, topics.schedulerDecisions, r -> {
                SchedulerDecision decision = topics.schedulerDecisions.valueSerde().deserializer().deserialize(r.topic(), r.value());
                if (decision.getRunId().equals(record.runId())) {
                    recorded.add(decision);
                }
            });
        }
        // In time order, as the stream takes its inputs; a stable sort keeps each topic's order among equal times. The
        // embeddings' end markers (sent after every embedding) go last among equals: in the driver's one partition the
        // first marker closes the pool's embeddings, where the stream waited for the marker of every partition.
        String embeddings = topics.promptEmbeddings.name();
        inputs.sort(Comparator.comparingLong(ScheduleReproduction.Input::timestampMs)
                .thenComparing(input -> input.topic().equals(embeddings) && PoolEmbeddings.MARKER_KEY.equals(input.key())));
        stateDir = Files.createTempDirectory("paced-rl-reproduce-scheduler");
        reprocessing = new ScheduleReproduction(topics, registry, record.config(), record.runId(), prefix + "difficulty-stream", stateDir);
    }

    /**
     * A version recomputed: the recorded inputs that came before it, then its chunks. Versions of a
     * fork's parent, which this run's scheduler never saw, are skipped.
     */
    void version(Reproduction.Recomputed recomputed) {
        long version = recomputed.check().version();
        if (version < record.firstVersion() || version <= lastFed) {
            return;
        }
        long at = record.version(version).getCreatedAtMs();
        feedUntil(at);
        List<ModelUpdate> chunks = new ArrayList<>();
        if (recomputed.state().partition() != null) {
            chunks.addAll(ModelUpdateChunks.split(record.modelId() + LearnerService.PARTITION_SUFFIX, version,
                    PartitionEnsemble.formatOf(recomputed.state().partition()), recomputed.state().partition(), version, List.of(), List.of(), at));
        }
        chunks.addAll(ModelUpdateChunks.split(record.modelId(), version, LearnerService.FORMAT, recomputed.state().weights(), version,
                List.of(), List.of(), at));
        reprocessing.version(chunks, at);
        lastFed = version;
    }

    /** Feeds what is left and compares the decisions up to version {@code upTo}. */
    Outcome finish(long upTo) {
        feedUntil(Long.MAX_VALUE);
        return new Outcome(ScheduleComparison.compare(recorded, reprocessing.decisions(), upTo, record.config().lookAhead()), inputs.size());
    }

    private void feedUntil(long timestampMs) {
        while (next < inputs.size() && inputs.get(next).timestampMs() < timestampMs) {
            reprocessing.pipe(inputs.get(next++));
        }
    }

    @Override
    public void close() throws IOException {
        reprocessing.close();
        FileTrees.delete(stateDir);
    }
}
