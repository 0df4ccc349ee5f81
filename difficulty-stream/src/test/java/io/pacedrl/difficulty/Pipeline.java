package io.pacedrl.difficulty;

import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptEmbedding;
import io.pacedrl.schemas.ReplayRecord;
import io.pacedrl.schemas.ReplaySeed;
import io.pacedrl.schemas.RunEvent;
import io.pacedrl.schemas.ScheduledPrompt;
import io.pacedrl.schemas.SchedulerDecision;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.learning.PartitionEnsemble;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.PoolEmbeddings;
import io.pacedrl.topics.Topics;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;

/** The app's topology in a TopologyTestDriver, with typed inputs and outputs and a clock the test moves. */
final class Pipeline implements AutoCloseable {
    final TopologyTestDriver driver;
    final Topics topics;
    private final TestInputTopic<String, Prompt> prompts;
    private final TestInputTopic<String, PromptEmbedding> embeddings;
    private final TestInputTopic<String, ScoredRollout> scored;
    private final TestInputTopic<String, ModelUpdate> updates;
    private final TestInputTopic<String, ReplaySeed> replaySeed;
    final TestInputTopic<String, byte[]> rawPrompts;
    final TestInputTopic<String, byte[]> rawEmbeddings;
    final TestInputTopic<String, byte[]> rawScored;
    final TestInputTopic<String, byte[]> rawUpdates;
    private final TestOutputTopic<String, ScheduledPrompt> scheduled;
    private final TestOutputTopic<String, ReplayRecord> replay;
    private final TestOutputTopic<String, SchedulerDecision> decisions;
    private final TestOutputTopic<String, RunEvent> runEvents;
    private final TestOutputTopic<String, DeadLetter> deadLetters;
    /** Event time of the next input record, in ms; tests advance it to drive timeouts. */
    long now = 1_000_000;
    /** The p̂ each prompt gets from the next Z_φ published; a prompt's slot is its place here. */
    final Map<String, Double> pHats = new java.util.LinkedHashMap<>();
    private final double beta;

    Pipeline(SchemaRegistryClient registry, Path stateDir, TrainingConfig config) {
        topics = new Topics(registry);
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, "difficulty-test");
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        beta = config.beta();
        // The driver gives every topic one partition, so the pool's embeddings end with one marker.
        driver = new TopologyTestDriver(DifficultyTopology.build(topics, registry, config, "test-run", 1), props);
        StringSerializer keys = new StringSerializer();
        prompts = driver.createInputTopic(topics.prompts.name(), keys, topics.prompts.valueSerde().serializer());
        embeddings = driver.createInputTopic(topics.promptEmbeddings.name(), keys, topics.promptEmbeddings.valueSerde().serializer());
        scored = driver.createInputTopic(topics.scoredRollouts.name(), keys, topics.scoredRollouts.valueSerde().serializer());
        updates = driver.createInputTopic(topics.modelUpdates.name(), keys, topics.modelUpdates.valueSerde().serializer());
        replaySeed = driver.createInputTopic(topics.replaySeed.name(), keys, topics.replaySeed.valueSerde().serializer());
        ByteArraySerializer bytes = new ByteArraySerializer();
        rawPrompts = driver.createInputTopic(topics.prompts.name(), keys, bytes);
        rawEmbeddings = driver.createInputTopic(topics.promptEmbeddings.name(), keys, bytes);
        rawScored = driver.createInputTopic(topics.scoredRollouts.name(), keys, bytes);
        rawUpdates = driver.createInputTopic(topics.modelUpdates.name(), keys, bytes);
        StringDeserializer keyReader = new StringDeserializer();
        scheduled = driver.createOutputTopic(topics.scheduledPrompts.name(), keyReader, topics.scheduledPrompts.valueSerde().deserializer());
        replay = driver.createOutputTopic(topics.replay.name(), keyReader, topics.replay.valueSerde().deserializer());
        decisions = driver.createOutputTopic(topics.schedulerDecisions.name(), keyReader,
                topics.schedulerDecisions.valueSerde().deserializer());
        runEvents = driver.createOutputTopic(topics.runEvents.name(), keyReader, topics.runEvents.valueSerde().deserializer());
        deadLetters = driver.createOutputTopic(topics.deadLetters.name(), keyReader, topics.deadLetters.valueSerde().deserializer());
    }

    private Instant tick() {
        return Instant.ofEpochMilli(now++);
    }

    /**
     * Each id joins the pool with its embedding and the p̂ Z_φ will give it; then the embeddings'
     * end marker and the Z_φ of version 0 (the learner publishes version 0 itself, separately).
     */
    void pool(Map<String, Double> pHats) {
        pHats.forEach((id, p) -> prompts.pipeInput(id, Records.prompt(id), tick()));
        pHats.forEach((id, p) -> estimate(id, p, 0));
        endOfEmbeddings();
        publishEstimator(0);
    }

    void prompt(Prompt prompt) {
        prompts.pipeInput(prompt.getId(), prompt, tick());
    }

    /** The p̂ the next Z_φ gives {@code id}; a prompt seen for the first time gets its embedding now. */
    void estimate(String id, double pHat, long version) {
        if (!pHats.containsKey(id)) {
            embeddings.pipeInput(id, PoolEmbeddings.of(id, DesignedPartition.embedding(pHats.size()), "test", 0), tick());
        }
        pHats.put(id, pHat);
    }

    void endOfEmbeddings() {
        embeddings.pipeInput(PoolEmbeddings.MARKER_KEY, PoolEmbeddings.endMarker("test", 0), tick());
    }

    /** What the learner does after an update: Z_φ for the new version, then the version itself. */
    void advance(long version) {
        publishEstimator(version);
        learnerVersion(version);
    }

    /** Z_φ of {@code version}, giving every prompt its p̂ of {@link #estimate}. */
    void publishEstimator(long version) {
        publishEstimator(version, DesignedPartition.parameters(beta, pHats.values().stream().mapToDouble(Double::doubleValue).toArray()));
    }

    /** A prompt's embedding, as the learner publishes it. */
    void embedding(String id, float[] values) {
        embeddings.pipeInput(id, PoolEmbeddings.of(id, values, "test", 0), tick());
    }

    /** Z_φ of {@code version} with these parameters. */
    void publishEstimator(long version, byte[] parameters) {
        for (ModelUpdate chunk : ModelUpdateChunks.split("policy/partition-function", version, PartitionEnsemble.formatOf(parameters), parameters,
                version, List.of(), List.of(), 0)) {
            updates.pipeInput(ModelUpdateChunks.key(chunk.getModelId(), chunk.getChunkIndex()), chunk, tick());
        }
    }

    /** A trajectory of a fork's starting replay buffer, as paced-rl fork writes it. */
    void seed(ReplaySeed seed) {
        replaySeed.pipeInput(seed.getTrajectory().getRollout().getRolloutId(), seed, tick());
    }

    void learnerVersion(long version) {
        updates.pipeInput("policy/0", Records.version(version), tick());
    }

    /** The group answering {@code s} comes back with these rewards. */
    void group(ScheduledPrompt s, double... rewards) {
        for (int i = 0; i < rewards.length; i++) {
            rollout(Records.scored(s.getPrompt().getId(), s.getScheduleId(), i, rewards.length, rewards[i]));
        }
    }

    void rollout(ScoredRollout rollout) {
        scored.pipeInput(rollout.getRollout().getPrompt().getId(), rollout, tick());
    }

    List<ScheduledPrompt> scheduled() {
        return scheduled.readValuesToList();
    }

    List<KeyValue<String, ReplayRecord>> replay() {
        return replay.readKeyValuesToList();
    }

    List<SchedulerDecision> decisions() {
        return decisions.readValuesToList();
    }

    List<RunEvent> runEvents() {
        return runEvents.readValuesToList();
    }

    List<DeadLetter> deadLetters() {
        return deadLetters.readValuesToList();
    }

    <V> KeyValueStore<String, V> store(String name) {
        return driver.getKeyValueStore(name);
    }

    @Override
    public void close() {
        driver.close();
    }
}
