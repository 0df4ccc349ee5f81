package io.pacedrl.learner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import io.pacedrl.learning.LearnerUpdate;
import io.pacedrl.learning.PolicyLearner;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.CharTokenizer;
import io.pacedrl.policy.Torch;
import io.pacedrl.policy.Transformer;
import io.pacedrl.schemas.LearnedGroup;
import io.pacedrl.schemas.ModelVersion;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.ReplaySeed;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.PromptRecords;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Reproduction, without Kafka: a learner records four versions as the service does (its inputs,
 * then the checksums of what it produced); a fresh one re-executes them from that record alone and
 * every version matches; a changed rollout is found at the first version that learned from it.
 */
class ReproductionTest {
    private static final TrainingConfig CONFIG = TrainingConfig.defaults().with(Map.of("method", "paced", "prompts-per-step", 2,
            "group-size", 3, "partition-hidden", 16, "partition-fit-steps", 2));
    private static final List<Prompt> PROMPTS = List.of(Fixtures.prompt("p0", "1+1=", "2", PromptSplit.TRAIN),
            Fixtures.prompt("p1", "2+3=", "5", PromptSplit.TRAIN), Fixtures.prompt("p2", "7*6=", "42", PromptSplit.TRAIN),
            Fixtures.prompt("p3", "9-4=", "5", PromptSplit.TRAIN));
    private static byte[] reference;

    @BeforeAll
    static void tinyPolicy() {
        Torch.configure(1);
        try (NDManager manager = NDManager.newBaseManager();
                Transformer model = new Transformer(manager, new Transformer.Config(CharTokenizer.ASCII.vocabularySize(), 32, 1, 2, 32,
                        0f, true), CharTokenizer.ASCII, 3)) {
            reference = model.toBytes();
        }
    }

    @Test
    void aRecordedRunIsReproducedAndAChangedRolloutIsFoundWhereItWasFirstLearned() {
        // With copies of Z_φ taken before updates 2, 3 and 4: they are recomputed too, and published Z_φ carries them.
        RunRecord record = record(4, CONFIG.with(Map.of("partition-copy-every", 1, "partition-copies", 2)));
        List<Reproduction.Check> checks = new ArrayList<>();
        Reproduction.run(record, Long.MAX_VALUE, checks::add);
        assertEquals(5, checks.size(), "versions 0–4");
        checks.forEach(check -> assertTrue(check.matches(), check.toString()));

        // Version 3 learned fresh from p2@2.0/0 (replayed by version 4): flip its reward.
        Map<String, ScoredRollout> changed = new HashMap<>(record.rollouts());
        ScoredRollout original = changed.get("p2@2.0/0");
        changed.put("p2@2.0/0", ScoredRollout.newBuilder(original).setReward(1 - original.getReward())
                .setCorrect(!original.getCorrect()).build());
        List<Reproduction.Check> after = Reproduction.run(new RunRecord(record.runId(), record.modelId(), record.config(),
                record.reference(), record.pool(), record.versions(), changed, null), Long.MAX_VALUE, check -> { });
        assertEquals(List.of(true, true, true, false, false), after.stream().map(Reproduction.Check::matches).toList());
        assertEquals("policy weights, Z_φ, optimiser state", after.get(3).differences());

        Map<String, ScoredRollout> missing = new HashMap<>(record.rollouts());
        missing.remove("p2@2.0/0");
        RunRecord.IncompleteRecordException gap = assertThrows(RunRecord.IncompleteRecordException.class, () -> Reproduction.run(
                new RunRecord(record.runId(), record.modelId(), record.config(), record.reference(), record.pool(), record.versions(),
                        missing, null), Long.MAX_VALUE, check -> { }));
        assertEquals("version 3 learned from rollout 'p2@2.0/0', which is not on scored-rollouts", gap.getMessage());
    }

    @Test
    void aForkStartsWithTheBufferTheParentsBatchesBuildByEstimateError() {
        TrainingConfig recorded = CONFIG.with(Map.of("replay-priority", "recorded"));
        TrainingConfig config = recorded.with(Map.of("replay-capacity", 4, "replay-add", 4));
        List<ReplaySeed> seed = replaySeed(record(4, recorded), 3, config);
        // Batch 2 (learned by version 3): one group 3/3 correct against p̂ 0.45 (priority 0.55), one 2/3 against 0.2 (0.467); the
        // older batches' successes rank lower and the buffer keeps 4.
        List<Double> priorities = seed.stream().map(ReplaySeed::getPriority).toList();
        assertEquals(4, priorities.size());
        for (int i = 0; i < 3; i++) {
            assertEquals(0.55, priorities.get(i), 1e-12);
        }
        assertEquals(2 / 3.0 - 0.2, priorities.get(3), 1e-12);
        assertTrue(seed.stream().allMatch(s -> s.getTrajectory().getCorrect() && s.getAddedAtVersion() == 3 && s.getAdded() == 3
                && s.getForkVersion() == 3), seed.toString());
        assertEquals(List.of(1.0, 1.0, 1.0, 2 / 3.0), seed.stream().map(ReplaySeed::getGroupAccuracy).toList());
        assertEquals(0, replaySeed(record(4, recorded), 0, config).size(), "nothing learned yet, nothing buffered");
        assertEquals(2 * 2 * 3, ForkStart.rolloutsLearned(record(4, recorded), 2));
    }

    /**
     * Where the parent recomputed priorities before each draw, the rebuilt buffer did too: an entry
     * added before the fork's version carries |its group's accuracy − p̂| by Z_φ of the last draw's
     * version (2 here); the last batch's entries the p̂ they were scheduled with.
     */
    @Test
    void aForkOfARunThatRecomputesPrioritiesRebuildsItsBufferWithEachVersionsEstimates() {
        RunRecord record = record(4, CONFIG);
        List<ReplaySeed> seed = replaySeed(record, 3, CONFIG);
        double[] atTwo;
        try (PolicyLearner learner = new PolicyLearner(CONFIG, reference, record.pool().stream().map(TaskPrompt::text).toList())) {
            learner.restore(Reproduction.stateAt(record, 2, recomputed -> { }));
            atTwo = learner.accuracyEstimates();
        }
        List<String> ids = record.pool().stream().map(TaskPrompt::id).toList();
        int older = 0;
        for (ReplaySeed entry : seed) {
            if (entry.getAddedAtVersion() == 3) {
                continue;
            }
            older++;
            double pHat = atTwo[ids.indexOf(entry.getTrajectory().getRollout().getPrompt().getId())];
            assertEquals(Math.abs(entry.getGroupAccuracy() - pHat), entry.getPriority(), 1e-12, entry.toString());
        }
        assertTrue(older > 0, "the buffer holds entries from before version 3: " + seed);
    }

    /** The buffer a fork at {@code version} starts with, rebuilt while the record is recomputed, as paced-rl fork does. */
    private static List<ReplaySeed> replaySeed(RunRecord record, long version, TrainingConfig forkConfig) {
        ForkStart.ReplayRebuild rebuild = new ForkStart.ReplayRebuild(record, version, forkConfig);
        Reproduction.stateAt(record, version, rebuild);
        return rebuild.seed();
    }

    /** Versions 0 to {@code updates} as the learner service records them; from version 2 on, each replays the previous batch's first rollout. */
    private static RunRecord record(int updates, TrainingConfig config) {
        List<TaskPrompt> pool = PROMPTS.stream().map(PromptRecords::toTask).toList();
        UpdateInputs inputs = new UpdateInputs(pool);
        List<ModelVersion> versions = new ArrayList<>();
        Map<String, ScoredRollout> rollouts = new HashMap<>();
        try (PolicyLearner learner = new PolicyLearner(config, reference, pool.stream().map(TaskPrompt::text).toList())) {
            versions.add(version(0, learner.state(), List.of(), List.of()));
            for (int batch = 0; batch < updates; batch++) {
                List<BatchAssembler.Group> groups = new ArrayList<>();
                List<LearnedGroup> learned = new ArrayList<>();
                for (int g = 0; g < 2; g++) {
                    Prompt prompt = PROMPTS.get((batch + g) % PROMPTS.size());
                    List<ScoredRollout> group = Fixtures.group(prompt, batch, 3, (batch + g) % 4, Math.max(0, batch - 1));
                    group.forEach(r -> rollouts.put(r.getRollout().getRolloutId(), r));
                    double pHat = 0.25 * g + 0.1 * batch;
                    groups.add(new BatchAssembler.Group(prompt.getId() + "@" + batch + ".0", batch, group, pHat));
                    learned.add(new LearnedGroup(prompt.getId() + "@" + batch + ".0", pHat,
                            group.stream().map(r -> r.getRollout().getRolloutId()).toList()));
                }
                List<ScoredRollout> replayed = batch == 0 ? List.of()
                        : List.of(rollouts.get(versions.get(batch).getGroups().get(0).getRolloutIds().get(0)));
                LearnerUpdate.apply(learner, inputs.batch(batch, groups, replayed));
                versions.add(version(batch + 1, learner.state(), learned,
                        replayed.stream().map(r -> r.getRollout().getRolloutId()).toList()));
            }
        }
        return new RunRecord("run", "policy", config, reference, pool, versions, rollouts, null);
    }

    private static ModelVersion version(long version, PolicyLearner.State state, List<LearnedGroup> groups, List<String> replayIds) {
        return ModelVersion.newBuilder().setRunId("run").setModelId("policy").setVersion(version)
                .setWeightsSha256(ModelUpdateChunks.sha256(state.weights())).setPartitionSha256(ModelUpdateChunks.sha256(state.partition()))
                .setTrainerSha256(ModelUpdateChunks.sha256(state.trainer())).setReferenceSha256(ModelUpdateChunks.sha256(reference))
                .setGroups(groups).setReplayIds(replayIds).setCreatedAtMs(0).build();
    }
}
