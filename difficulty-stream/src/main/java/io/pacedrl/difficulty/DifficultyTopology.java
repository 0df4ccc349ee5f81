package io.pacedrl.difficulty;

import io.pacedrl.difficulty.state.DifficultyEvent;
import io.pacedrl.difficulty.state.EmbeddingChange;
import io.pacedrl.difficulty.state.EstimatorParameters;
import io.pacedrl.difficulty.state.OpenGroup;
import io.pacedrl.difficulty.state.PromptState;
import io.pacedrl.difficulty.state.ReplayCandidate;
import io.pacedrl.difficulty.state.ReplayEntry;
import io.pacedrl.difficulty.state.ScheduleEntry;
import io.pacedrl.difficulty.state.SchedulerState;
import io.pacedrl.learning.ReplayRules;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.registry.AvroSerdes;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.ReplayRecord;
import io.pacedrl.schemas.RunEvent;
import io.pacedrl.schemas.ScheduledPrompt;
import io.pacedrl.schemas.SchedulerDecision;
import io.pacedrl.topics.TopicSpec;
import io.pacedrl.topics.Topics;
import java.util.List;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Repartitioned;
import org.apache.kafka.streams.state.Stores;

/**
 * The app's topology. Two sub-topologies:
 * <ol>
 *   <li>per prompt, partitioned like the pool: prompts, prompt embeddings and scored rollouts (one
 *       task per partition, spread over instances) → {@code prompt-state}, {@code open-groups};
 *   <li>the scheduler, one task: the per-prompt changes funnelled through the one-partition
 *       {@code difficulty-events} repartition topic, plus model-updates (versions, and Z_φ) and a
 *       fork's replay-seed →
 *       {@code schedule-index}, {@code scheduler-state}, {@code replay-buffer}, {@code replay-priorities},
 *       {@code replay-candidates}, {@code prompt-embeddings}, {@code partition-function}; out go
 *       scheduled prompts, replay draws, the scheduler's decisions and run events.
 * </ol>
 * Inputs are read as bytes and decoded in the processors, so bad records reach the dead letters whole.
 * An input record written to another partition than Java's producers would choose for its key
 * reaches its prompt's task through the {@code misplaced-inputs} repartition topic ({@link Placement}).
 */
public final class DifficultyTopology {
    /** Name of the repartition topic between the two halves (prefixed with the application id). */
    public static final String EVENTS = "difficulty-events";
    /** Name of the repartition topic that brings records written to another partition than Java's (see {@link Placement}). */
    public static final String MISPLACED = "misplaced-inputs";

    private DifficultyTopology() {}

    /**
     * @param poolPartitions the partitions of the co-partitioned prompts, prompt-embeddings and
     *                       scored-rollouts topics as they exist (the catalogue's count on a cluster; 1
     *                       in a TopologyTestDriver): the pool's embeddings are whole once the end
     *                       marker has arrived from each, and a record is in place in the partition
     *                       Java's partitioner gives its key among them
     */
    public static Topology build(Topics topics, SchemaRegistryClient registry, TrainingConfig config, String runId,
            int poolPartitions) {
        StreamsBuilder builder = new StreamsBuilder();
        store(builder, PromptStateProcessor.STATE_STORE, registry, PromptState.class);
        store(builder, PromptStateProcessor.GROUPS_STORE, registry, OpenGroup.class);
        store(builder, SchedulerProcessor.INDEX_STORE, registry, ScheduleEntry.class);
        store(builder, SchedulerProcessor.STATE_STORE, registry, SchedulerState.class);
        store(builder, SchedulerProcessor.REPLAY_STORE, registry, ReplayEntry.class);
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(SchedulerProcessor.PRIORITIES_STORE),
                Serdes.String(), Serdes.Double()).withCachingEnabled());
        store(builder, SchedulerProcessor.CANDIDATES_STORE, registry, ReplayCandidate.class);
        store(builder, SchedulerProcessor.EMBEDDINGS_STORE, registry, EmbeddingChange.class);
        store(builder, SchedulerProcessor.ESTIMATOR_STORE, registry, EstimatorParameters.class);

        Consumed<String, byte[]> raw = Consumed.with(Serdes.String(), Serdes.ByteArray());
        long timeoutMs = config.groupTimeoutSeconds() * 1000L;
        KStream<String, byte[]> inputs = builder
                .stream(List.of(topics.prompts.name(), topics.promptEmbeddings.name(), topics.scoredRollouts.name()), raw);
        KStream<String, byte[]> misplaced = inputs.process(() -> new Placement(false, poolPartitions))
                .repartition(Repartitioned.<String, byte[]>as(MISPLACED).withKeySerde(Serdes.String())
                        .withValueSerde(Serdes.ByteArray()).withNumberOfPartitions(poolPartitions));
        KStream<String, SpecificRecord> perPrompt = inputs.process(() -> new Placement(true, poolPartitions))
                .merge(misplaced)
                .process(() -> new PromptStateProcessor(topics, config.accuracyEma(), timeoutMs),
                        PromptStateProcessor.STATE_STORE, PromptStateProcessor.GROUPS_STORE);
        to(perPrompt, topics.deadLetters, DeadLetter.class);

        KStream<String, Object> events = perPrompt.filter((key, value) -> value instanceof DifficultyEvent)
                .mapValues(value -> (DifficultyEvent) value)
                .repartition(Repartitioned.<String, DifficultyEvent>as(EVENTS).withKeySerde(Serdes.String())
                        .withValueSerde(AvroSerdes.value(registry, DifficultyEvent.class)).withNumberOfPartitions(1))
                .mapValues(value -> (Object) value);
        // Both read as bytes; the processor tells them apart by topic.
        KStream<String, Object> versions = builder.stream(List.of(topics.modelUpdates.name(), topics.replaySeed.name()), raw)
                .mapValues(value -> (Object) value);
        SchedulerProcessor.Replay replay = new SchedulerProcessor.Replay(config.method().replay(),
                config.replayCapacity(), config.replayAdd(), config.replaySize(),
                config.method().estimatesAccuracy() && config.replayPriority() == ReplayRules.Priority.CURRENT);
        BatchScheduler.Settings settings = BatchScheduler.Settings.of(config, poolPartitions);
        KStream<String, SpecificRecord> scheduler = events.merge(versions)
                .process(() -> new SchedulerProcessor(topics, settings, replay, runId), SchedulerProcessor.INDEX_STORE,
                        SchedulerProcessor.STATE_STORE, SchedulerProcessor.REPLAY_STORE, SchedulerProcessor.PRIORITIES_STORE,
                        SchedulerProcessor.CANDIDATES_STORE, SchedulerProcessor.EMBEDDINGS_STORE, SchedulerProcessor.ESTIMATOR_STORE);
        to(scheduler, topics.scheduledPrompts, ScheduledPrompt.class);
        to(scheduler, topics.replay, ReplayRecord.class);
        to(scheduler, topics.schedulerDecisions, SchedulerDecision.class);
        to(scheduler, topics.runEvents, RunEvent.class);
        to(scheduler, topics.deadLetters, DeadLetter.class);
        return builder.build();
    }

    private static <V extends SpecificRecord> void store(StreamsBuilder builder, String name,
            SchemaRegistryClient registry, Class<V> type) {
        // Cached: a group's rollouts and the scheduler's state rewrite the same keys many times between
        // commits, and only the last value of each needs to reach the changelog.
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(name), Serdes.String(),
                AvroSerdes.value(registry, type)).withCachingEnabled());
    }

    /** The records of {@code type} in {@code stream} go to {@code topic}. */
    private static <V extends SpecificRecord> void to(KStream<String, SpecificRecord> stream, TopicSpec<String, V> topic,
            Class<V> type) {
        stream.filter((key, value) -> type.isInstance(value)).mapValues(type::cast)
                .to(topic.name(), Produced.with(topic.keySerde(), topic.valueSerde()));
    }
}
