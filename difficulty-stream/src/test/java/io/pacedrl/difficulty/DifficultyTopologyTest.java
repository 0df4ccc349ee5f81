package io.pacedrl.difficulty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.pacedrl.difficulty.state.PromptState;
import io.pacedrl.difficulty.state.ReplayEntry;
import io.pacedrl.difficulty.state.SchedulerState;
import io.pacedrl.embedded.LocalKafka;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.difficulty.state.ScheduleEntry;
import io.pacedrl.learning.PartitionFunction;
import io.pacedrl.schemas.BatchScheduled;
import io.pacedrl.schemas.DynamicBatchClosed;
import io.pacedrl.schemas.GroupsReleased;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.ReplayDrawn;
import io.pacedrl.schemas.SchedulerDecision;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.PoolEmbeddings;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.ReplayRecord;
import io.pacedrl.schemas.ReplaySeed;
import io.pacedrl.schemas.RunEvent;
import io.pacedrl.schemas.ScheduledPrompt;
import io.pacedrl.schemas.ScoredRollout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueStore;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The topology in a TopologyTestDriver: what it schedules, when, what it replays, and what it refuses. */
class DifficultyTopologyTest {
    @TempDir
    static Path kafkaDir;
    @TempDir
    Path stateDir;
    static LocalKafka kafka;
    static SchemaRegistryClient registry;

    @BeforeAll
    static void startRegistry() throws Exception {
        kafka = LocalKafka.start(kafkaDir, true); // the Avro serdes need a real registry
        registry = new SchemaRegistryClient(kafka.schemaRegistryUrl());
    }

    @AfterAll
    static void stop() throws Exception {
        kafka.close();
    }

    static TrainingConfig config(Object... keyValues) {
        Map<String, Object> keys = new LinkedHashMap<>(Map.of("prompts-per-step", 2, "group-size", 2, "look-ahead", 1,
                "group-timeout-seconds", 10, "method", "paced-selection"));
        for (int i = 0; i < keyValues.length; i += 2) {
            keys.put((String) keyValues[i], keyValues[i + 1]);
        }
        return TrainingConfig.defaults().with(keys);
    }

    Pipeline pipeline(TrainingConfig config) {
        return new Pipeline(registry, stateDir.resolve("run-" + System.nanoTime()), config);
    }

    static List<String> ids(List<ScheduledPrompt> scheduled) {
        return scheduled.stream().map(s -> s.getPrompt().getId()).toList();
    }

    static Map<String, Double> pool(Object... idAndPHat) {
        Map<String, Double> pool = new LinkedHashMap<>();
        for (int i = 0; i < idAndPHat.length; i += 2) {
            pool.put((String) idAndPHat[i], (Double) idAndPHat[i + 1]);
        }
        return pool;
    }

    @Test
    void schedulesTheBPromptsNearestTauOnceTheLearnerPublishesItsFirstVersion() {
        try (Pipeline p = pipeline(config("prompts-per-step", 3))) {
            p.pool(pool("a", 0.9, "b", 0.5, "c", 0.45, "d", 0.1, "e", 0.58, "f", 0.5, "g", 0.41));
            assertEquals(List.of(), p.scheduled(), "nothing goes out before the learner's first version");
            p.learnerVersion(0);
            List<ScheduledPrompt> batch = p.scheduled();
            // |p̂ − 0.5|: b 0, f 0 (tie: smaller id first), c 0.05; then e 0.08 is left out.
            assertEquals(List.of("b", "f", "c"), ids(batch));
            ScheduledPrompt first = batch.get(0);
            assertEquals(0, first.getBatchId());
            assertEquals(0, first.getLearnerVersion());
            assertEquals(2, first.getGroupSize());
            assertEquals("paced", first.getStrategy());
            assertEquals(0.5, first.getPHat(), 1e-4, "computed by Z_φ of version 0 from b's embedding");
            assertEquals("what is b?", first.getPrompt().getText(), "the whole prompt travels with the scheduling");
            assertEquals(3, batch.stream().map(ScheduledPrompt::getScheduleId).distinct().count());
            // The learner's contract: the batch, its groups and the estimates they were chosen with.
            BatchScheduled decision = (BatchScheduled) p.decisions().get(0).getDecision();
            assertEquals(0, decision.getBatchId());
            assertEquals(7, decision.getCandidates(), "the whole pool was scored");
            assertEquals(0, decision.getEstimatorVersion());
            assertEquals(batch.stream().map(ScheduledPrompt::getScheduleId).toList(),
                    decision.getGroups().stream().map(g -> g.getScheduleId()).toList());
            assertEquals(batch.get(2).getPHat(), decision.getGroups().get(2).getPHat());
        }
    }

    @Test
    void aPacedBatchWaitsForTheZOfTheLearnersVersion() {
        try (Pipeline p = pipeline(config())) {
            p.pool(pool("a", 0.5, "b", 0.5, "c", 0.1, "d", 0.2));
            p.learnerVersion(0);
            List<ScheduledPrompt> first = p.scheduled();
            assertEquals(List.of("a", "b"), ids(first));
            first.forEach(s -> p.group(s, 1, 0));
            p.learnerVersion(1);
            p.estimate("a", 0.2, 1);
            p.estimate("b", 0.9, 1);
            p.estimate("c", 0.95, 1);
            p.estimate("d", 0.45, 1);
            assertEquals(List.of(), p.scheduled(), "Z_φ of version 1 has not arrived");
            p.publishEstimator(1);
            assertEquals(List.of("d", "a"), ids(p.scheduled()), "chosen by the version-1 Z_φ");
        }
    }

    @Test
    void aZOfSeveralChunksLoadsWhileAPolicysLaterChunksAreLeftUnread() throws Exception {
        byte[] wide;
        try (NDManager manager = NDManager.newBaseManager(); PartitionFunction partition = new PartitionFunction(manager,
                DesignedPartition.SLOTS, new PartitionFunction.Config(512, 0f, 0), 3)) {
            wide = partition.toBytes();
        }
        assertTrue(wide.length > ModelUpdateChunks.CHUNK_BYTES, "Z_φ needs two chunks");
        try (Pipeline p = pipeline(config())) {
            p.pool(pool("a", 0.5, "b", 0.5, "c", 0.1, "d", 0.2));
            p.learnerVersion(0);
            p.scheduled().forEach(s -> p.group(s, 1, 0));
            p.learnerVersion(1);
            // The policy's version is on its chunk 0; the scheduler does not decode the rest (generators do, and dead-letter them).
            p.rawUpdates.pipeInput("policy/1", new byte[] {7});
            assertEquals(List.of(), p.scheduled(), "Z_φ of version 1 has not arrived");
            p.publishEstimator(1, wide);
            assertEquals(2, p.scheduled().size(), "chosen by the version-1 Z_φ, put together from its two chunks");
            List<SchedulerDecision> decisions = p.decisions();
            assertEquals(1, ((BatchScheduled) decisions.get(decisions.size() - 1).getDecision()).getEstimatorVersion());
            assertEquals(List.of(), p.deadLetters());
        }
    }

    @Test
    void aPacedBatchWaitsForEveryPartitionsEmbeddings() {
        try (Pipeline p = pipeline(config())) {
            for (String id : List.of("a", "b", "c")) {
                p.prompt(Records.prompt(id));
                p.estimate(id, 0.5, 0);
            }
            p.publishEstimator(0);
            p.learnerVersion(0);
            assertEquals(List.of(), p.scheduled(), "more embeddings may still be on their way");
            p.endOfEmbeddings();
            assertEquals(List.of("a", "b"), ids(p.scheduled()));
        }
    }

    @Test
    void heldOutPromptsAreNeverScheduled() {
        try (Pipeline p = pipeline(config("prompts-per-step", 2))) {
            p.prompt(Records.prompt("h", PromptSplit.HELD_OUT));
            p.estimate("h", 0.5, 0);
            p.pool(pool("a", 0.15, "b", 0.9, "c", 0.2));
            p.learnerVersion(0);
            assertEquals(List.of("c", "a"), ids(p.scheduled()));
        }
    }

    @Test
    void neverRunsMoreThanLookAheadVersionsAheadOfTheLearner() {
        try (Pipeline p = pipeline(config("look-ahead", 2))) {
            p.pool(pool("a", 0.5, "b", 0.5, "c", 0.5, "d", 0.5, "e", 0.5, "f", 0.5, "g", 0.5, "h", 0.5));
            p.learnerVersion(0);
            List<ScheduledPrompt> out = p.scheduled();
            assertEquals(List.of(0L, 0L, 1L, 1L), out.stream().map(ScheduledPrompt::getBatchId).toList(),
                    "batches 0 and 1 may run while the learner is at version 0");
            // Groups coming back do not let the scheduler run further ahead...
            out.forEach(s -> p.group(s, 1, 0));
            assertEquals(List.of(), p.scheduled());
            // ...only a new learner version does, one batch per version.
            p.advance(1);
            List<ScheduledPrompt> next = p.scheduled();
            assertEquals(List.of(2L, 2L), next.stream().map(ScheduledPrompt::getBatchId).toList());
            assertTrue(next.stream().allMatch(s -> s.getLearnerVersion() == 1));
            SchedulerState state = p.<SchedulerState>store(SchedulerProcessor.STATE_STORE).get(SchedulerProcessor.STATE_KEY);
            assertEquals(3, state.getNextBatch());
            assertEquals(1, state.getLearnerVersion());
        }
    }

    @Test
    void aPromptInFlightIsSkippedUntilItsGroupComesBack() {
        try (Pipeline p = pipeline(config("look-ahead", 2))) {
            p.pool(pool("a", 0.5, "b", 0.5, "c", 0.4, "d", 0.4, "e", 0.1));
            p.learnerVersion(0);
            List<ScheduledPrompt> first = p.scheduled();
            assertEquals(List.of("a", "b", "c", "d"), ids(first), "batches 0 and 1: a and b are in flight when batch 1 is chosen");
            p.group(first.get(0), 1, 0); // a is back; b, c and d are not
            p.advance(1);
            List<ScheduledPrompt> third = p.scheduled();
            assertEquals(List.of("a", "e"), ids(third));
            assertNotEquals(first.get(0).getScheduleId(), third.get(0).getScheduleId(), "a new scheduling of a");
        }
    }

    @Test
    void inLockStepABatchWaitsUntilNothingIsInFlight() {
        try (Pipeline p = pipeline(config("look-ahead", 1))) {
            p.pool(pool("a", 0.5, "b", 0.5, "c", 0.4, "d", 0.4, "e", 0.1));
            p.learnerVersion(0);
            List<ScheduledPrompt> first = p.scheduled();
            assertEquals(List.of("a", "b"), ids(first));
            // The learner has learned from both groups, but this task has seen only a's come back.
            p.group(first.get(0), 1, 0);
            p.advance(1);
            assertEquals(List.of(), p.scheduled(), "b is still in flight here: batch 1 waits, as the synchronous reference would");
            p.group(first.get(1), 0, 0);
            assertEquals(List.of("a", "b"), ids(p.scheduled()), "chosen among the whole pool, as the reference chooses");
        }
    }

    @Test
    void aGroupThatDoesNotComeBackInTimeIsReleasedOnStreamTimeAndCounted() {
        try (Pipeline p = pipeline(config("group-timeout-seconds", 10))) {
            p.pool(pool("a", 0.5, "b", 0.5, "c", 0.2, "d", 0.2));
            p.learnerVersion(0);
            List<ScheduledPrompt> first = p.scheduled();
            p.group(first.get(1), 0, 1); // b comes back, a never does (its generator died)
            p.now += 9_000; // not yet
            p.advance(1);
            assertEquals(List.of(), p.scheduled(), "lock-step: batch 1 waits for a's group, or its release");
            p.now += 2_000; // a's timeout has passed in stream time
            p.publishEstimator(1); // any record moves stream time on
            assertEquals(List.of("a", "b"), ids(p.scheduled()), "a is free again");
            SchedulerState state = p.<SchedulerState>store(SchedulerProcessor.STATE_STORE).get(SchedulerProcessor.STATE_KEY);
            assertEquals(1L, state.getCounters().get(BatchScheduler.RELEASED));
            RunEvent last = p.runEvents().stream().filter(e -> e.getType().equals("schedule")).reduce((x, y) -> y).orElseThrow();
            assertEquals(1.0, last.getMetrics().get("released"));
            List<GroupsReleased> released = p.decisions().stream().map(SchedulerDecision::getDecision)
                    .filter(GroupsReleased.class::isInstance).map(GroupsReleased.class::cast).toList();
            assertEquals(List.of(List.of(first.get(0).getScheduleId())), released.stream().map(r -> List.copyOf(r.getScheduleIds())).toList(),
                    "the learner is told which group will never come");
            // The late group still counts in the prompt's accuracy, but frees nothing twice.
            p.group(first.get(0), 1, 1);
            PromptState a = p.<PromptState>store(PromptStateProcessor.STATE_STORE).get("a");
            assertEquals(1, a.getGroups());
            assertEquals(1.0, a.getLastAccuracy());
            state = p.<SchedulerState>store(SchedulerProcessor.STATE_STORE).get(SchedulerProcessor.STATE_KEY);
            assertEquals(1L, state.getCounters().get(BatchScheduler.LATE));
        }
    }

    @Test
    void keepsEachPromptsAccuracyCountsAndEstimate() {
        try (Pipeline p = pipeline(config("group-size", 4, "accuracy-ema", 0.5))) {
            p.pool(pool("a", 0.5, "b", 0.3, "c", 0.1));
            p.learnerVersion(0);
            ScheduledPrompt a = p.scheduled().get(0);
            p.group(a, 1, 0, 1, 1);
            // A duplicate delivery of one rollout counts once.
            p.rollout(Records.scored("a", a.getScheduleId(), 0, 4, 1));
            PromptState state = p.<PromptState>store(PromptStateProcessor.STATE_STORE).get("a");
            assertEquals(0.75, state.getLastAccuracy());
            assertEquals(0.75, state.getAccuracyEma());
            assertEquals(1, state.getGroups());
            assertEquals(4, state.getRollouts());
            assertEquals(3, state.getCorrectRollouts());
            // The p̂ it was chosen with, and the version of the Z_φ that computed it.
            ScheduleEntry entry = p.<ScheduleEntry>store(SchedulerProcessor.INDEX_STORE).get("a");
            assertEquals(0.5, entry.getPHat(), 1e-4);
            assertEquals(0, entry.getPHatVersion());
            assertEquals(null, p.<ScheduleEntry>store(SchedulerProcessor.INDEX_STORE).get("c").getPHat(), "c was never chosen");
        }
    }

    @Test
    void replaysCorrectTrajectoriesByEstimateErrorForEachLearnerVersion() {
        TrainingConfig config = config("method", "paced", "replay-capacity", 3, "replay-add", 3, "replay-size", 2,
                "group-size", 4);
        try (Pipeline p = pipeline(config)) {
            p.pool(pool("a", 0.5, "b", 0.45, "c", 0.1));
            p.learnerVersion(0);
            List<ScheduledPrompt> batch = p.scheduled();
            assertEquals(List.of("a", "b"), ids(batch));
            assertEquals(List.of(), p.replay(), "an empty buffer draws nothing for update 0");
            p.group(batch.get(0), 1, 1, 1, 1); // a: 4/4 against p̂ 0.5 → priority 0.5
            p.group(batch.get(1), 1, 0, 0, 0); // b: 1/4 against p̂ 0.45 → priority 0.2
            p.advance(1);
            List<KeyValue<String, ReplayRecord>> drawn = p.replay();
            assertEquals(2, drawn.size());
            assertEquals(List.of(0, 1), drawn.stream().map(kv -> kv.value.getSampleIndex()).toList());
            assertTrue(drawn.stream().allMatch(kv -> kv.value.getForLearnerVersion() == 1));
            assertTrue(drawn.stream().allMatch(kv -> kv.key.equals(kv.value.getTrajectory().getRollout().getRolloutId())));
            // The buffer keeps the three highest priorities: a's (0.5), ties to the smaller id; b's lone
            // correct one (0.2) is out.
            List<ReplayEntry> buffered = new ArrayList<>();
            p.<ReplayEntry>store(SchedulerProcessor.REPLAY_STORE).all().forEachRemaining(kv -> buffered.add(kv.value));
            assertEquals(List.of(batch.get(0).getScheduleId() + "/0", batch.get(0).getScheduleId() + "/1",
                    batch.get(0).getScheduleId() + "/2"), buffered.stream().map(ReplayEntry::getTrajectoryId).sorted().toList());
            assertTrue(buffered.stream().allMatch(e -> e.getPriority() == 0.5 && e.getAddedAtVersion() == 1));
            assertTrue(drawn.stream().allMatch(kv -> kv.value.getPriority() == 0.5));
            RunEvent event = p.runEvents().stream().filter(e -> e.getType().equals("replay")).reduce((x, y) -> y).orElseThrow();
            assertEquals(2.0, event.getMetrics().get("drawn"));
            assertEquals(3.0, event.getMetrics().get("buffered"));
            assertEquals(1, event.getLearnerVersion());
            ReplayDrawn decision = p.decisions().stream().map(SchedulerDecision::getDecision).filter(ReplayDrawn.class::isInstance)
                    .map(ReplayDrawn.class::cast).reduce((x, y) -> y).orElseThrow();
            assertEquals(1, decision.getForVersion());
            assertEquals(drawn.stream().map(kv -> kv.key).toList(), decision.getTrajectoryIds(), "the draw, in order");
        }
    }

    /**
     * Running ahead (look-ahead 2), batch 1's groups can come back before the learner publishes
     * version 1: update 1 learns from them, so its draw must not replay them; they join the buffer
     * for update 2's.
     */
    @Test
    void aBatchsOwnSuccessesAreNeverReplayedIntoTheUpdateThatLearnsFromThem() {
        TrainingConfig config = config("method", "paced", "replay-capacity", 8, "replay-add", 8, "replay-size", 8,
                "group-size", 2, "look-ahead", 2);
        try (Pipeline p = pipeline(config)) {
            p.pool(pool("a", 0.5, "b", 0.45, "c", 0.4, "d", 0.1, "e", 0.05));
            p.learnerVersion(0);
            List<ScheduledPrompt> scheduled = p.scheduled();
            List<ScheduledPrompt> batch0 = scheduled.stream().filter(s -> s.getBatchId() == 0).toList();
            List<ScheduledPrompt> batch1 = scheduled.stream().filter(s -> s.getBatchId() == 1).toList();
            assertEquals(2, batch1.size(), "look-ahead 2 sends batch 1 before version 1");
            batch0.forEach(s -> p.group(s, 1, 0));
            batch1.forEach(s -> p.group(s, 1, 1));
            p.advance(1);
            Set<String> drawnFor1 = p.replay().stream().map(kv -> kv.key).collect(Collectors.toSet());
            Set<String> ofBatch0 = batch0.stream().map(s -> s.getScheduleId() + "/0").collect(Collectors.toSet());
            assertEquals(ofBatch0, drawnFor1, "update 1 replays batch 0's successes, none of batch 1's");
            p.advance(2);
            Set<String> drawnFor2 = p.replay().stream().map(kv -> kv.key).collect(Collectors.toSet());
            assertEquals(6, drawnFor2.size(), "batch 1's four successes join for update 2");
            assertTrue(drawnFor2.containsAll(ofBatch0));
        }
    }

    /**
     * Before each draw the buffer's priorities are recomputed against p̂ from the Z_φ of the draw's
     * version: a prompt the estimate has caught up with stops being drawn first. With
     * {@code replay-priority: recorded} they stay as added.
     */
    @Test
    void priorityIsRecomputedWithTheCurrentEstimateBeforeEachDraw() {
        for (String rule : List.of("current", "recorded")) {
            TrainingConfig config = config("method", "paced", "replay-capacity", 8, "replay-add", 8, "replay-size", 1,
                    "group-size", 4, "replay-priority", rule);
            try (Pipeline p = pipeline(config)) {
                p.pool(pool("a", 0.5, "b", 0.45, "c", 0.1));
                p.learnerVersion(0);
                List<ScheduledPrompt> batch = p.scheduled();
                p.group(batch.get(0), 1, 1, 1, 1); // a: 4/4 at p̂ 0.5 → priority 0.5
                p.group(batch.get(1), 1, 0, 0, 0); // b: 1/4 at p̂ 0.45 → priority 0.2
                // By version 1 Z_φ has learned a (p̂ 0.95) and not b (p̂ 0.9).
                p.estimate("a", 0.95, 1);
                p.estimate("b", 0.9, 1);
                p.advance(1);
                Map<String, Double> priorities = new java.util.TreeMap<>();
                currentPriorities(p).forEach((entry, priority) -> priorities.put(entry.getPromptId() + "/" + entry.getTrajectoryId(),
                        priority));
                double a = priorities.get("a/" + batch.get(0).getScheduleId() + "/0");
                double b = priorities.get("b/" + batch.get(1).getScheduleId() + "/0");
                if (rule.equals("current")) {
                    // Z_φ computes in float: p̂ to about 1e-6.
                    assertEquals(0.05, a, 1e-5, "|1 − 0.95|");
                    assertEquals(0.65, b, 1e-5, "|0.25 − 0.9|");
                    // The entries themselves, trajectories and all, are not rewritten: they keep the priority they came with.
                    assertEquals(0.5, p.<ReplayEntry>store(SchedulerProcessor.REPLAY_STORE).get(batch.get(0).getScheduleId() + "/0")
                            .getPriority(), 1e-9);
                } else {
                    assertEquals(0.5, a, 1e-5);
                    assertEquals(0.2, b, 1e-5);
                }
                assertEquals(5, priorities.size());
            }
        }
    }

    @Test
    void aForkSchedulesFromItsFirstVersionAndDrawsFromTheBufferItWasSeededWith() {
        TrainingConfig config = config("method", "paced", "replay-capacity", 4, "replay-add", 4, "replay-size", 2, "group-size", 4);
        try (Pipeline p = pipeline(config)) {
            p.pool(pool("a", 0.5, "b", 0.45, "c", 0.1));
            // The parent's buffer at version 5: two of a's correct trajectories and one of c's, with their priorities and ages.
            List<ReplaySeed> seeds = List.of(
                    new ReplaySeed(Records.scored("a", "a@3.0", 0, 4, 1.0), 0.5, 4L, 4L, 5L, 1.0),
                    new ReplaySeed(Records.scored("a", "a@3.0", 1, 4, 1.0), 0.5, 4L, 4L, 5L, 1.0),
                    new ReplaySeed(Records.scored("c", "c@1.0", 2, 4, 1.0), 0.15, 2L, 2L, 5L, 0.25));
            seeds.forEach(p::seed);
            p.advance(5);
            List<ScheduledPrompt> batch = p.scheduled();
            assertEquals(List.of("a", "b"), ids(batch));
            assertTrue(batch.stream().allMatch(s -> s.getBatchId() == 5), "the fork's batches start at its first version");
            List<KeyValue<String, ReplayRecord>> drawn = p.replay();
            assertEquals(2, drawn.size());
            assertTrue(drawn.stream().allMatch(kv -> kv.value.getForLearnerVersion() == 5), "no draws for the parent's versions");
            Set<String> seeded = seeds.stream().map(s -> s.getTrajectory().getRollout().getRolloutId()).collect(Collectors.toSet());
            assertTrue(drawn.stream().allMatch(kv -> seeded.contains(kv.key)), drawn.toString());
            Map<ReplayEntry, Double> buffered = currentPriorities(p);
            assertEquals(seeded, buffered.keySet().stream().map(ReplayEntry::getTrajectoryId).collect(Collectors.toSet()));
            // Recomputed for the draw with version 5's p̂ (a 0.5, c 0.1, to float precision): |1 − 0.5|, |0.25 − 0.1|.
            List<Double> priorities = buffered.values().stream().sorted().toList();
            assertEquals(0.15, priorities.get(0), 1e-5);
            assertEquals(0.5, priorities.get(1), 1e-5);
            assertEquals(0.5, priorities.get(2), 1e-5);
        }
    }

    /**
     * Every buffered entry at its current priority: recomputed ones are in {@code replay-priorities}
     * (the entry keeps the one it was added with, so its trajectory is not rewritten each version).
     */
    static Map<ReplayEntry, Double> currentPriorities(Pipeline p) {
        Map<ReplayEntry, Double> current = new java.util.HashMap<>();
        KeyValueStore<String, Double> recomputed = p.store(SchedulerProcessor.PRIORITIES_STORE);
        p.<ReplayEntry>store(SchedulerProcessor.REPLAY_STORE).all()
                .forEachRemaining(kv -> current.put(kv.value, SchedulerProcessor.priority(kv.value, recomputed.get(kv.key))));
        return current;
    }

    @Test
    void methodsWithoutReplayDrawNothing() {
        try (Pipeline p = pipeline(config("method", "grpo", "group-size", 2))) {
            p.pool(pool("a", 0.5, "b", 0.45, "c", 0.1));
            p.learnerVersion(0);
            p.scheduled().forEach(s -> p.group(s, 1, 1));
            p.advance(1);
            assertEquals(List.of(), p.replay());
        }
    }

    @Test
    void dynamicSamplingOversamplesAndRefillsTheBatchUntilBGroupsCarrySignal() {
        try (Pipeline p = pipeline(config("method", "dynamic-sampling", "oversample", 2.0, "max-sampling-rounds", 3))) {
            Map<String, Double> pool = new LinkedHashMap<>();
            for (int i = 0; i < 12; i++) {
                pool.put("p" + i, 0.5);
            }
            p.pool(pool);
            p.learnerVersion(0);
            List<ScheduledPrompt> round0 = p.scheduled();
            assertEquals(4, round0.size(), "B × oversample");
            assertTrue(round0.stream().allMatch(s -> s.getStrategy().equals("dynamic") && s.getBatchId() == 0));
            // One group carries signal, the others are all right or all wrong.
            p.group(round0.get(0), 1, 0);
            p.group(round0.get(1), 1, 1);
            p.group(round0.get(2), 0, 0);
            assertEquals(List.of(), p.scheduled(), "the round is not complete yet");
            p.group(round0.get(3), 0, 0);
            List<ScheduledPrompt> round1 = p.scheduled();
            assertEquals(2, round1.size(), "(B − 1 kept) × oversample");
            assertTrue(round1.stream().allMatch(s -> s.getBatchId() == 0 && s.getScheduleId().endsWith("@0.1")));
            p.group(round1.get(0), 0, 1);
            p.group(round1.get(1), 0, 1);
            assertEquals(List.of(), p.scheduled(), "the batch is full; batch 1 waits for version 1");
            SchedulerState state = p.<SchedulerState>store(SchedulerProcessor.STATE_STORE).get(SchedulerProcessor.STATE_KEY);
            assertEquals(List.of(), state.getDynamic(), "batch 0 is closed");
            DynamicBatchClosed closed = p.decisions().stream().map(SchedulerDecision::getDecision)
                    .filter(DynamicBatchClosed.class::isInstance).map(DynamicBatchClosed.class::cast).findFirst().orElseThrow();
            assertEquals(0, closed.getBatchId());
            assertEquals(List.of(round0.get(0).getScheduleId(), round1.get(0).getScheduleId()), closed.getKept(),
                    "the groups with signal, in the order kept");
            assertEquals(2, closed.getRounds());
        }
    }

    @Test
    void uniformDrawsAreSeededAndDoNotDependOnTheOrderPromptsArrived() {
        Map<String, Double> forward = new LinkedHashMap<>();
        for (int i = 0; i < 40; i++) {
            forward.put(String.format("p%02d", i), 0.5);
        }
        Map<String, Double> backward = new LinkedHashMap<>();
        List<String> reversed = new ArrayList<>(forward.keySet());
        java.util.Collections.reverse(reversed);
        reversed.forEach(id -> backward.put(id, 0.5));
        List<String> a;
        List<String> b;
        List<String> otherSeed;
        try (Pipeline p = pipeline(config("method", "grpo", "prompts-per-step", 5))) {
            p.pool(forward);
            p.learnerVersion(0);
            a = ids(p.scheduled());
        }
        try (Pipeline p = pipeline(config("method", "grpo", "prompts-per-step", 5))) {
            p.pool(backward);
            p.learnerVersion(0);
            b = ids(p.scheduled());
        }
        try (Pipeline p = pipeline(config("method", "grpo", "prompts-per-step", 5, "seed", 2))) {
            p.pool(forward);
            p.learnerVersion(0);
            otherSeed = ids(p.scheduled());
        }
        assertEquals(5, new HashSet<>(a).size());
        assertEquals(a, b);
        assertNotEquals(a, otherSeed);
    }

    @Test
    void badRecordsGoToTheDeadLetterTopicWithTheReasonAndProcessingGoesOn() {
        try (Pipeline p = pipeline(config())) {
            p.pool(pool("a", 0.5, "b", 0.5, "c", 0.3));
            p.rawPrompts.pipeInput("x", "{\"id\":\"x\"}".getBytes(StandardCharsets.UTF_8));
            float[] nan = DesignedPartition.embedding(0);
            nan[3] = Float.NaN;
            embedding(p, "a", PoolEmbeddings.of("a", nan, "test", 0));
            embedding(p, "a", io.pacedrl.schemas.PromptEmbedding.newBuilder(PoolEmbeddings.of("a", new float[] {1f, 2f}, "test", 0))
                    .setDimension(3).build());
            embedding(p, "b", PoolEmbeddings.of("a", DesignedPartition.embedding(0), "test", 0));
            p.rollout(Records.scored("ghost", "ghost@0.0", 0, 2, 1));
            ScoredRollout tooMuch = Records.scored("a", "a@0.0", 0, 2, 1);
            tooMuch.setReward(1.5);
            p.rollout(tooMuch);
            p.rollout(Records.scored("a", "a@0.0", 5, 2, 0));
            ScoredRollout negative = Records.scored("a", "a@0.0", 0, 2, 0);
            negative.getRollout().setPolicyVersion(-3);
            p.rollout(negative);
            p.rawScored.pipeInput("a", new byte[] {0, 0, 0, 0x7f, 0x7f, 2});
            byte[] junk = "not a Z".getBytes(StandardCharsets.UTF_8);
            ModelUpdate corrupt = ModelUpdateChunks.split("policy/partition-function", 5, PartitionFunction.FORMAT, junk, 5,
                    List.of(), List.of(), 0).get(0);
            p.rawUpdates.pipeInput("policy/partition-function/0", p.topics.modelUpdates.valueSerde().serializer()
                    .serialize(p.topics.modelUpdates.name(), corrupt));
            p.rawUpdates.pipeInput("policy/0", new byte[] {7});
            p.learnerVersion(0);

            List<DeadLetter> dead = p.deadLetters();
            Map<String, List<String>> byType = dead.stream().collect(Collectors.groupingBy(DeadLetter::getErrorType,
                    LinkedHashMap::new, Collectors.mapping(DeadLetter::getReason, Collectors.toList())));
            assertEquals(11, dead.size(), byType.toString());
            assertEquals(List.of("NOT_CONFLUENT_FRAMING", "IMPOSSIBLE_VALUE", "KEY_MISMATCH", "UNKNOWN_PROMPT",
                    "UNKNOWN_SCHEMA_ID"), List.copyOf(byType.keySet()));
            assertEquals(6, byType.get("IMPOSSIBLE_VALUE").size());
            assertTrue(byType.get("IMPOSSIBLE_VALUE").get(0).contains("embedding holds NaN"), byType.toString());
            assertTrue(byType.get("IMPOSSIBLE_VALUE").get(1).contains("dimension 3 carries 8 bytes"));
            assertTrue(byType.get("IMPOSSIBLE_VALUE").get(2).contains("reward 1.5"));
            assertTrue(byType.get("IMPOSSIBLE_VALUE").get(3).contains("group index 5"));
            assertTrue(byType.get("IMPOSSIBLE_VALUE").get(4).contains("negative policy version"));
            assertTrue(byType.get("IMPOSSIBLE_VALUE").get(5).contains("not " + PartitionFunction.FORMAT), byType.toString());
            DeadLetter first = dead.get(0);
            assertEquals(p.topics.prompts.name(), first.getSourceTopic());
            assertEquals("{\"id\":\"x\"}", StandardCharsets.UTF_8.decode(first.getValue()).toString(), "kept whole");
            assertEquals("difficulty-stream", first.getService());
            DeadLetter update = dead.get(dead.size() - 1);
            assertEquals(p.topics.modelUpdates.name(), update.getSourceTopic());
            // The app went on: the good records around the bad ones were processed.
            assertEquals(List.of("a", "b"), ids(p.scheduled()));
        }
    }

    private static void embedding(Pipeline p, String key, io.pacedrl.schemas.PromptEmbedding value) {
        p.rawEmbeddings.pipeInput(key, p.topics.promptEmbeddings.valueSerde().serializer().serialize(p.topics.promptEmbeddings.name(), value));
    }

    /** A scripted run: pool, estimates, versions, groups (some late, some bad), replay. */
    static List<String> scriptedRun(Pipeline p) {
        Map<String, Double> pool = new LinkedHashMap<>();
        for (int i = 0; i < 30; i++) {
            pool.put("p" + i, (i % 10) / 10.0);
        }
        p.pool(pool);
        List<String> out = new ArrayList<>();
        for (long version = 0; version < 6; version++) {
            p.advance(version);
            List<ScheduledPrompt> batch = p.scheduled();
            batch.forEach(s -> out.add(s.toString()));
            for (int k = 0; k < batch.size(); k++) {
                ScheduledPrompt s = batch.get(k);
                if ((k + version) % 3 != 0) { // every third group never comes back
                    p.group(s, 1, (k + version) % 2, 1, 0);
                }
                p.estimate(s.getPrompt().getId(), ((k * 7 + version * 3) % 10) / 10.0, version + 1);
            }
            p.now += 4_000;
            p.estimate("ghost", 0.5, version);
        }
        p.replay().forEach(kv -> out.add(kv.toString()));
        p.runEvents().forEach(e -> out.add(e.toString()));
        p.deadLetters().forEach(d -> out.add(d.toString()));
        return out;
    }

    @Test
    void theSameInputsGiveTheSameOutputs() {
        for (String method : List.of("paced", "grpo", "dynamic-sampling")) {
            TrainingConfig config = config("method", method, "prompts-per-step", 4, "group-size", 4, "look-ahead", 2,
                    "replay-size", 3);
            List<String> first;
            List<String> second;
            try (Pipeline p = pipeline(config)) {
                first = scriptedRun(p);
            }
            try (Pipeline p = pipeline(config)) {
                second = scriptedRun(p);
            }
            assertTrue(first.size() > 30, method + ": " + first.size());
            assertTrue(first.stream().anyMatch(s -> s.contains("released")), method);
            assertEquals(first, second, method);
        }
    }
}
