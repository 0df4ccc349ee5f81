package io.pacedrl.difficulty;

import io.pacedrl.difficulty.BatchScheduler.Released;
import io.pacedrl.difficulty.BatchScheduler.Scheduled;
import io.pacedrl.difficulty.state.DifficultyEvent;
import io.pacedrl.difficulty.state.EmbeddingChange;
import io.pacedrl.difficulty.state.EmbeddingsDone;
import io.pacedrl.difficulty.state.EstimatorParameters;
import io.pacedrl.difficulty.state.GroupResult;
import io.pacedrl.difficulty.state.InFlight;
import io.pacedrl.difficulty.state.PoolChange;
import io.pacedrl.difficulty.state.ReplayCandidate;
import io.pacedrl.difficulty.state.ReplayEntry;
import io.pacedrl.difficulty.state.ScheduleEntry;
import io.pacedrl.difficulty.state.SchedulerState;
import io.pacedrl.learning.PartitionEnsemble;
import io.pacedrl.learning.ReplayBuffer;
import io.pacedrl.schemas.BatchScheduled;
import io.pacedrl.schemas.DynamicBatchClosed;
import io.pacedrl.schemas.GroupsReleased;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.ReplayDrawn;
import io.pacedrl.schemas.ReplayRecord;
import io.pacedrl.schemas.ReplaySeed;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.schemas.RunEvent;
import io.pacedrl.schemas.ScheduledGroup;
import io.pacedrl.schemas.ScheduledPrompt;
import io.pacedrl.schemas.SchedulerDecision;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.PoolEmbeddings;
import io.pacedrl.topics.RunEvents;
import io.pacedrl.topics.Topics;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The single scheduler task: the global view selection needs. It is fed the per-prompt changes
 * from every partition (through a one-partition repartition topic: pool changes, embeddings once
 * per pool, complete groups) and the learner's versions (model-updates, one partition, whose Z_φ it
 * loads to compute p̂), and emits the scheduled prompts, the replay draws for each learner update,
 * its decisions (the learner's contract) and run events (for people). Its state lives in stores;
 * the {@link BatchScheduler} in memory is rebuilt from them whenever the task starts.
 */
final class SchedulerProcessor implements Processor<String, Object, String, SpecificRecord> {
    static final String INDEX_STORE = "schedule-index";
    static final String STATE_STORE = "scheduler-state";
    static final String REPLAY_STORE = "replay-buffer";
    static final String PRIORITIES_STORE = "replay-priorities";
    static final String CANDIDATES_STORE = "replay-candidates";
    static final String EMBEDDINGS_STORE = "prompt-embeddings";
    static final String ESTIMATOR_STORE = "partition-function";
    static final String STATE_KEY = "state";
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

    private final Topics topics;
    private final BatchScheduler.Settings settings;
    private final Replay replay;
    private final String runId;
    private ProcessorContext<String, SpecificRecord> context;
    private Rejections rejections;
    private KeyValueStore<String, ScheduleEntry> index;
    private KeyValueStore<String, SchedulerState> stateStore;
    private KeyValueStore<String, ReplayEntry> replayStore;
    private KeyValueStore<String, Double> priorities;
    private KeyValueStore<String, ReplayCandidate> candidates;
    private KeyValueStore<String, EmbeddingChange> embeddings;
    private KeyValueStore<String, EstimatorParameters> estimatorStore;
    private BatchScheduler scheduler;
    private ReplayBuffer<ReplayEntry> buffer;
    private PartitionEstimator estimator;
    /** Whether this record led to a decision (scheduled prompts and replay draws come with one). */
    private boolean decided;
    /**
     * The {@code replay-candidates} store's entries, kept in memory too: a draw reads them from here
     * (the store is for a restart), not through an iterator that decodes each group's trajectories.
     */
    private final Map<String, ReplayCandidate> pendingCandidates = new TreeMap<>();
    /** Z_φ's chunks by model id, until a version is whole. */
    private final Map<String, ModelUpdateChunks.Assembler> partitionChunks = new HashMap<>();

    /**
     * Replay's sizes; {@code enabled} is false for methods that do not replay; {@code reprioritise}:
     * priorities are recomputed with the current p̂ before each draw.
     */
    record Replay(boolean enabled, int capacity, int addMax, int draws, boolean reprioritise) {}

    SchedulerProcessor(Topics topics, BatchScheduler.Settings settings, Replay replay, String runId) {
        this.topics = topics;
        this.settings = settings;
        this.replay = replay;
        this.runId = runId;
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        this.context = context;
        rejections = new Rejections(context);
        index = context.getStateStore(INDEX_STORE);
        stateStore = context.getStateStore(STATE_STORE);
        replayStore = context.getStateStore(REPLAY_STORE);
        priorities = context.getStateStore(PRIORITIES_STORE);
        candidates = context.getStateStore(CANDIDATES_STORE);
        embeddings = context.getStateStore(EMBEDDINGS_STORE);
        estimatorStore = context.getStateStore(ESTIMATOR_STORE);
        SchedulerState state = stateStore.get(STATE_KEY);
        List<ScheduleEntry> entries = new ArrayList<>();
        try (KeyValueIterator<String, ScheduleEntry> all = index.all()) {
            all.forEachRemaining(kv -> entries.add(kv.value));
        }
        if (state != null && state.getReplayDrawnThrough() < 0 && state.getLearnerVersion() >= 0) {
            state.setReplayDrawnThrough(state.getLearnerVersion()); // written before draws were tracked: each was made on arrival
        }
        scheduler = new BatchScheduler(settings, state == null ? BatchScheduler.initialState() : state, entries);
        try (KeyValueIterator<String, EmbeddingChange> all = embeddings.all()) {
            all.forEachRemaining(kv -> scheduler.embedding(kv.key, PoolEmbeddings.decode(kv.value.getDimension(), kv.value.getValues())));
        }
        EstimatorParameters stored = estimatorStore.get(STATE_KEY);
        if (stored != null) {
            useEstimator(PartitionEstimator.of(stored, settings.beta()));
        }
        List<ReplayBuffer.Entry<ReplayEntry>> buffered = new ArrayList<>();
        try (KeyValueIterator<String, ReplayEntry> all = replayStore.all()) {
            all.forEachRemaining(kv -> buffered.add(entry(kv.value, priorities.get(kv.key))));
        }
        buffer = new ReplayBuffer<>(replay.capacity(), replay.addMax(), buffered, scheduler.state().getReplayAdditions());
        try (KeyValueIterator<String, ReplayCandidate> all = candidates.all()) {
            all.forEachRemaining(kv -> pendingCandidates.put(kv.key, kv.value));
        }
    }

    @Override
    public void process(Record<String, Object> record) {
        long cpuStart = CPU.getCurrentThreadCpuTime();
        if (record.value() instanceof DifficultyEvent event) {
            onEvent(event);
        } else if (record.value() instanceof byte[] bytes) {
            boolean seed = context.recordMetadata().map(m -> m.topic().equals(topics.replaySeed.name())).orElse(false);
            if (seed) {
                onReplaySeed(record.withValue(bytes));
            } else {
                onModelUpdate(record.withValue(bytes));
            }
        }
        long now = context.currentStreamTimeMs();
        List<Released> released = scheduler.releaseExpired(now);
        drawDue(now);
        List<Scheduled> scheduled = scheduler.schedule(now);
        List<ScheduledGroup> batch = new ArrayList<>();
        for (int i = 0; i < scheduled.size(); i++) {
            Scheduled s = scheduled.get(i);
            context.forward(new Record<>(s.promptId(), ScheduledPrompt.newBuilder()
                    .setPrompt(topics.prompts.valueSerde().deserializer().deserialize(topics.prompts.name(), bytes(s.prompt())))
                    .setScheduleId(s.scheduleId()).setBatchId(s.batchId()).setGroupSize(settings.groupSize())
                    .setLearnerVersion(scheduler.state().getLearnerVersion()).setStrategy(settings.strategy().key())
                    .setPHat(s.pHat()).setScheduledAtMs(now).build(), now));
            batch.add(new ScheduledGroup(s.scheduleId(), s.promptId(), s.pHat()));
            boolean last = i + 1 == scheduled.size() || scheduled.get(i + 1).batchId() != s.batchId()
                    || scheduled.get(i + 1).round() != s.round();
            if (last) {
                decide(now, new BatchScheduled(s.batchId(), s.round(), settings.strategy().key(), s.candidates(),
                        s.estimatorVersion(), List.copyOf(batch)));
                batch.clear();
            }
        }
        if (!released.isEmpty()) {
            decide(now, new GroupsReleased(released.stream().map(r -> r.inFlight().getScheduleId()).toList()));
        }
        if (!scheduled.isEmpty() || !released.isEmpty()) {
            runEvent(RunEvents.SCHEDULE, now, Map.of("scheduled", (double) scheduled.size(), "released", (double) released.size(),
                    "in-flight", (double) scheduler.inFlightCount(), "free", (double) scheduler.freePrompts(),
                    "next-batch", (double) scheduler.state().getNextBatch()));
        }
        for (BatchScheduler.Closed closed : scheduler.drainClosed()) {
            decide(now, new DynamicBatchClosed(closed.batchId(), closed.kept(), closed.rounds(), closed.offered()));
            runEvent(RunEvents.BATCH_CLOSED, now, Map.of("batch", (double) closed.batchId(), "kept", (double) closed.kept().size(),
                    "rounds", (double) closed.rounds(), "offered", (double) closed.offered()));
        }
        for (ScheduleEntry entry : scheduler.drainChanged()) {
            index.put(entry.getPromptId(), entry);
        }
        // What scheduling and replay cost, apart from the per-prompt work of the other sub-topology.
        scheduler.state().getCounters().merge(BatchScheduler.SCHEDULER_CPU_MICROS, (CPU.getCurrentThreadCpuTime() - cpuStart) / 1000,
                Long::sum);
        stateStore.put(STATE_KEY, scheduler.state());
        if (decided) {
            // Read-committed readers see a decision only once it is committed: now, not at the commit interval.
            context.commit();
            decided = false;
        }
    }

    private void onEvent(DifficultyEvent event) {
        String promptId = event.getPromptId();
        if (event.getEvent() instanceof PoolChange change) {
            scheduler.poolChange(promptId, change);
        } else if (event.getEvent() instanceof EmbeddingChange change) {
            embeddings.put(promptId, change);
            scheduler.embedding(promptId, PoolEmbeddings.decode(change.getDimension(), change.getValues()));
        } else if (event.getEvent() instanceof EmbeddingsDone done) {
            scheduler.embeddingsDone(done.getPartition());
        } else if (event.getEvent() instanceof GroupResult group) {
            // The priority uses the p̂ the group was scheduled with: the estimate from before the update.
            double pHat = scheduler.lastPHat(promptId);
            InFlight answered = scheduler.groupResult(promptId, group);
            if (answered != null && answered.getPHat() != null) {
                pHat = answered.getPHat();
            }
            if (replay.enabled() && !group.getCorrect().isEmpty()) {
                ReplayCandidate candidate = new ReplayCandidate(promptId, pHat, group, answered == null ? -1L : answered.getBatchId());
                candidates.put(group.getScheduleId(), candidate);
                pendingCandidates.put(group.getScheduleId(), candidate);
            }
        }
    }

    private void onModelUpdate(Record<String, byte[]> record) {
        if (record.value() == null) {
            return; // compaction tombstone
        }
        Optional<ModelUpdateChunks.Key> key = ModelUpdateChunks.Key.parse(record.key());
        if (key.isPresent() && key.get().chunk() > 0 && !partitionChunks.containsKey(key.get().modelId())) {
            return; // a policy's later chunk: its chunk 0 gave the version, and its bytes are the generators' (decoding costs a copy)
        }
        ModelUpdate update = rejections.decode(topics.modelUpdates, record);
        if (update == null) {
            return;
        }
        if (update.getVersion() < 0) {
            rejections.reject(record, Rejections.IMPOSSIBLE_VALUE, "negative model version " + update.getVersion());
            return;
        }
        if (PartitionEnsemble.reads(update.getFormat())) {
            onPartitionChunk(record, update);
            return; // the learner's version is the policy's; its Z_φ comes just before it
        }
        if (scheduler.state().getLearnerVersion() < 0) {
            // The run's first version (0, or a fork's k) is where draws start.
            scheduler.state().setReplayDrawnThrough(update.getVersion() - 1);
        }
        scheduler.learnerVersion(update.getVersion());
    }

    /**
     * The replay draws due: one for every version the learner has published since the last draw. In
     * lock-step a draw waits, like the batch, until no group is in flight, so that the groups of
     * batch v − 1 are in the buffer when update v draws, as in the synchronous reference. A draw
     * that recomputes priorities waits for the Z_φ of its version (it comes just before it); a
     * buffered prompt without an embedding (one added to the pool mid-run) keeps its priority.
     */
    private void drawDue(long now) {
        SchedulerState state = scheduler.state();
        if (!replay.enabled()) {
            return;
        }
        while (state.getReplayDrawnThrough() < state.getLearnerVersion() && !scheduler.lockStepWaiting()
                && (!replay.reprioritise() || scheduler.estimatorVersion() > state.getReplayDrawnThrough())) {
            long version = state.getReplayDrawnThrough() + 1;
            replayStep(version, now);
            state.setReplayDrawnThrough(version);
        }
    }

    /** A trajectory of a fork's starting buffer: it joins the buffer as its parent's held it (priority and age). */
    private void onReplaySeed(Record<String, byte[]> record) {
        ReplaySeed seed = rejections.decode(topics.replaySeed, record);
        if (seed == null || !replay.enabled()) {
            return;
        }
        String id = seed.getTrajectory().getRollout().getRolloutId();
        if (buffer.entries().stream().anyMatch(e -> e.id().equals(id))) {
            return;
        }
        ReplayEntry entry = new ReplayEntry(id, seed.getTrajectory().getRollout().getPrompt().getId(), seed.getPriority(),
                seed.getAdded(), seed.getAddedAtVersion(), ByteBuffer.wrap(topics.scoredRollouts.valueSerde().serializer()
                        .serialize(topics.scoredRollouts.name(), seed.getTrajectory())),
                response(seed.getTrajectory()), seed.getGroupAccuracy());
        List<ReplayBuffer.Entry<ReplayEntry>> entries = new ArrayList<>(buffer.entries());
        entries.add(entry(entry, seed.getPriority()));
        buffer = new ReplayBuffer<>(replay.capacity(), replay.addMax(), entries, Math.max(buffer.additions(), seed.getAdded()));
        replayStore.put(id, entry);
        scheduler.state().setReplayAdditions(buffer.additions());
    }

    /** A chunk of Z_φ: once its version is whole and newer than the one held, p̂ is computed with it. */
    private void onPartitionChunk(Record<String, byte[]> record, ModelUpdate chunk) {
        if (!settings.estimates()) {
            return;
        }
        Optional<ModelUpdateChunks.Version> whole;
        try {
            whole = partitionChunks.computeIfAbsent(chunk.getModelId(), ModelUpdateChunks.Assembler::new).add(chunk);
        } catch (ModelUpdateChunks.CorruptUpdateException e) {
            rejections.reject(record, Rejections.IMPOSSIBLE_VALUE, e.getMessage());
            return;
        }
        if (whole.isEmpty() || whole.get().version() <= scheduler.estimatorVersion()) {
            return;
        }
        EstimatorParameters received = new EstimatorParameters(whole.get().version(), ByteBuffer.wrap(whole.get().weights()));
        try {
            useEstimator(PartitionEstimator.of(received, settings.beta()));
        } catch (IllegalArgumentException e) {
            rejections.reject(record, Rejections.IMPOSSIBLE_VALUE, e.getMessage());
            return;
        }
        estimatorStore.put(STATE_KEY, received);
    }

    private void useEstimator(PartitionEstimator loaded) {
        if (estimator != null) {
            estimator.close();
        }
        estimator = loaded;
        scheduler.estimator(loaded);
    }

    /**
     * The learner has published {@code version}: the groups completed since the last version offer
     * their correct trajectories to the buffer, except those of batch {@code version} or later (the
     * update that learns from them must not replay them: they wait for the next draw); the
     * priorities are recomputed with Z_φ of {@code version}; then R are drawn for update
     * {@code version}.
     */
    private void replayStep(long version, long timestamp) {
        List<ReplayBuffer.Group<ReplayEntry>> groups = new ArrayList<>();
        for (var pending = pendingCandidates.entrySet().iterator(); pending.hasNext(); ) {
            Map.Entry<String, ReplayCandidate> next = pending.next();
            if (next.getValue().getBatchId() < version) {
                groups.add(group(next.getValue(), version));
                candidates.delete(next.getKey());
                pending.remove();
            }
        }
        Set<String> before = new HashSet<>();
        buffer.entries().forEach(e -> before.add(e.id()));
        buffer.add(groups);
        Set<String> after = new HashSet<>();
        for (ReplayBuffer.Entry<ReplayEntry> entry : buffer.entries()) {
            after.add(entry.id());
            if (!before.contains(entry.id())) {
                ReplayEntry stored = entry.item();
                stored.setPriority(entry.priority());
                stored.setAdded(entry.added());
                replayStore.put(entry.id(), stored);
            }
        }
        for (String evicted : before.stream().filter(id -> !after.contains(id)).toList()) {
            replayStore.delete(evicted);
            priorities.delete(evicted);
        }
        scheduler.state().setReplayAdditions(buffer.additions());
        if (replay.reprioritise()) {
            Map<String, Double> held = new HashMap<>();
            buffer.entries().forEach(e -> held.put(e.id(), e.priority()));
            buffer.reprioritise(this::currentEstimates);
            // The trajectory stays as it was added; only its priority is rewritten (C numbers a version, not C entries).
            for (ReplayBuffer.Entry<ReplayEntry> entry : buffer.entries()) {
                if (held.get(entry.id()) != entry.priority()) {
                    priorities.put(entry.id(), entry.priority());
                }
            }
        }

        List<ReplayBuffer.Entry<ReplayEntry>> drawn = buffer.sample(replay.draws(), ReplayBuffer.drawRandom(settings.seed(), version));
        for (int i = 0; i < drawn.size(); i++) {
            ReplayBuffer.Entry<ReplayEntry> entry = drawn.get(i);
            context.forward(new Record<>(entry.id(), ReplayRecord.newBuilder()
                    .setTrajectory(topics.scoredRollouts.valueSerde().deserializer()
                            .deserialize(topics.scoredRollouts.name(), bytes(entry.item().getTrajectory())))
                    .setPriority(entry.priority()).setAddedAtVersion(entry.item().getAddedAtVersion())
                    .setForLearnerVersion(version).setSampleIndex(i).build(), timestamp));
        }
        decide(timestamp, new ReplayDrawn(version, drawn.stream().map(ReplayBuffer.Entry::id).toList(), buffer.entries().size()));
        runEvent(RunEvents.REPLAY, timestamp, Map.of("drawn", (double) drawn.size(), "for-version", (double) version,
                "buffered", (double) buffer.entries().size(), "groups-offered", (double) groups.size()));
    }

    /** p̂ of the buffered prompts from the Z_φ held (the draw waited for its version's); NaN without an embedding. */
    private double[] currentEstimates(List<String> promptIds) {
        return Objects.requireNonNull(scheduler.estimates(promptIds), "a replay draw ran without a Z_φ");
    }

    /** A completed group as the replay buffer sees it: its correct trajectories, and how many it had. */
    private ReplayBuffer.Group<ReplayEntry> group(ReplayCandidate candidate, long version) {
        GroupResult result = candidate.getGroup();
        double accuracy = result.getCorrectIds().size() / (double) result.getGroupSize();
        List<ReplayBuffer.Trajectory<ReplayEntry>> trajectories = new ArrayList<>();
        for (int i = 0; i < result.getCorrectIds().size(); i++) {
            String id = result.getCorrectIds().get(i);
            ByteBuffer wire = result.getCorrect().get(i);
            String response = i < result.getCorrectResponses().size() ? result.getCorrectResponses().get(i)
                    : response(topics.scoredRollouts.valueSerde().deserializer().deserialize(topics.scoredRollouts.name(), bytes(wire)));
            trajectories.add(new ReplayBuffer.Trajectory<>(id, true, response, new ReplayEntry(id, candidate.getPromptId(), 0.0, 0L,
                    version, wire, response, accuracy)));
        }
        for (int i = result.getCorrectIds().size(); i < result.getGroupSize(); i++) {
            trajectories.add(new ReplayBuffer.Trajectory<>(result.getScheduleId() + "#" + i, false, "", null));
        }
        return new ReplayBuffer.Group<>(candidate.getPromptId(), candidate.getPHat(), trajectories);
    }

    /**
     * A stored entry as the buffer holds it, at its current priority: the one in
     * {@code replay-priorities} once recomputed, else the one it was added with.
     */
    private static ReplayBuffer.Entry<ReplayEntry> entry(ReplayEntry stored, Double recomputed) {
        return new ReplayBuffer.Entry<>(stored.getTrajectoryId(), stored.getPromptId(), stored.getResponse(), stored.getAccuracy(),
                priority(stored, recomputed), stored.getAdded(), stored);
    }

    /** A buffered entry's current priority: {@code recomputed} (its {@code replay-priorities} value) if any, else the one it came with. */
    static double priority(ReplayEntry stored, Double recomputed) {
        return recomputed == null ? stored.getPriority() : recomputed;
    }

    /** A scored rollout's response identity, as the synchronous loop computes it from the same tokens. */
    static String response(ScoredRollout scored) {
        return ReplayBuffer.responseOf(scored.getRollout().getResponseTokens().stream().mapToInt(Integer::intValue).toArray());
    }

    /** A decision for the learner, on scheduler-decisions. */
    private void decide(long timestamp, Object decision) {
        decided = true;
        context.forward(new Record<>(runId, SchedulerDecision.newBuilder().setRunId(runId)
                .setLearnerVersion(scheduler.state().getLearnerVersion()).setDecidedAtMs(timestamp).setDecision(decision).build(),
                timestamp));
    }

    private void runEvent(String type, long timestamp, Map<String, Double> metrics) {
        context.forward(new Record<>(runId, RunEvent.newBuilder().setRunId(runId).setSource(Rejections.SERVICE)
                .setType(type).setLearnerVersion(scheduler.state().getLearnerVersion()).setTimestampMs(timestamp)
                .setMetrics(metrics).setAttributes(Map.of("strategy", settings.strategy().key())).build(), timestamp));
    }

    @Override
    public void close() {
        if (estimator != null) {
            estimator.close();
        }
    }

    private static byte[] bytes(ByteBuffer buffer) {
        byte[] bytes = new byte[buffer.remaining()];
        buffer.duplicate().get(bytes);
        return bytes;
    }
}
