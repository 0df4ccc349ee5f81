package io.pacedrl.learner;

import ai.djl.engine.Engine;
import io.pacedrl.learner.LearnerCheckpoint.Contents;
import io.pacedrl.learner.LearnerCheckpoint.Event;
import io.pacedrl.learner.LearnerCheckpoint.Publication;
import io.pacedrl.learning.HeldOutEvaluation;
import io.pacedrl.learning.Method;
import io.pacedrl.learning.PartitionFunction;
import io.pacedrl.learning.PolicyLearner.Trajectory;
import io.pacedrl.learning.PolicyLearner;
import io.pacedrl.learning.RunMetrics;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.Torch;
import io.pacedrl.registry.RecordDecodingException;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.BatchScheduled;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.DynamicBatchClosed;
import io.pacedrl.schemas.GroupsReleased;
import io.pacedrl.schemas.PromptEmbedding;
import io.pacedrl.schemas.ReplayDrawn;
import io.pacedrl.schemas.SchedulerDecision;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.ReplayRecord;
import io.pacedrl.schemas.RunEvent;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.Verifiers;
import io.pacedrl.topics.ClusterOptions;
import io.pacedrl.topics.DeadLetters;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.PoolEmbeddings;
import io.pacedrl.topics.PromptRecords;
import io.pacedrl.topics.RunEvents;
import io.pacedrl.topics.ServiceConfigOptions;
import io.pacedrl.topics.ServiceLifecycle;
import io.pacedrl.topics.TopicCreator;
import io.pacedrl.topics.TopicSpec;
import io.pacedrl.topics.Topics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * The learner service. It reads the pool once, then consumes scored rollouts, replay draws and the
 * scheduler's decisions; for update v it waits for batch v ({@link BatchAssembler}), applies the
 * configured method ({@link PolicyLearner}), and publishes version v + 1 in one transaction with
 * the offsets it consumed: Z_φ's parameters and the policy's weights, each in chunks with their
 * SHA-256 (the policy's with the batch's provenance), and a metrics event. Version 0 also carries
 * the pool's embeddings e(x), once, followed by their end markers: from them and Z_φ the scheduler
 * computes p̂ itself. It evaluates on the held-out prompts every {@code eval-every} versions, and at
 * the end.
 *
 * <p>Exactly once: before each transaction a checkpoint is written (weights, optimiser moments, Z_φ,
 * consumer positions, pending records, the publication itself). A restart, even after kill -9,
 * resumes from the newest checkpoint; if its transaction never committed, it is sent again from
 * the checkpoint, so no version is lost or published twice, and no batch is lost or learned twice.
 *
 * <p>Serialising and sending a version and writing its checkpoint run on a second thread, so the
 * learner's own thread spends its time on the model; it hands a version over and goes on with the
 * next batch (one version in flight at most).
 */
public final class LearnerService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LearnerService.class);
    public static final String UNUSABLE_ROLLOUT = "UNUSABLE_ROLLOUT";
    public static final String UNKNOWN_PROMPT = "UNKNOWN_PROMPT";
    public static final String FORMAT = "paced-rl-weights";
    /** Z_φ travels on model-updates as model {@code <model id>/partition-function}, in {@link PartitionFunction#FORMAT}. */
    public static final String PARTITION_SUFFIX = "/partition-function";
    /** Bins of the p̂ histograms and calibration tables in run events. */
    public static final int BINS = 10;
    /** Pool prompts, a seeded sample, whose p̂ makes each version's histogram (the whole pool when smaller). */
    public static final int HISTOGRAM_SAMPLE = 4096;
    /**
     * Fault injection for crash tests: with this system property set to a version, the process
     * halts (as kill -9 would stop it) after that version's checkpoint is written and its records
     * are sent, before the transaction commits: the one window a plain kill rarely hits.
     */
    public static final String HALT_BEFORE_COMMIT = "paced-rl.fault.halt-before-commit";

    /**
     * @param modelId          the policy's name on model-updates (generators follow it)
     * @param runId            the run's id on its run events
     * @param checkpointDir    where checkpoints go; a restart resumes from it
     * @param referenceWeights π_ref for a fresh run (published as version 0); null to resume only
     * @param threads          PyTorch intra-op threads
     * @param poolWait         how long to wait at start-up for the pool to be on its topic
     */
    public record Options(String bootstrapServers, String schemaRegistryUrl, String topicPrefix, String modelId, String runId,
            Path checkpointDir, Path referenceWeights, int threads, Duration poolWait) {

        public Options {
            Topics.checkPrefix(topicPrefix);
            SchemaRegistryClient.parseUrl(schemaRegistryUrl);
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be ≥ 1, got " + threads);
            }
            if (referenceWeights != null && !Files.isRegularFile(referenceWeights)) {
                throw new IllegalArgumentException("weights file " + referenceWeights + " does not exist");
            }
        }

        public static Options of(String bootstrapServers, String schemaRegistryUrl, String topicPrefix, Path checkpointDir,
                Path referenceWeights) {
            return new Options(bootstrapServers, schemaRegistryUrl, topicPrefix, "policy", ServiceConfigOptions.defaultRunId(topicPrefix),
                    checkpointDir, referenceWeights, 1, Duration.ofMinutes(5));
        }
    }

    /**
     * Where the learner's time went, in seconds, since it started. On its own thread: waiting for a
     * batch, assembling it (polling, decoding, building the inputs), model compute (the update,
     * Z_φ's fit, β·KL, the p̂ refresh), taking the state to publish, waiting for the previous version
     * to be sent, evaluating. On the publishing thread: serialising and sending, and checkpoints.
     */
    private record Timings(double waiting, double assembling, double compute, double snapshot, double handOff,
            double evaluating, double publishing, double checkpointing) {

        /** The share of the learner thread's step time spent outside model compute. */
        public double pipelineShare() {
            double outside = assembling + snapshot + handOff;
            return outside / (outside + compute);
        }
    }

    private final Options options;
    private final TrainingConfig config;
    private final Method method;
    private final Topics topics;
    private final LearnerCheckpoint checkpoints;
    private final KafkaConsumer<String, byte[]> input;
    private final KafkaProducer<String, Object> producer;
    private final ExecutorService publisher;
    private final Thread thread;
    private final BatchAssembler.Settings settings;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final CompletableFuture<Long> finished = new CompletableFuture<>();
    private volatile boolean running = true;
    private volatile long version = -1;
    private final double[] publisherSeconds = new double[2];

    // Learner-thread state.
    private PolicyLearner learner;
    private HeldOutEvaluation evaluation;
    private BatchAssembler assembler;
    private List<TaskPrompt> pool;
    private Map<String, Integer> poolIndex;
    /** The pool prompts each version's p̂ histogram is made from. */
    private int[] histogramSample;
    private Map<String, Double> totals = new LinkedHashMap<>();
    private final List<Event> pendingEvents = new ArrayList<>();
    private final List<DeadLetter> deadLetters = new ArrayList<>();
    private CompletableFuture<Void> inFlight = CompletableFuture.completedFuture(null);
    private double waiting;
    private double assembling;
    private double compute;
    private double snapshot;
    private double handOff;
    private double evaluating;

    private LearnerService(Options options, TrainingConfig config) {
        this.options = options;
        this.config = config;
        this.method = config.method();
        this.topics = new Topics(options.topicPrefix(), new SchemaRegistryClient(options.schemaRegistryUrl()));
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers()))) {
            new TopicCreator(admin, Duration.ofSeconds(60)).ensure(topics.all());
        }
        this.checkpoints = new LearnerCheckpoint(options.checkpointDir());
        this.settings = new BatchAssembler.Settings(method.prompts() == Method.Prompts.DYNAMIC, method.replay(),
                config.promptsPerStep(), config.maxStaleness());
        this.input = consumer(Map.of(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000));
        this.producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers(),
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, options.topicPrefix() + "learner-" + options.modelId(),
                ProducerConfig.LINGER_MS_CONFIG, 5, ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024,
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG, topics.modelUpdates.maxMessageBytes()),
                new StringSerializer(), topics.valueSerializer());
        this.publisher = Executors.newSingleThreadExecutor(r -> new Thread(r, "learner-publisher"));
        this.thread = new Thread(this::run, "learner");
    }

    /** Starts the learner; it loads the pool, then resumes from its checkpoint or publishes version 0. */
    public static LearnerService start(Options options, TrainingConfig config) {
        Torch.configure(options.threads());
        LearnerService service = new LearnerService(options, config);
        service.thread.start();
        log.info("learner started: {} for {} updates of {} prompts × {} rollouts, checkpoints in {}", config.method(),
                config.steps(), config.promptsPerStep(), config.groupSize(), options.checkpointDir());
        return service;
    }

    /** The newest version handed over for publishing (-1 before version 0). */
    public long version() {
        return version;
    }

    /** Completes with the last version once the final evaluation is published; exceptionally if the learner failed. */
    public CompletableFuture<Long> finished() {
        return finished;
    }

    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure.get());
    }

    private void run() {
        try {
            producer.initTransactions();
            loadPool();
            resumeOrBegin();
            while (running && !config.finished(version, totals.getOrDefault("rollouts-consumed", 0.0))) {
                Optional<BatchAssembler.Batch> batch = takeBatch();
                while (running && batch.isEmpty()) {
                    checkPublisher();
                    feed();
                    batch = takeBatch();
                }
                if (batch.isPresent()) {
                    step(batch.get());
                }
            }
            if (running) {
                finish();
            }
        } catch (WakeupException e) {
            // closing
        } catch (Throwable e) {
            failure.set(e);
            finished.completeExceptionally(e);
            log.error("learner stopped", e);
        } finally {
            try {
                inFlight.get(60, TimeUnit.SECONDS);
            } catch (Exception e) {
                log.warn("the last version was not published: {}", e.toString());
            }
            publisher.shutdown();
            input.close();
            producer.close(Duration.ofSeconds(5));
        }
    }

    // -------------------------------------------------------------------------------------------
    // Start-up

    /** The pool as it is on the prompts topic now (latest value per id); waits until it can fill a batch. */
    private void loadPool() throws InterruptedException {
        long deadline = System.nanoTime() + options.poolWait().toNanos();
        while (true) {
            Map<String, TaskPrompt> latest = new TreeMap<>();
            try (KafkaConsumer<String, byte[]> reader = consumer(Map.of())) {
                for (ConsumerRecord<String, byte[]> record : readAll(reader, topics.prompts)) {
                    if (record.value() == null) {
                        latest.remove(record.key());
                        continue;
                    }
                    try {
                        Prompt prompt = topics.prompts.valueSerde().deserializer().deserialize(record.topic(), record.value());
                        latest.put(prompt.getId(), PromptRecords.toTask(prompt));
                    } catch (RuntimeException e) {
                        // The difficulty stream dead-letters the pool's bad records; the learner leaves them out.
                        log.warn("pool record {}-{}@{} left out: {}", record.topic(), record.partition(), record.offset(), e.getMessage());
                    }
                }
            }
            List<TaskPrompt> train = latest.values().stream().filter(p -> p.split() == TaskPrompt.Split.TRAIN).toList();
            List<TaskPrompt> heldOut = new ArrayList<>(latest.values().stream().filter(p -> p.split() == TaskPrompt.Split.HELD_OUT)
                    .toList());
            // Evaluations use the first eval-prompts of these: a seeded shuffle, since ids sort by family.
            Collections.shuffle(heldOut, new Random(config.seed()));
            if (train.size() >= config.promptsPerStep() && !heldOut.isEmpty()) {
                pool = train;
                poolIndex = new HashMap<>();
                for (int i = 0; i < train.size(); i++) {
                    poolIndex.put(train.get(i).id(), i);
                }
                evaluation = new HeldOutEvaluation(config, train, heldOut, Verifiers.load());
                log.info("learner: pool of {} training and {} held-out prompts", train.size(), heldOut.size());
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("topic '" + topics.prompts.name() + "' holds " + train.size()
                        + " training and " + heldOut.size() + " held-out prompts after " + options.poolWait().toSeconds()
                        + " s; a run needs at least prompts-per-step = " + config.promptsPerStep()
                        + " training prompts and one held-out prompt (paced-rl train loads a pool)");
            }
            Thread.sleep(1000);
        }
    }

    /**
     * From the newest checkpoint, sending its version again if its transaction never committed; or,
     * with no checkpoint and nothing on model-updates, from π_ref as version 0.
     */
    private void resumeOrBegin() throws Exception {
        long published = latestPublished();
        Optional<Contents> saved = checkpoints.latest();
        byte[] reference = checkpoints.reference().orElse(null);
        if (saved.isEmpty()) {
            if (published >= 0) {
                throw new IllegalStateException("model-updates already has version " + published + " of '" + options.modelId()
                        + "', but " + checkpoints.dir() + " has no checkpoint to resume it from; use this run's checkpoint"
                        + " directory, or new topics (--topic-prefix)");
            }
            if (options.referenceWeights() == null) {
                throw new IllegalStateException("a new run needs the reference policy's weights (--weights)");
            }
            reference = Files.readAllBytes(options.referenceWeights());
            checkpoints.writeReference(reference);
        } else if (reference == null) {
            throw new IllegalStateException(checkpoints.dir() + " has checkpoints but no reference.weights");
        }
        learner = new PolicyLearner(config, reference, pool.stream().map(TaskPrompt::text).toList());
        byte[] partition = learner.state().partition();
        if (partition != null && partition.length > ModelUpdateChunks.CHUNK_BYTES) {
            // One record per version: the scheduler never holds half a Z_φ across a restart.
            throw new IllegalArgumentException("partition-hidden = " + config.partitionHidden() + " makes Z_φ " + partition.length
                    + " bytes; it must fit one model-update chunk of " + ModelUpdateChunks.CHUNK_BYTES + " bytes");
        }
        histogramSample = pool.size() <= HISTOGRAM_SAMPLE ? java.util.stream.IntStream.range(0, pool.size()).toArray()
                : new io.pacedrl.learning.UniformSampler(config.seed() + 37).select(new double[pool.size()], HISTOGRAM_SAMPLE, i -> false);
        assignInput();
        if (saved.isEmpty()) {
            assembler = new BatchAssembler(settings);
            totals.put("rollouts-consumed", 0.0);
            Publication first = new Publication(0, null, null, method.estimatesAccuracy(), List.of(), List.of(),
                    List.of(new Event("lifecycle", 0, System.currentTimeMillis(), Map.of(), Map.of("state", "started",
                            "method", method.key()))), List.of(), Map.of());
            handOver(first, learner.snapshot(), assembler.snapshot(), Map.copyOf(totals));
            log.info("learner: published the reference policy as version 0");
        } else {
            Contents c = saved.get();
            if (c.version() > config.steps()) {
                throw new IllegalStateException("the checkpoint is at version " + c.version() + ", beyond steps = " + config.steps());
            }
            learner.restore(c.state());
            assembler = new BatchAssembler(settings, c.assembler());
            totals = new LinkedHashMap<>(c.totals());
            for (Map.Entry<String, Long> position : c.publication().positions().entrySet()) {
                int colon = position.getKey().lastIndexOf(':');
                input.seek(new TopicPartition(position.getKey().substring(0, colon),
                        Integer.parseInt(position.getKey().substring(colon + 1))), position.getValue());
            }
            if (published == c.version() - 1) {
                log.info("learner: version {} was checkpointed but never published; publishing it again", c.version());
                inFlight = CompletableFuture.runAsync(() -> send(c.publication()), publisher);
            } else if (published != c.version()) {
                throw new IllegalStateException("the checkpoint in " + checkpoints.dir() + " is at version " + c.version()
                        + " but model-updates has version " + published + " of '" + options.modelId() + "'");
            }
            version = c.version();
            log.info("learner: resumed at version {} from {}", version, checkpoints.dir());
        }
        if (evaluationDue(version)) {
            evaluate();
        }
    }

    /** The newest version of this model whose chunks are all on model-updates (-1 if none). */
    private long latestPublished() {
        ModelUpdateChunks.Assembler chunks = new ModelUpdateChunks.Assembler(options.modelId());
        long newest = -1;
        try (KafkaConsumer<String, byte[]> reader = consumer(Map.of(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG,
                topics.modelUpdates.maxMessageBytes()))) {
            for (ConsumerRecord<String, byte[]> record : readAll(reader, topics.modelUpdates)) {
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

    /** Scored rollouts, replay draws and the scheduler's decisions, every partition, from the start unless a checkpoint says where. */
    private void assignInput() {
        List<TopicPartition> partitions = new ArrayList<>();
        for (TopicSpec<?, ?> spec : List.of(topics.scoredRollouts, topics.replay, topics.schedulerDecisions)) {
            for (int p = 0; p < spec.partitions(); p++) {
                partitions.add(new TopicPartition(spec.name(), p));
            }
        }
        input.assign(partitions);
        input.seekToBeginning(partitions);
    }

    // -------------------------------------------------------------------------------------------
    // The loop

    /**
     * One poll of the inputs into the assembler; what cannot be used is dead-lettered. Taking
     * records already fetched, and decoding them, is time spent on the pipeline; blocking until
     * some arrive is time spent waiting.
     */
    private void feed() {
        long start = System.nanoTime();
        ConsumerRecords<String, byte[]> records = input.poll(Duration.ZERO);
        if (records.isEmpty()) {
            records = input.poll(Duration.ofMillis(100));
            long polled = System.nanoTime();
            waiting += seconds(start, polled);
            start = polled;
        }
        for (ConsumerRecord<String, byte[]> record : records) {
            if (record.value() == null) {
                continue;
            }
            try {
                if (record.topic().equals(topics.scoredRollouts.name())) {
                    ScoredRollout scored = topics.scoredRollouts.valueSerde().deserializer().deserialize(record.topic(), record.value());
                    if (!poolIndex.containsKey(scored.getRollout().getPrompt().getId())) {
                        deadLetters.add(deadLetter(record, UNKNOWN_PROMPT, "prompt '" + scored.getRollout().getPrompt().getId()
                                + "' was not in the pool when the learner started"));
                        assembler.released(List.of(scored.getRollout().getScheduleId()));
                        continue;
                    }
                    assembler.addRollout(scored);
                } else if (record.topic().equals(topics.replay.name())) {
                    assembler.addReplay(topics.replay.valueSerde().deserializer().deserialize(record.topic(), record.value()));
                } else {
                    decision(topics.schedulerDecisions.valueSerde().deserializer().deserialize(record.topic(), record.value()));
                }
            } catch (RecordDecodingException e) {
                if (e.isTransient()) {
                    throw e;
                }
                deadLetters.add(deadLetter(record, e.reason().name(), e.getMessage()));
            } catch (IllegalArgumentException e) {
                deadLetters.add(deadLetter(record, UNUSABLE_ROLLOUT, e.getMessage()));
            }
        }
        assembling += seconds(start, System.nanoTime());
    }

    /** The next update's batch, if it is all here. */
    private Optional<BatchAssembler.Batch> takeBatch() {
        long start = System.nanoTime();
        Optional<BatchAssembler.Batch> batch = assembler.take();
        assembling += seconds(start, System.nanoTime());
        return batch;
    }

    /** The scheduler's decisions: the p̂ of scheduled groups, released groups, closed dynamic batches and replay draws. */
    private void decision(SchedulerDecision decision) {
        if (decision.getDecision() instanceof BatchScheduled batch) {
            batch.getGroups().forEach(g -> assembler.scheduled(g.getScheduleId(), g.getPHat()));
        } else if (decision.getDecision() instanceof GroupsReleased released) {
            assembler.released(List.copyOf(released.getScheduleIds()));
        } else if (decision.getDecision() instanceof DynamicBatchClosed closed) {
            assembler.closed(closed.getBatchId(), List.copyOf(closed.getKept()));
        } else if (decision.getDecision() instanceof ReplayDrawn drawn) {
            assembler.replayDrawn(drawn.getForVersion(), drawn.getTrajectoryIds().size());
        }
    }

    /** Update {@code version} → {@code version + 1} on the batch, then hand the new version over. */
    private void step(BatchAssembler.Batch batch) throws Exception {
        long start = System.nanoTime();
        List<PolicyLearner.Group> groups = new ArrayList<>();
        List<Trajectory> fresh = new ArrayList<>();
        double[] estimates = new double[batch.groups().size()];
        double[] observed = new double[batch.groups().size()];
        int informative = 0;
        double rewardSum = 0;
        for (int g = 0; g < batch.groups().size(); g++) {
            BatchAssembler.Group group = batch.groups().get(g);
            int prompt = poolIndex.get(group.promptId());
            List<Trajectory> trajectories = group.rollouts().stream().map(r -> trajectory(r, prompt)).toList();
            groups.add(new PolicyLearner.Group(prompt, trajectories));
            fresh.addAll(trajectories);
            // The estimate the scheduler chose it with: from the Z_φ of the version that was current then.
            estimates[g] = group.pHat() == null ? Double.NaN : group.pHat();
            observed[g] = group.correct() / (double) group.rollouts().size();
            informative += group.informative() ? 1 : 0;
            rewardSum += trajectories.stream().mapToDouble(Trajectory::reward).sum();
        }
        List<Trajectory> replayed = new ArrayList<>();
        for (ReplayRecord record : batch.replay()) {
            Integer prompt = poolIndex.get(record.getTrajectory().getRollout().getPrompt().getId());
            if (prompt != null) {
                replayed.add(trajectory(record.getTrajectory(), prompt));
            }
        }
        Map<String, Long> positions = positions();
        List<DeadLetter> letters = List.copyOf(deadLetters);
        deadLetters.clear();
        long computeStart = System.nanoTime();
        assembling += seconds(start, computeStart);

        // Dropout masks follow from (seed, version), so a resumed learner draws what this one would.
        Engine.getInstance().setRandomSeed((int) (config.seed() * 1_000_003L + version));
        PolicyLearner.UpdateResult update = fresh.isEmpty() && replayed.isEmpty()
                ? new PolicyLearner.UpdateResult(Double.NaN, Double.NaN, Double.NaN)
                : learner.update((int) version + 1, groups, fresh, replayed, false);
        double[] sampledPHat = method.estimatesAccuracy() ? learner.accuracyEstimates(histogramSample) : null;
        long computeEnd = System.nanoTime();
        compute += seconds(computeStart, computeEnd);
        PolicyLearner.Snapshot state = learner.snapshot();
        snapshot += seconds(computeEnd, System.nanoTime());

        long next = version + 1;
        totals.merge("rollouts-consumed", (double) batch.consumed(), Double::sum);
        totals.merge("stale-groups", (double) batch.stale().size(), Double::sum);
        totals.merge("released-groups", (double) batch.released(), Double::sum);
        Map<String, Double> metrics = new LinkedHashMap<>();
        metrics.put("loss", update.loss());
        metrics.put("gradient-norm", update.gradientNorm());
        metrics.put("beta-kl", update.betaKl());
        boolean estimated = method.estimatesAccuracy() && estimates.length >= 3 && Arrays.stream(estimates).noneMatch(Double::isNaN);
        metrics.put("p-hat-spearman", estimated ? RunMetrics.spearman(estimates, observed) : Double.NaN);
        metrics.put("mean-p-hat", estimated ? Arrays.stream(estimates).average().orElse(Double.NaN) : Double.NaN);
        metrics.put("mean-reward", fresh.isEmpty() ? Double.NaN : rewardSum / fresh.size());
        metrics.put("informative-share", batch.groups().isEmpty() ? Double.NaN : informative / (double) batch.groups().size());
        metrics.put("groups", (double) batch.groups().size());
        metrics.put("rollouts", (double) fresh.size());
        metrics.put("replayed", (double) replayed.size());
        metrics.put("stale-groups", (double) batch.stale().size());
        metrics.put("discarded-groups", (double) batch.discarded().size());
        metrics.put("released-groups", (double) batch.released());
        batch.staleness().forEach((behind, count) -> metrics.put("staleness-" + behind, (double) count));
        metrics.put("mean-staleness", batch.staleness().entrySet().stream().mapToDouble(e -> e.getKey() * (double) e.getValue())
                .sum() / Math.max(1, batch.staleness().values().stream().mapToInt(Integer::intValue).sum()));
        metrics.put("late-records", (double) assembler.late());
        if (sampledPHat != null) {
            int[] histogram = new int[BINS];
            for (double p : sampledPHat) {
                histogram[bin(p)]++;
            }
            for (int b = 0; b < BINS; b++) {
                metrics.put("p-hat-bin-" + b, (double) histogram[b]);
            }
        }
        metrics.putAll(totals);
        metrics.putAll(timeSplit());
        pendingEvents.add(new Event(RunEvents.METRICS, next, System.currentTimeMillis(), metrics, Map.of()));
        Publication publication = new Publication(next, null, null, false, ids(batch.groups()),
                batch.replay().stream().map(r -> r.getTrajectory().getRollout().getRolloutId()).toList(), List.copyOf(pendingEvents),
                letters, positions);
        pendingEvents.clear();
        handOver(publication, state, assembler.snapshot(), Map.copyOf(totals));
        version = next;
        if (evaluationDue(version)) {
            evaluate();
        }
    }

    private Trajectory trajectory(ScoredRollout scored, int prompt) {
        var rollout = scored.getRollout();
        float[] behaviour = new float[rollout.getBehaviourLogProbs().size()];
        for (int i = 0; i < behaviour.length; i++) {
            behaviour[i] = rollout.getBehaviourLogProbs().get(i);
        }
        return new Trajectory(rollout.getRolloutId(), prompt, rollout.getPromptTokens().stream().mapToInt(Integer::intValue).toArray(),
                rollout.getResponseTokens().stream().mapToInt(Integer::intValue).toArray(), behaviour, scored.getReward(),
                scored.getCorrect());
    }

    /** p̂'s histogram bin: tenths of [0, 1]. */
    private static int bin(double p) {
        return Math.min(BINS - 1, Math.max(0, (int) (p * BINS)));
    }

    private boolean evaluationDue(long at) {
        return at % config.evalEvery() == 0 || config.finished(at, totals.getOrDefault("rollouts-consumed", 0.0));
    }

    /** Held-out evaluation of the version just handed over; published with the next version. */
    private void evaluate() {
        long start = System.nanoTime();
        HeldOutEvaluation.Point point = evaluation.evaluate(learner.policy(),
                method.estimatesAccuracy() ? learner::accuracyEstimates : null, (int) version);
        Map<String, Double> metrics = new LinkedHashMap<>(point.passAtK());
        metrics.put("pass@1", point.passAt1());
        metrics.put("avg@k", point.averageAtK());
        metrics.put("probe-accuracy", point.probeAccuracy());
        metrics.put("probe-spearman", point.probeSpearman());
        metrics.put("rollouts-consumed", totals.getOrDefault("rollouts-consumed", 0.0));
        metrics.put("samples", (double) config.evalSamples());
        metrics.put("prompts", (double) evaluation.heldOut().size());
        if (point.probeEstimates() != null) {
            // Calibration: the probe prompts binned by p̂, each bin's mean p̂ and mean observed accuracy.
            double[] sumP = new double[BINS];
            double[] sumObserved = new double[BINS];
            int[] count = new int[BINS];
            for (int i = 0; i < point.probeEstimates().length; i++) {
                int bin = bin(point.probeEstimates()[i]);
                sumP[bin] += point.probeEstimates()[i];
                sumObserved[bin] += point.probeObserved()[i];
                count[bin]++;
            }
            for (int b = 0; b < BINS; b++) {
                metrics.put("calibration-count-" + b, (double) count[b]);
                if (count[b] > 0) {
                    metrics.put("calibration-p-hat-" + b, sumP[b] / count[b]);
                    metrics.put("calibration-accuracy-" + b, sumObserved[b] / count[b]);
                }
            }
        }
        evaluating += seconds(start, System.nanoTime());
        pendingEvents.add(new Event(RunEvents.EVAL, version, System.currentTimeMillis(), metrics, Map.of()));
        log.info("learner: version {} held-out pass@1 {}", version, String.format("%.3f", point.passAt1()));
    }

    /** The final evaluation, published with any evaluation still pending; then the learner is done. */
    private void finish() throws Exception {
        inFlight.get();
        if (finalPublished()) {
            log.info("learner: the final evaluation of version {} is already published", version);
        } else {
            long start = System.nanoTime();
            HeldOutEvaluation.Final last = evaluation.finalEvaluation(learner.policy());
            evaluating += seconds(start, System.nanoTime());
            Map<String, Double> metrics = new LinkedHashMap<>(last.passAtK());
            metrics.put("avg@k", last.averageAtK());
            metrics.put("distinct-correct", last.distinctCorrect());
            metrics.put("distinct-correct-countdown", last.distinctCorrectCountdown());
            metrics.put("samples", (double) config.finalSamples());
            metrics.putAll(totals);
            metrics.putAll(timeSplit());
            pendingEvents.add(new Event(RunEvents.FINAL, version, System.currentTimeMillis(), metrics, Map.of()));
            Publication closing = new Publication(version, null, null, false, List.of(), List.of(), List.copyOf(pendingEvents),
                    List.copyOf(deadLetters), Map.of());
            pendingEvents.clear();
            send(closing);
        }
        finished.complete(version);
        log.info("learner: done at version {}", version);
    }

    /** Whether a final event for this version is already on run-events (a restart after the last transaction). */
    private boolean finalPublished() {
        try (KafkaConsumer<String, byte[]> reader = consumer(Map.of())) {
            for (ConsumerRecord<String, byte[]> record : readAll(reader, topics.runEvents)) {
                RunEvent event = topics.runEvents.valueSerde().deserializer().deserialize(record.topic(), record.value());
                if (event.getSource().equals(RunEvents.LEARNER) && event.getType().equals(RunEvents.FINAL)
                        && event.getLearnerVersion() == version && event.getRunId().equals(options.runId())) {
                    return true;
                }
            }
        }
        return false;
    }

    // -------------------------------------------------------------------------------------------
    // Publishing

    /**
     * Waits for the previous version to be out, then has the publishing thread turn the learner's
     * state into bytes, checkpoint this version and send it in one transaction.
     */
    private void handOver(Publication publication, PolicyLearner.Snapshot state, BatchAssembler.Snapshot pending,
            Map<String, Double> totalsNow) throws Exception {
        long start = System.nanoTime();
        waitForPublisher();
        handOff += seconds(start, System.nanoTime());
        version = publication.version();
        inFlight = CompletableFuture.runAsync(() -> {
            long t0 = System.nanoTime();
            PolicyLearner.State bytes;
            try (state) {
                bytes = state.toState();
            }
            Contents contents = new Contents(publication.withModel(bytes), bytes, pending, totalsNow);
            try {
                checkpoints.write(contents);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write the checkpoint of version " + contents.version(), e);
            }
            long t1 = System.nanoTime();
            send(contents.publication());
            synchronized (publisherSeconds) {
                publisherSeconds[0] += seconds(t1, System.nanoTime());
                publisherSeconds[1] += seconds(t0, t1);
            }
        }, publisher);
    }

    private void waitForPublisher() throws Exception {
        try {
            inFlight.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("publishing version " + version + " failed: " + e.getCause().getMessage(), e.getCause());
        }
    }

    private void checkPublisher() throws Exception {
        if (inFlight.isCompletedExceptionally()) {
            waitForPublisher();
        }
    }

    /** One version's records and offsets in one transaction. */
    private void send(Publication p) {
        long now = System.currentTimeMillis();
        producer.beginTransaction();
        if (p.embeddings()) {
            // Once per pool: e(x) of every pool prompt, then a marker on every partition.
            String reference = ModelUpdateChunks.sha256(checkpointedReference());
            for (int i = 0; i < pool.size(); i++) {
                String id = pool.get(i).id();
                producer.send(new ProducerRecord<>(topics.promptEmbeddings.name(), id,
                        PoolEmbeddings.of(id, learner.embedding(i), reference, now)));
            }
            for (ProducerRecord<String, PromptEmbedding> marker : PoolEmbeddings.endMarkers(topics.promptEmbeddings, reference, now)) {
                producer.send(new ProducerRecord<>(marker.topic(), marker.partition(), marker.key(), marker.value()));
            }
        }
        if (p.weights() != null) {
            // Z_φ before the policy: a reader that learns of the version from the policy already has its Z_φ.
            List<ModelUpdate> chunks = new ArrayList<>();
            if (p.partition() != null) {
                chunks.addAll(ModelUpdateChunks.split(partitionModelId(), p.version(), PartitionFunction.FORMAT, p.partition(),
                        p.version(), List.of(), List.of(), now));
            }
            chunks.addAll(ModelUpdateChunks.split(options.modelId(), p.version(), FORMAT, p.weights(), p.version(),
                    p.rolloutIds(), p.replayIds(), now));
            for (ModelUpdate chunk : chunks) {
                producer.send(new ProducerRecord<>(topics.modelUpdates.name(), ModelUpdateChunks.key(chunk.getModelId(),
                        chunk.getChunkIndex()), chunk));
            }
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
        if (p.weights() != null && Long.toString(p.version()).equals(System.getProperty(HALT_BEFORE_COMMIT))) {
            producer.flush();
            Runtime.getRuntime().halt(137);
        }
        producer.commitTransaction();
    }

    /** Z_φ's name on model-updates: the policy's, marked. */
    private String partitionModelId() {
        return options.modelId() + PARTITION_SUFFIX;
    }

    private byte[] checkpointedReference() {
        try {
            return checkpoints.reference().orElseThrow(() -> new IllegalStateException(checkpoints.dir() + " has no reference.weights"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Map<String, Long> positions() {
        Map<String, Long> positions = new TreeMap<>();
        for (TopicPartition partition : input.assignment()) {
            positions.put(partition.topic() + ":" + partition.partition(), input.position(partition));
        }
        return positions;
    }

    private Map<String, Double> timeSplit() {
        Timings t = currentTimings();
        Map<String, Double> split = new LinkedHashMap<>();
        split.put("seconds-waiting", t.waiting());
        split.put("seconds-assembling", t.assembling());
        split.put("seconds-compute", t.compute());
        split.put("seconds-snapshot", t.snapshot());
        split.put("seconds-hand-off", t.handOff());
        split.put("seconds-evaluating", t.evaluating());
        split.put("seconds-publishing", t.publishing());
        split.put("seconds-checkpointing", t.checkpointing());
        split.put("pipeline-share", t.pipelineShare());
        return split;
    }

    private Timings currentTimings() {
        synchronized (publisherSeconds) {
            return new Timings(waiting, assembling, compute, snapshot, handOff, evaluating, publisherSeconds[0], publisherSeconds[1]);
        }
    }

    private static List<String> ids(List<BatchAssembler.Group> groups) {
        return groups.stream().flatMap(g -> g.rollouts().stream()).map(r -> r.getRollout().getRolloutId()).toList();
    }

    private DeadLetter deadLetter(ConsumerRecord<String, byte[]> record, String type, String reason) {
        return DeadLetters.of(record, type, reason, RunEvents.LEARNER, System.currentTimeMillis());
    }

    private KafkaConsumer<String, byte[]> consumer(Map<String, Object> extra) {
        Map<String, Object> properties = new HashMap<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers(),
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed", ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false));
        properties.putAll(extra);
        return new KafkaConsumer<>(properties, new StringDeserializer(), new ByteArrayDeserializer());
    }

    /** Every record of a topic up to its end now, all partitions, without a group. */
    private static List<ConsumerRecord<String, byte[]>> readAll(KafkaConsumer<String, byte[]> reader, TopicSpec<?, ?> spec) {
        List<TopicPartition> partitions = new ArrayList<>();
        for (int p = 0; p < spec.partitions(); p++) {
            partitions.add(new TopicPartition(spec.name(), p));
        }
        reader.assign(partitions);
        reader.seekToBeginning(partitions);
        Map<TopicPartition, Long> end = reader.endOffsets(partitions);
        List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
        while (partitions.stream().anyMatch(p -> reader.position(p) < end.get(p))) {
            reader.poll(Duration.ofMillis(200)).forEach(out::add);
        }
        return out;
    }

    private static double seconds(long fromNanos, long toNanos) {
        return (toNanos - fromNanos) / 1e9;
    }

    @Override
    public void close() {
        running = false;
        input.wakeup();
        try {
            thread.join(120_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The service on the command line. */
    @Command(name = "learner-service", mixinStandardHelpOptions = true,
            description = "Learn from scored rollouts and replay; publish model updates, log Z and metrics, exactly once.")
    public static final class Main implements Callable<Integer> {
        @Mixin
        ClusterOptions cluster;

        @Option(names = "--checkpoint-dir", required = true, paramLabel = "DIR",
                description = "Checkpoints; a restart resumes from the newest.")
        Path checkpointDir;

        @Option(names = "--weights", paramLabel = "FILE", description = "The reference policy (π_ref), for a new run.")
        Path weights;

        @Option(names = "--model-id", defaultValue = "policy", paramLabel = "ID", description = "Default: ${DEFAULT-VALUE}.")
        String modelId;

        @Option(names = "--threads", defaultValue = "1", paramLabel = "N", description = "PyTorch threads. Default: ${DEFAULT-VALUE}.")
        int threads;

        @Mixin
        ServiceConfigOptions run;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            TrainingConfig config;
            Options options;
            try {
                config = TrainingConfig.load(run.configFile, run.set);
                Options defaults = Options.of(cluster.bootstrapServers, cluster.schemaRegistryUrl, cluster.topicPrefix,
                        checkpointDir, weights);
                options = new Options(cluster.bootstrapServers, cluster.schemaRegistryUrl, cluster.topicPrefix, modelId,
                        run.runId(cluster.topicPrefix), checkpointDir, weights, threads, defaults.poolWait());
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            LearnerService learner = start(options, config);
            learner.finished().whenComplete((last, error) -> {
                if (error == null) {
                    System.out.println("learner-service: done at version " + last + "; Ctrl-C stops");
                } else {
                    System.err.println("learner-service: " + error.getMessage());
                }
            });
            return ServiceLifecycle.runUntilShutdown(learner, "learner-service running", learner::failure);
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }
}
