package io.pacedrl.learner;

import io.pacedrl.learner.LearnerCheckpoint.Contents;
import io.pacedrl.learner.LearnerCheckpoint.Event;
import io.pacedrl.learner.LearnerCheckpoint.Publication;
import io.pacedrl.learning.HeldOutEvaluation;
import io.pacedrl.learning.Method;
import io.pacedrl.learning.MetricNames;
import io.pacedrl.learning.PartitionEnsemble;
import io.pacedrl.learning.PolicyLearner;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.Torch;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.RecordDecodingException;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.BatchScheduled;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.DynamicBatchClosed;
import io.pacedrl.schemas.GroupsReleased;
import io.pacedrl.schemas.ReplayDrawn;
import io.pacedrl.schemas.SchedulerDecision;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.Verifiers;
import io.pacedrl.topics.ClusterOptions;
import io.pacedrl.topics.DeadLetters;
import io.pacedrl.topics.HangingTransactionWatch;
import io.pacedrl.topics.MetricsOptions;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.PluginOptions;
import io.pacedrl.topics.RunEvents;
import io.pacedrl.topics.ServiceConfigOptions;
import io.pacedrl.topics.ServiceLifecycle;
import io.pacedrl.topics.ServiceMeters;
import io.pacedrl.topics.TopicCreator;
import io.pacedrl.topics.TopicSpec;
import io.pacedrl.topics.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * The learner service: a thin shell over the learner's plain step ({@link LearnerStep}: a batch in,
 * the update of the configured method and its figures out) and its publisher
 * ({@link LearnerPublisher}: checkpoint, then one transaction). It reads the pool once, then
 * consumes scored rollouts, replay draws and the scheduler's decisions into the
 * {@link BatchAssembler}; for update v it waits for batch v, steps, and hands version v + 1 over
 * with the offsets it consumed. It evaluates on the held-out prompts every {@code eval-every}
 * versions, and at the end.
 *
 * <p>Exactly once: before each transaction a checkpoint is written (weights, optimiser moments, Z_φ,
 * consumer positions, pending records, the publication itself). A restart, even after kill -9,
 * resumes from the newest checkpoint; if its transaction never committed, it is sent again from
 * the checkpoint, so no version is lost or published twice, and no batch is lost or learned twice.
 */
public final class LearnerService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LearnerService.class);
    public static final String UNUSABLE_ROLLOUT = "UNUSABLE_ROLLOUT";
    public static final String UNKNOWN_PROMPT = "UNKNOWN_PROMPT";
    public static final String FORMAT = "paced-rl-weights";
    /**
     * Z_φ travels on model-updates as model {@code <model id>/partition-function}, in {@code PartitionFunction.FORMAT},
     * or with the copies p̂ is ranked with in {@code PartitionEnsemble.FORMAT}.
     */
    public static final String PARTITION_SUFFIX = "/partition-function";
    /** π_ref travels on model-updates once, at version 0, as model {@code <model id>/reference}. */
    public static final String REFERENCE_SUFFIX = "/reference";
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

    private final Options options;
    private final TrainingConfig config;
    private final Method method;
    private final Topics topics;
    private final LearnerCheckpoint checkpoints;
    private final KafkaConsumer<String, byte[]> input;
    private final LearnerPublisher publisher;
    private final Thread thread;
    private final BatchAssembler.Settings settings;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final CompletableFuture<Long> finished = new CompletableFuture<>();
    private volatile boolean running = true;
    private volatile long version = -1;
    private final ServiceMeters meters;
    /** Reports a transaction the broker has left open with no coordinator to end it (one watch per run). */
    private final HangingTransactionWatch hangingTransactions;

    // Learner-thread state.
    private PolicyLearner learner;
    private LearnerStep step;
    private BatchAssembler assembler;
    private Map<String, Double> totals = new LinkedHashMap<>();
    private final List<Event> pendingEvents = new ArrayList<>();
    private final List<DeadLetter> deadLetters = new ArrayList<>();
    /**
     * Where the learner thread's time went, in seconds, since it started: waiting for a batch,
     * assembling it (polling, decoding, building the inputs), model compute (the update, Z_φ's fit,
     * β·KL), taking the state to publish, waiting for the previous version to be sent, evaluating.
     */
    private double waiting;
    private double assembling;
    private double compute;
    private double snapshot;
    private double handOff;
    private double evaluating;

    private LearnerService(Options options, TrainingConfig config, Consumer<Publication> beforeCommit) {
        this.options = options;
        this.config = config;
        this.method = config.method();
        this.topics = new Topics(options.topicPrefix(), new SchemaRegistryClient(options.schemaRegistryUrl()));
        try (Admin admin = Admin.create(ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers())))) {
            new TopicCreator(admin, Duration.ofSeconds(60)).ensure(topics.all());
        }
        this.checkpoints = new LearnerCheckpoint(options.checkpointDir());
        this.settings = new BatchAssembler.Settings(method.prompts() == Method.Prompts.DYNAMIC, method.replay(),
                config.promptsPerStep(), config.maxStaleness());
        this.input = TopicReads.consumer(options.bootstrapServers(), Map.of(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000));
        this.publisher = new LearnerPublisher(options, topics, checkpoints, config.toJson(), beforeCommit);
        this.thread = new Thread(this::run, "learner");
        this.meters = new ServiceMeters("learner", options.topicPrefix(), options.modelId());
        meters.healthCheck(() -> failure().map(e -> "the learner stopped: " + e.getMessage()));
        meters.gauge(ServiceMeters.LEARNER_VERSION, () -> version);
        this.hangingTransactions = HangingTransactionWatch.start(options.bootstrapServers(), options.topicPrefix(),
                HangingTransactionWatch.PERIOD, HangingTransactionWatch.QUIET_FOR);
        meters.gauge(ServiceMeters.HANGING_TRANSACTIONS, hangingTransactions::hanging);
        meters.bind(input, "-");
        publisher.bindTo(meters);
    }

    /**
     * Starts the learner; it loads the pool, then resumes from its checkpoint or publishes version 0.
     * With {@link #HALT_BEFORE_COMMIT} set, the process halts before committing that version.
     */
    public static LearnerService start(Options options, TrainingConfig config) {
        Torch.configure(options.threads());
        String haltAt = System.getProperty(HALT_BEFORE_COMMIT);
        LearnerService service = new LearnerService(options, config, publication -> {
            if (Long.toString(publication.version()).equals(haltAt)) {
                Runtime.getRuntime().halt(137);
            }
        });
        service.thread.start();
        log.info("learner started: {} for {} updates of {} prompts × {} rollouts, checkpoints in {}", config.method(),
                config.steps(), config.promptsPerStep(), config.groupSize(), options.checkpointDir());
        return service;
    }

    /** The newest version handed over for publishing (-1 before version 0). */
    public long version() {
        return version;
    }

    /** Where the learner leaves the final policy as a weights file, in its checkpoint directory. */
    public static Path finalWeights(Path checkpointDir) {
        return checkpointDir.resolve("final.weights");
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
            publisher.begin();
            List<TaskPrompt> pool = loadPool();
            resumeOrBegin(pool);
            while (running && !config.finished(version, rolloutsConsumed())) {
                Optional<BatchAssembler.Batch> batch = takeBatch();
                while (running && batch.isEmpty()) {
                    publisher.checkFailed();
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
            publisher.close();
            input.close();
        }
    }

    // -------------------------------------------------------------------------------------------
    // Start-up

    /** The pool as it is on the prompts topic now (latest value per id); waits until it can fill a batch. */
    private List<TaskPrompt> loadPool() throws InterruptedException {
        long deadline = System.nanoTime() + options.poolWait().toNanos();
        while (true) {
            PoolTopic.Pool read = PoolTopic.read(options.bootstrapServers(), topics, config.seed());
            if (read.train().size() >= config.promptsPerStep() && !read.heldOut().isEmpty()) {
                log.info("learner: pool of {} training and {} held-out prompts", read.train().size(), read.heldOut().size());
                List<TaskPrompt> pool = new ArrayList<>(read.train());
                pool.addAll(read.heldOut());
                return pool;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("topic '" + topics.prompts.name() + "' holds " + read.train().size()
                        + " training and " + read.heldOut().size() + " held-out prompts after " + options.poolWait().toSeconds()
                        + " s; a run needs at least prompts-per-step = " + config.promptsPerStep()
                        + " training prompts and one held-out prompt (paced-rl train loads a pool)");
            }
            Thread.sleep(1000);
        }
    }

    /**
     * From the newest checkpoint, sending its version again if its transaction never committed; or,
     * with no checkpoint and nothing on model-updates, from π_ref as version 0.
     *
     * @param prompts the training pool, then the held-out prompts in evaluation order
     */
    private void resumeOrBegin(List<TaskPrompt> prompts) throws Exception {
        List<TaskPrompt> pool = prompts.stream().filter(p -> p.split() == TaskPrompt.Split.TRAIN).toList();
        List<TaskPrompt> heldOut = prompts.stream().filter(p -> p.split() == TaskPrompt.Split.HELD_OUT).toList();
        long published = publisher.latestPublished();
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
        HeldOutEvaluation evaluation = new HeldOutEvaluation(config, pool, heldOut, Verifiers.load());
        learner = new PolicyLearner(config, reference, pool.stream().map(TaskPrompt::text).toList(),
                evaluation.heldOutProbes().stream().map(TaskPrompt::text).toList());
        byte[] partition = learner.state().partition();
        if (partition != null) {
            // One record per version: the scheduler never holds half a Z_φ across a restart.
            int copies = method.estimatesAccuracy() ? config.partitionCopies() : 0;
            long full = PartitionEnsemble.fullSize(partition, copies);
            if (full > ModelUpdateChunks.CHUNK_BYTES) {
                throw new IllegalArgumentException("partition-hidden = " + config.partitionHidden() + " and partition-copies = "
                        + copies + " make Z_φ's publication " + full + " bytes; it must fit one model-update chunk of "
                        + ModelUpdateChunks.CHUNK_BYTES + " bytes");
            }
        }
        step = new LearnerStep(config, learner, pool, evaluation);
        publisher.pool(new LearnerPublisher.Pool(pool.stream().map(TaskPrompt::id).toList(), learner::embedding));
        assignInput();
        if (saved.isEmpty()) {
            assembler = new BatchAssembler(settings);
            totals.put(MetricNames.ROLLOUTS_CONSUMED, 0.0);
            Publication first = new Publication(0, null, null, null, method.estimatesAccuracy(), List.of(), List.of(),
                    List.of(new Event(RunEvents.LIFECYCLE, 0, System.currentTimeMillis(), Map.of(), Map.of("state", "started",
                            "method", method.key()))), List.of(), Map.of());
            publisher.handOver(first, learner.snapshot(), assembler.snapshot(), Map.copyOf(totals), List.of());
            version = 0;
            log.info("learner: published the reference policy as version 0");
        } else {
            Contents c = saved.get();
            if (c.version() > config.steps()) {
                throw new IllegalStateException("the checkpoint is at version " + c.version() + ", beyond steps = " + config.steps());
            }
            learner.restore(c.state());
            assembler = new BatchAssembler(settings, c.assembler());
            totals = new LinkedHashMap<>(c.totals());
            step.restoreLearned(c.learnedProbes());
            for (Map.Entry<String, Long> position : c.publication().positions().entrySet()) {
                int colon = position.getKey().lastIndexOf(':');
                input.seek(new TopicPartition(position.getKey().substring(0, colon),
                        Integer.parseInt(position.getKey().substring(colon + 1))), position.getValue());
            }
            boolean forkStarts = published < 0 && c.publication().forkedFrom() != null;
            if (forkStarts) {
                log.info("learner: a fork of run {} at version {}; publishing its first version", c.publication().forkedFrom().runId(),
                        c.version());
                publisher.resend(c.publication());
            } else if (published == c.version() - 1) {
                log.info("learner: version {} was checkpointed but never published; publishing it again", c.version());
                publisher.resend(c.publication());
            } else if (published != c.version()) {
                throw new IllegalStateException("the checkpoint in " + checkpoints.dir() + " is at version " + c.version()
                        + " but model-updates has version " + published + " of '" + options.modelId() + "'");
            }
            version = c.version();
            log.info("learner: resumed at version {} from {}", version, checkpoints.dir());
            // The run's record marks the restart at the last version it had committed (what train --resume reports): a
            // checkpointed version whose transaction the crash lost is this process's to publish. It goes out with the
            // next version (a crash before then loses nothing).
            if (!forkStarts) {
                pendingEvents.add(new Event(RunEvents.LIFECYCLE, published, System.currentTimeMillis(), Map.of(), Map.of("state", "resumed")));
            }
        }
        if (evaluationDue(version)) {
            evaluate();
        }
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
        long received = System.nanoTime();
        for (ConsumerRecord<String, byte[]> record : records) {
            if (record.value() == null) {
                continue;
            }
            try {
                if (record.topic().equals(topics.scoredRollouts.name())) {
                    ScoredRollout scored = topics.scoredRollouts.decode(record.value(), received);
                    if (!step.knows(scored.getRollout().getPrompt().getId())) {
                        deadLetters.add(deadLetter(record, UNKNOWN_PROMPT, "prompt '" + scored.getRollout().getPrompt().getId()
                                + "' was not in the pool when the learner started"));
                        assembler.released(List.of(scored.getRollout().getScheduleId()));
                        continue;
                    }
                    Optional<String> mismatch = SamplingCheck.mismatch(scored.getRollout(), config);
                    if (mismatch.isPresent()) {
                        deadLetters.add(deadLetter(record, SamplingCheck.SAMPLING_MISMATCH, mismatch.get()));
                        assembler.released(List.of(scored.getRollout().getScheduleId()));
                        continue;
                    }
                    assembler.addRollout(scored);
                } else if (record.topic().equals(topics.replay.name())) {
                    assembler.addReplay(topics.replay.decode(record.value(), received));
                } else {
                    decision(topics.schedulerDecisions.decode(record.value(), received));
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

    /** The next update's batch, if it is all here. */
    private Optional<BatchAssembler.Batch> takeBatch() {
        long start = System.nanoTime();
        Optional<BatchAssembler.Batch> batch = assembler.take();
        assembling += seconds(start, System.nanoTime());
        return batch;
    }

    /** Update {@code version} → {@code version + 1} on the batch, then hand the new version over. */
    private void step(BatchAssembler.Batch batch) throws Exception {
        long start = System.nanoTime();
        Map<String, Long> positions = positions();
        List<DeadLetter> letters = List.copyOf(deadLetters);
        deadLetters.clear();
        long computeStart = System.nanoTime();
        assembling += seconds(start, computeStart);
        LearnerStep.Result result = step.apply(batch);
        long computeEnd = System.nanoTime();
        compute += seconds(computeStart, computeEnd);
        PolicyLearner.Snapshot state = learner.snapshot();
        snapshot += seconds(computeEnd, System.nanoTime());

        long next = version + 1;
        totals.merge(MetricNames.ROLLOUTS_CONSUMED, (double) batch.consumed(), Double::sum);
        totals.merge(MetricNames.STALE_GROUPS, (double) batch.stale().size(), Double::sum);
        totals.merge(MetricNames.RELEASED_GROUPS, (double) batch.released(), Double::sum);
        Map<String, Double> metrics = new LinkedHashMap<>(result.metrics());
        metrics.put(MetricNames.LATE_RECORDS, (double) assembler.late());
        metrics.putAll(totals);
        metrics.putAll(timeSplit());
        pendingEvents.add(new Event(RunEvents.METRICS, next, System.currentTimeMillis(), metrics, Map.of()));
        gauges(metrics);
        Publication publication = new Publication(next, null, null, null, false, learned(batch.groups()),
                batch.replay().stream().map(r -> r.getTrajectory().getRollout().getRolloutId()).toList(), List.copyOf(pendingEvents),
                letters, positions);
        pendingEvents.clear();
        long handOffStart = System.nanoTime();
        publisher.handOver(publication, state, assembler.snapshot(), Map.copyOf(totals), step.learnedProbes());
        handOff += seconds(handOffStart, System.nanoTime());
        version = next;
        if (evaluationDue(version)) {
            evaluate();
        }
    }

    private boolean evaluationDue(long at) {
        return at % config.evalEvery() == 0 || config.finished(at, rolloutsConsumed());
    }

    /** Held-out evaluation of the version just handed over; published with the next version. */
    private void evaluate() {
        long start = System.nanoTime();
        Map<String, Double> metrics = step.evaluate(version);
        metrics.put(MetricNames.ROLLOUTS_CONSUMED, rolloutsConsumed());
        evaluating += seconds(start, System.nanoTime());
        pendingEvents.add(new Event(RunEvents.EVAL, version, System.currentTimeMillis(), metrics, Map.of()));
        gauges(metrics);
        log.info("learner: version {} held-out pass@1 {}", version, String.format("%.3f", metrics.get(MetricNames.PASS_AT_1)));
    }

    /** The final evaluation, published with any evaluation still pending; then the learner is done. */
    private void finish() throws Exception {
        publisher.awaitIdle();
        if (publisher.finalPublished(version)) {
            log.info("learner: the final evaluation of version {} is already published", version);
        } else {
            long start = System.nanoTime();
            Map<String, Double> metrics = step.finalEvaluation();
            evaluating += seconds(start, System.nanoTime());
            metrics.putAll(totals);
            metrics.putAll(timeSplit());
            pendingEvents.add(new Event(RunEvents.FINAL, version, System.currentTimeMillis(), metrics, Map.of()));
            Publication closing = new Publication(version, null, null, null, false, List.of(), List.of(), List.copyOf(pendingEvents),
                    List.copyOf(deadLetters), Map.of());
            pendingEvents.clear();
            publisher.sendNow(closing);
        }
        step.savePolicy(finalWeights(options.checkpointDir()));
        finished.complete(version);
        log.info("learner: done at version {}; the final policy is {}", version, finalWeights(options.checkpointDir()));
    }

    private double rolloutsConsumed() {
        return totals.getOrDefault(MetricNames.ROLLOUTS_CONSUMED, 0.0);
    }

    private Map<String, Long> positions() {
        Map<String, Long> positions = new TreeMap<>();
        for (TopicPartition partition : input.assignment()) {
            positions.put(partition.topic() + ":" + partition.partition(), input.position(partition));
        }
        return positions;
    }

    /** Where the time went; the share outside model compute counts what the learner thread spends on the pipeline. */
    private Map<String, Double> timeSplit() {
        double[] published = publisher.seconds();
        double outside = assembling + snapshot + handOff;
        Map<String, Double> split = new LinkedHashMap<>();
        split.put(MetricNames.SECONDS_WAITING, waiting);
        split.put(MetricNames.SECONDS_ASSEMBLING, assembling);
        split.put(MetricNames.SECONDS_COMPUTE, compute);
        split.put(MetricNames.SECONDS_SNAPSHOT, snapshot);
        split.put(MetricNames.SECONDS_HAND_OFF, handOff);
        split.put(MetricNames.SECONDS_EVALUATING, evaluating);
        split.put(MetricNames.SECONDS_PUBLISHING, published[0]);
        split.put(MetricNames.SECONDS_CHECKPOINTING, published[1]);
        split.put(MetricNames.PIPELINE_SHARE, outside / (outside + compute));
        return split;
    }

    private static List<LearnerCheckpoint.Learned> learned(List<BatchAssembler.Group> groups) {
        return groups.stream().map(g -> new LearnerCheckpoint.Learned(g.scheduleId(), g.pHat(),
                g.rollouts().stream().map(r -> r.getRollout().getRolloutId()).toList())).toList();
    }

    private DeadLetter deadLetter(ConsumerRecord<String, byte[]> record, String type, String reason) {
        return DeadLetters.of(record, type, reason, RunEvents.LEARNER, System.currentTimeMillis());
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
        hangingTransactions.close();
        meters.close();
    }

    /** The step's and evaluations' figures an operator watches, as gauges named after them. */
    private static final List<String> WATCHED = List.of(MetricNames.LOSS, MetricNames.BETA_KL, MetricNames.MEAN_STALENESS,
            MetricNames.ROLLOUTS_CONSUMED, MetricNames.INFORMATIVE_SHARE, MetricNames.P_HAT_SPEARMAN, MetricNames.PIPELINE_SHARE,
            MetricNames.PASS_AT_1, MetricNames.PROBE_SPEARMAN);

    private void gauges(Map<String, Double> metrics) {
        for (String key : WATCHED) {
            Double value = metrics.get(key);
            if (value != null) {
                meters.set(ServiceMeters.LEARNER_PREFIX + key, value);
            }
        }
    }

    /** The service on the command line. */
    @Command(name = "learner-service", mixinStandardHelpOptions = true,
            description = "Learn from scored rollouts and replay; publish model updates, log Z and metrics, exactly once.")
    public static final class Main implements Callable<Integer> {
        @Mixin
        ClusterOptions cluster;

        @Mixin
        MetricsOptions metrics;

        @Mixin
        PluginOptions plugins;

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
                cluster.validate();
                plugins.load();
                config = TrainingConfig.load(run.configFile, run.set);
                Options defaults = Options.of(cluster.bootstrapServers, cluster.schemaRegistryUrl, cluster.topicPrefix,
                        checkpointDir, weights);
                options = new Options(cluster.bootstrapServers, cluster.schemaRegistryUrl, cluster.topicPrefix, modelId,
                        run.runId(cluster.topicPrefix), checkpointDir, weights, threads, defaults.poolWait());
                cluster.requireReachable();
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
            return ServiceLifecycle.runUntilShutdown(learner, "learner-service running", learner::failure, metrics);
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }
}
