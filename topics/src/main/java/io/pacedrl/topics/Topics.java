package io.pacedrl.topics;

import io.pacedrl.registry.AvroSerdes;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.ModelVersion;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptEmbedding;
import io.pacedrl.schemas.ReplayRecord;
import io.pacedrl.schemas.ReplaySeed;
import io.pacedrl.schemas.Rollout;
import io.pacedrl.schemas.RunEvent;
import io.pacedrl.schemas.ScheduledPrompt;
import io.pacedrl.schemas.SchedulerDecision;
import io.pacedrl.schemas.ScoredRollout;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;

/**
 * The catalogue of every topic the pipeline uses: the one place that names a topic and says what its
 * keys are, how its values are serialised (Avro in the Confluent wire format, schemas in schemas/),
 * how many partitions it has, and how it is cleaned up.
 *
 * <p>Topics holding a run's primary record (rollouts, rewards, the scheduler's decisions, dead
 * letters, run events) are kept forever so a run can be replayed; the pool, its embeddings and model
 * updates are compacted to their latest value per key; scheduled prompts and replay draws are derived
 * deterministically from the others and kept for a week. No topic carries a record per prompt per
 * version: p̂ is computed where prompts are chosen, from Z_φ (on model-updates with the policy) and
 * the pool's embeddings (written once). A prefix puts a whole run in its own namespace on a shared
 * cluster.
 */
public final class Topics {
    static final String RETAIN_FOREVER = "-1";
    static final String ONE_WEEK = Long.toString(Duration.ofDays(7).toMillis());
    static final int ONE_MIB = 1 << 20;
    /** Partitions of the topics consumer groups scale out over (generators, verifiers). */
    static final int SCALE_OUT_PARTITIONS = 6;
    private static final Pattern LEGAL_PREFIX = Pattern.compile("[a-zA-Z0-9._-]{0,200}");

    public final TopicSpec<String, Prompt> prompts;
    public final TopicSpec<String, ScheduledPrompt> scheduledPrompts;
    public final TopicSpec<String, Rollout> rollouts;
    public final TopicSpec<String, ScoredRollout> scoredRollouts;
    public final TopicSpec<String, ModelUpdate> modelUpdates;
    public final TopicSpec<String, ModelVersion> modelVersions;
    public final TopicSpec<String, PromptEmbedding> promptEmbeddings;
    public final TopicSpec<String, SchedulerDecision> schedulerDecisions;
    public final TopicSpec<String, ReplayRecord> replay;
    public final TopicSpec<String, ReplaySeed> replaySeed;
    public final TopicSpec<String, DeadLetter> deadLetters;
    public final TopicSpec<String, RunEvent> runEvents;

    /** The catalogue with the topics' plain names. */
    public Topics(SchemaRegistryClient registry) {
        this("", registry);
    }

    /** The catalogue with every name prefixed by {@code prefix} (for example "run-7."). */
    public Topics(String prefix, SchemaRegistryClient registry) {
        checkPrefix(prefix);
        prompts = topic(prefix + "prompts", "prompt id", registry, Prompt.class, SCALE_OUT_PARTITIONS,
                compacted(ONE_MIB));
        scheduledPrompts = topic(prefix + "scheduled-prompts", "prompt id", registry, ScheduledPrompt.class,
                SCALE_OUT_PARTITIONS, retained(ONE_WEEK, ONE_MIB));
        rollouts = topic(prefix + "rollouts", "prompt id (a group stays in one partition)", registry, Rollout.class,
                SCALE_OUT_PARTITIONS, retained(RETAIN_FOREVER, ONE_MIB));
        scoredRollouts = topic(prefix + "scored-rollouts", "prompt id (a group stays in one partition)", registry,
                ScoredRollout.class, SCALE_OUT_PARTITIONS, retained(RETAIN_FOREVER, ONE_MIB));
        // One partition keeps a version's chunks in order; chunks of up to 1 MiB plus their header.
        modelUpdates = topic(prefix + "model-updates", "model id and chunk index", registry, ModelUpdate.class, 1,
                compacted(4 * ONE_MIB));
        // The run's history: model-updates keeps only each chunk's newest version.
        modelVersions = topic(prefix + "model-versions", "model id", registry, ModelVersion.class, 1,
                retained(RETAIN_FOREVER, ONE_MIB));
        // Partitioned like the pool, so a prompt's embedding meets its prompt in one stream task.
        promptEmbeddings = topic(prefix + "prompt-embeddings", "prompt id (end markers: empty)", registry,
                PromptEmbedding.class, SCALE_OUT_PARTITIONS, compacted(ONE_MIB));
        // One partition: the learner reads the decisions in the order they were made.
        schedulerDecisions = topic(prefix + "scheduler-decisions", "run id", registry, SchedulerDecision.class, 1,
                retained(RETAIN_FOREVER, ONE_MIB));
        replay = topic(prefix + "replay", "trajectory id", registry, ReplayRecord.class, 1,
                retained(ONE_WEEK, ONE_MIB));
        // A fork's starting replay buffer: part of its record, read once by the scheduler.
        replaySeed = topic(prefix + "replay-seed", "trajectory id", registry, ReplaySeed.class, 1,
                retained(RETAIN_FOREVER, ONE_MIB));
        // Holds any other topic's record whole, plus why it failed.
        deadLetters = topic(prefix + "dead-letters", "source topic", registry, DeadLetter.class, 1,
                retained(RETAIN_FOREVER, 8 * ONE_MIB));
        runEvents = topic(prefix + "run-events", "run id", registry, RunEvent.class, 1,
                retained(RETAIN_FOREVER, ONE_MIB));
    }

    /** Fails, naming the prefix, if topic names made with it would be illegal in Kafka. */
    public static void checkPrefix(String prefix) {
        if (!LEGAL_PREFIX.matcher(prefix).matches()) {
            throw new IllegalArgumentException("topic prefix '" + prefix + "' is not allowed: Kafka topic names "
                    + "use only letters, digits, '.', '_' and '-'");
        }
    }

    /** Every topic, in data-flow order. */
    public List<TopicSpec<?, ?>> all() {
        return List.of(prompts, promptEmbeddings, scheduledPrompts, rollouts, scoredRollouts, modelUpdates, modelVersions,
                schedulerDecisions, replay, replaySeed, deadLetters, runEvents);
    }

    /**
     * One value serializer for every topic of the catalogue, choosing each topic's own serde by the
     * topic's name: for a transactional producer that writes results and dead letters together.
     */
    public Serializer<Object> valueSerializer() {
        Map<String, Serializer<?>> byName = new HashMap<>();
        all().forEach(spec -> byName.put(spec.name(), spec.valueSerde().serializer()));
        return new Serializer<>() {
            @Override
            @SuppressWarnings("unchecked")
            public byte[] serialize(String topic, Object value) {
                Serializer<Object> serializer = (Serializer<Object>) byName.get(topic);
                if (serializer == null) {
                    throw new IllegalArgumentException("topic '" + topic + "' is not in the catalogue");
                }
                return serializer.serialize(topic, value);
            }
        };
    }

    private static <V extends SpecificRecord> TopicSpec<String, V> topic(String name, String key,
            SchemaRegistryClient registry, Class<V> type, int partitions, Map<String, String> configs) {
        return new TopicSpec<>(name, key, Serdes.String(), AvroSerdes.value(registry, type), type, partitions, configs);
    }

    private static Map<String, String> compacted(int maxMessageBytes) {
        return Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT,
                TopicConfig.MAX_MESSAGE_BYTES_CONFIG, Integer.toString(maxMessageBytes));
    }

    private static Map<String, String> retained(String retentionMs, int maxMessageBytes) {
        return Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_DELETE,
                TopicConfig.RETENTION_MS_CONFIG, retentionMs,
                TopicConfig.MAX_MESSAGE_BYTES_CONFIG, Integer.toString(maxMessageBytes));
    }
}
