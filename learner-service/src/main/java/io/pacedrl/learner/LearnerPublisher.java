package io.pacedrl.learner;

import io.pacedrl.learner.LearnerCheckpoint.Contents;
import io.pacedrl.learner.LearnerCheckpoint.Event;
import io.pacedrl.learner.LearnerCheckpoint.Publication;
import io.pacedrl.learning.PartitionEnsemble;
import io.pacedrl.learning.PolicyLearner;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.ForkPoint;
import io.pacedrl.schemas.LearnedGroup;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.ModelVersion;
import io.pacedrl.schemas.PromptEmbedding;
import io.pacedrl.schemas.RunEvent;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.PoolEmbeddings;
import io.pacedrl.topics.RunEvents;
import io.pacedrl.topics.ServiceMeters;
import io.pacedrl.topics.Topics;
import io.pacedrl.topics.TransactionalProducers;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.IntFunction;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a version leaves the learner: on its own thread, the state copied on the learner's is turned
 * into bytes, checkpointed, then sent in one transaction with the consumer offsets it was learned
 * from (Z_φ and the policy in chunks, at version 0 the pool's embeddings, run events, dead letters).
 * One version in flight at most. It also answers what model-updates and run-events already hold,
 * for a learner resuming after a crash.
 */
final class LearnerPublisher implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LearnerPublisher.class);

    /** The pool as version 0 publishes it: ids and e(x) by pool index. */
    record Pool(List<String> ids, IntFunction<float[]> embedding) {}

    private final LearnerService.Options options;
    private final Topics topics;
    private final LearnerCheckpoint checkpoints;
    private final KafkaProducer<String, Object> producer;
    private final ExecutorService thread = Executors.newSingleThreadExecutor(r -> new Thread(r, "learner-publisher"));
    private final Consumer<Publication> beforeCommit;
    private final String config;
    private final double[] seconds = new double[2];
    private CompletableFuture<Void> inFlight = CompletableFuture.completedFuture(null);
    private long inFlightVersion = -1;
    private Pool pool;
    private String referenceSha256;

    /**
     * @param config       the run's training keys as JSON, for the record of the run's first version
     * @param beforeCommit called with each version's records sent, before its transaction commits (fault injection)
     */
    LearnerPublisher(LearnerService.Options options, Topics topics, LearnerCheckpoint checkpoints, String config,
            Consumer<Publication> beforeCommit) {
        this.options = options;
        this.config = config;
        this.topics = topics;
        this.checkpoints = checkpoints;
        this.beforeCommit = beforeCommit;
        this.producer = new KafkaProducer<>(ClientSettings.kafka(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers(),
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, options.topicPrefix() + "learner-" + options.modelId(),
                ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, TransactionalProducers.MAX_IN_FLIGHT,
                ProducerConfig.LINGER_MS_CONFIG, 5, ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024,
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG, topics.modelUpdates.maxMessageBytes())),
                new StringSerializer(), topics.valueSerializer());
    }

    /** Reports its producer's metrics with {@code meters}. */
    void bindTo(ServiceMeters meters) {
        meters.bind(producer);
    }

    /** Fences any earlier instance of this learner: its open transaction is aborted. */
    void begin() {
        producer.initTransactions();
    }

    /** The pool version 0 carries the embeddings of. */
    void pool(Pool pool) {
        this.pool = pool;
    }

    /**
     * Waits for the previous version to be out, then, on the publishing thread, turns {@code state}
     * into bytes, checkpoints this version and sends it in one transaction.
     */
    void handOver(Publication publication, PolicyLearner.Snapshot state, BatchAssembler.Snapshot pending, Map<String, Double> totals,
            List<String> learnedProbes) throws Exception {
        awaitIdle();
        inFlightVersion = publication.version();
        inFlight = CompletableFuture.runAsync(() -> {
            long t0 = System.nanoTime();
            PolicyLearner.State bytes;
            try (state) {
                bytes = state.toState();
            }
            Contents contents = new Contents(publication.withModel(bytes), bytes, pending, totals, learnedProbes);
            try {
                checkpoints.write(contents);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write the checkpoint of version " + contents.version(), e);
            }
            long t1 = System.nanoTime();
            send(contents.publication());
            synchronized (seconds) {
                seconds[0] += (System.nanoTime() - t1) / 1e9;
                seconds[1] += (t1 - t0) / 1e9;
            }
        }, thread);
    }

    /** Sends a checkpointed version whose transaction never committed, as it was. */
    void resend(Publication publication) {
        inFlightVersion = publication.version();
        inFlight = CompletableFuture.runAsync(() -> send(publication), thread);
    }

    /** Sends now, on the caller's thread, once the version in flight is out. */
    void sendNow(Publication publication) throws Exception {
        awaitIdle();
        send(publication);
    }

    /** Waits for the version in flight; its failure is this call's. */
    void awaitIdle() throws Exception {
        try {
            inFlight.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("publishing version " + inFlightVersion + " failed: " + e.getCause().getMessage(),
                    e.getCause());
        }
    }

    /** Fails if publishing the version in flight has failed; does not wait. */
    void checkFailed() throws Exception {
        if (inFlight.isCompletedExceptionally()) {
            awaitIdle();
        }
    }

    /** Seconds spent serialising and sending, and checkpointing, so far. */
    double[] seconds() {
        synchronized (seconds) {
            return seconds.clone();
        }
    }

    /** One version's records and offsets in one transaction. */
    private void send(Publication p) {
        long now = System.currentTimeMillis();
        producer.beginTransaction();
        if (p.embeddings()) {
            // Once per pool: e(x) of every pool prompt, then a marker on every partition.
            String reference = ModelUpdateChunks.sha256(reference());
            for (int i = 0; i < pool.ids().size(); i++) {
                String id = pool.ids().get(i);
                producer.send(new ProducerRecord<>(topics.promptEmbeddings.name(), id, PoolEmbeddings.of(id, pool.embedding().apply(i),
                        reference, now)));
            }
            for (ProducerRecord<String, PromptEmbedding> marker : PoolEmbeddings.endMarkers(topics.promptEmbeddings, reference, now)) {
                producer.send(new ProducerRecord<>(marker.topic(), marker.partition(), marker.key(), marker.value()));
            }
        }
        if (p.weights() != null) {
            // Z_φ before the policy: a reader that learns of the version from the policy already has its Z_φ.
            List<ModelUpdate> partition = p.partition() == null ? List.of() : ModelUpdateChunks.split(options.modelId()
                    + LearnerService.PARTITION_SUFFIX, p.version(), PartitionEnsemble.formatOf(p.partition()), p.partition(), p.version(), List.of(),
                    List.of(), now);
            List<ModelUpdate> policy = ModelUpdateChunks.split(options.modelId(), p.version(), LearnerService.FORMAT, p.weights(),
                    p.version(), p.rolloutIds(), p.replayIds(), now);
            List<ModelUpdate> chunks = new ArrayList<>(partition);
            chunks.addAll(policy);
            if (p.first()) {
                // π_ref under its own model id: compaction keeps it after later versions replace this one's chunks.
                chunks.addAll(ModelUpdateChunks.split(options.modelId() + LearnerService.REFERENCE_SUFFIX, p.version(),
                        LearnerService.FORMAT, reference(), p.version(), List.of(), List.of(), now));
            }
            for (ModelUpdate chunk : chunks) {
                producer.send(new ProducerRecord<>(topics.modelUpdates.name(), ModelUpdateChunks.key(chunk.getModelId(),
                        chunk.getChunkIndex()), chunk));
            }
            producer.send(new ProducerRecord<>(topics.modelVersions.name(), options.modelId(), record(p, policy.get(0).getSha256(),
                    partition.isEmpty() ? null : partition.get(0).getSha256(), now)));
        }
        for (Event e : p.events()) {
            producer.send(new ProducerRecord<>(topics.runEvents.name(), options.runId(), RunEvent.newBuilder()
                    .setRunId(options.runId()).setSource(RunEvents.LEARNER).setType(e.type()).setLearnerVersion(e.version())
                    .setTimestampMs(e.timestampMs()).setMetrics(e.metrics()).setAttributes(e.attributes()).build()));
        }
        for (DeadLetter letter : p.deadLetters()) {
            producer.send(new ProducerRecord<>(topics.deadLetters.name(), letter.getSourceTopic(), letter));
        }
        if (!p.positions().isEmpty()) {
            Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
            p.positions().forEach((key, offset) -> {
                int colon = key.lastIndexOf(':');
                offsets.put(new TopicPartition(key.substring(0, colon), Integer.parseInt(key.substring(colon + 1))),
                        new OffsetAndMetadata(offset));
            });
            producer.sendOffsetsToTransaction(offsets, new ConsumerGroupMetadata(options.topicPrefix() + "learner"));
        }
        if (p.weights() != null) {
            producer.flush();
            beforeCommit.accept(p);
        }
        producer.commitTransaction();
    }

    /** What model-versions keeps of version {@code p}. */
    private ModelVersion record(Publication p, String weightsSha256, String partitionSha256, long now) {
        if (referenceSha256 == null) {
            referenceSha256 = ModelUpdateChunks.sha256(reference());
        }
        return ModelVersion.newBuilder().setRunId(options.runId()).setModelId(options.modelId()).setVersion(p.version())
                .setWeightsSha256(weightsSha256).setPartitionSha256(partitionSha256)
                .setTrainerSha256(p.trainerSha256()).setReferenceSha256(referenceSha256)
                .setGroups(p.groups().stream().map(g -> new LearnedGroup(g.scheduleId(), g.pHat(), List.copyOf(g.rolloutIds()))).toList())
                .setReplayIds(List.copyOf(p.replayIds())).setConfig(p.first() ? config : null)
                .setForkedFrom(p.forkedFrom() == null ? null : new ForkPoint(p.forkedFrom().runId(), p.forkedFrom().version(),
                        p.forkedFrom().weightsSha256()))
                .setCreatedAtMs(now).build();
    }

    private byte[] reference() {
        try {
            return checkpoints.reference().orElseThrow(() -> new IllegalStateException(checkpoints.dir() + " has no reference.weights"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The newest version of the policy whose chunks are all on model-updates (-1 if none). */
    long latestPublished() {
        ModelUpdateChunks.Assembler chunks = new ModelUpdateChunks.Assembler(options.modelId());
        long newest = -1;
        try (KafkaConsumer<String, byte[]> reader = TopicReads.consumer(options.bootstrapServers(),
                Map.of(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, topics.modelUpdates.maxMessageBytes()))) {
            for (ConsumerRecord<String, byte[]> record : TopicReads.readAll(reader, topics.modelUpdates)) {
                if (record.value() == null) {
                    continue;
                }
                ModelUpdate chunk = topics.modelUpdates.valueSerde().deserializer().deserialize(record.topic(), record.value());
                try {
                    Optional<ModelUpdateChunks.Version> whole = chunks.add(chunk);
                    if (whole.isPresent()) {
                        newest = whole.get().version();
                    }
                } catch (ModelUpdateChunks.CorruptUpdateException e) {
                    log.warn("model-updates: {}", e.getMessage());
                }
            }
        }
        return newest;
    }

    /** Whether a final event for this version is already on run-events (a restart after the last transaction). */
    boolean finalPublished(long version) {
        try (KafkaConsumer<String, byte[]> reader = TopicReads.consumer(options.bootstrapServers(), Map.of())) {
            for (ConsumerRecord<String, byte[]> record : TopicReads.readAll(reader, topics.runEvents)) {
                RunEvent event = topics.runEvents.valueSerde().deserializer().deserialize(record.topic(), record.value());
                if (event.getSource().equals(RunEvents.LEARNER) && event.getType().equals(RunEvents.FINAL)
                        && event.getLearnerVersion() == version && event.getRunId().equals(options.runId())) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Lets the version in flight finish (up to a minute), then closes the producer. */
    @Override
    public void close() {
        try {
            inFlight.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            log.warn("the last version was not published: {}", e.toString());
        }
        thread.shutdown();
        producer.close(Duration.ofSeconds(5));
    }
}
