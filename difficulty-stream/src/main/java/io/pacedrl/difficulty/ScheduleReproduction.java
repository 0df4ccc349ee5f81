package io.pacedrl.difficulty;

import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.SchedulerDecision;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.TopicSpec;
import io.pacedrl.topics.Topics;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;

/**
 * The difficulty stream's topology run again over a run's recorded inputs, in one process and
 * without a broker (Kafka Streams' TopologyTestDriver, real RocksDB stores): the same code as the
 * service, fed the pool, the embeddings, the scored rollouts and a fork's replay seed as they were
 * recorded, and each version's Z_φ and policy as the learner published them, in the order of their
 * timestamps. What it decides can then be compared with what the run's scheduler decided. Its
 * outputs stay in the driver: nothing is written to the run's topics.
 */
public final class ScheduleReproduction implements AutoCloseable {

    /** A recorded input record: its topic, key, value bytes as on the topic, and timestamp. */
    public record Input(String topic, String key, byte[] value, long timestampMs) {}

    private final TopologyTestDriver driver;
    private final Map<String, TestInputTopic<String, byte[]>> inputs = new HashMap<>();
    private final TestInputTopic<String, ModelUpdate> updates;
    private final TestOutputTopic<String, SchedulerDecision> decisions;
    private final List<SchedulerDecision> decided = new ArrayList<>();

    /**
     * @param applicationId the run's difficulty stream's application id: its stores' schemas are already
     *                      registered under it, so the reprocessing registers nothing new
     */
    public ScheduleReproduction(Topics topics, SchemaRegistryClient registry, TrainingConfig config, String runId,
            String applicationId, Path stateDir) {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        // One partition per topic in the driver: every input is where its key puts it, and the embeddings end with one marker.
        driver = new TopologyTestDriver(DifficultyTopology.build(topics, registry, config, runId, 1), props);
        StringSerializer keys = new StringSerializer();
        for (TopicSpec<?, ?> topic : inputTopics(topics)) {
            inputs.put(topic.name(), driver.createInputTopic(topic.name(), keys, new ByteArraySerializer()));
        }
        updates = driver.createInputTopic(topics.modelUpdates.name(), keys, topics.modelUpdates.valueSerde().serializer());
        decisions = driver.createOutputTopic(topics.schedulerDecisions.name(), new StringDeserializer(),
                topics.schedulerDecisions.valueSerde().deserializer());
    }

    /** The topics whose recorded records this reprocessing reads (besides the versions it is given). */
    public static List<TopicSpec<?, ?>> inputTopics(Topics topics) {
        return List.of(topics.prompts, topics.promptEmbeddings, topics.scoredRollouts, topics.replaySeed);
    }

    /** One recorded input, processed now. */
    public void pipe(Input input) {
        TestInputTopic<String, byte[]> topic = inputs.get(input.topic());
        if (topic == null) {
            throw new IllegalArgumentException("'" + input.topic() + "' is not an input of the scheduler's reprocessing");
        }
        topic.pipeInput(input.key(), input.value(), Instant.ofEpochMilli(input.timestampMs()));
    }

    /** A version's model-update chunks (Z_φ's, then the policy's) as the learner published them at {@code timestampMs}. */
    public void version(List<ModelUpdate> chunks, long timestampMs) {
        for (ModelUpdate chunk : chunks) {
            updates.pipeInput(ModelUpdateChunks.key(chunk.getModelId(), chunk.getChunkIndex()), chunk, Instant.ofEpochMilli(timestampMs));
        }
    }

    /** Every decision made so far, in order. */
    public List<SchedulerDecision> decisions() {
        decisions.readValuesToList().forEach(decided::add);
        return List.copyOf(decided);
    }

    @Override
    public void close() {
        driver.close();
    }
}
