package io.pacedrl.learning;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import io.pacedrl.learning.PolicyLearner.Group;
import io.pacedrl.learning.PolicyLearner.Trajectory;
import io.pacedrl.policy.CharTokenizer;
import io.pacedrl.policy.Torch;
import io.pacedrl.policy.Transformer;
import io.pacedrl.policy.Weights;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A learner put back from its state updates exactly as the one it was taken from: what a checkpoint must give. */
class PolicyLearnerTest {
    private static byte[] reference;
    private static final List<String> POOL = List.of("1+1=", "2+3=", "7*6=", "9-4=", "3 4 5 -> 17", "12+30=");

    @BeforeAll
    static void tinyPolicy() {
        Torch.configure(1);
        try (NDManager manager = NDManager.newBaseManager();
                Transformer model = new Transformer(manager, new Transformer.Config(CharTokenizer.ASCII.vocabularySize(), 32, 1, 2, 32,
                        0f, true), CharTokenizer.ASCII, 3)) {
            reference = model.toBytes();
        }
    }

    /** Two groups of three with mixed rewards, sampled by some earlier policy. */
    private static List<Group> batch(PolicyLearner learner, int salt) {
        List<Group> groups = new ArrayList<>();
        for (int prompt : new int[] {salt % POOL.size(), (salt + 3) % POOL.size()}) {
            List<Trajectory> trajectories = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                int[] response = CharTokenizer.ASCII.encodeResponse(Integer.toString(prompt * 7 + i + salt));
                float[] behaviour = new float[response.length];
                Arrays.fill(behaviour, -2.5f + 0.1f * i);
                trajectories.add(new Trajectory(prompt + "/" + i, prompt, learner.promptTokens(prompt), response, behaviour,
                        i == 0 ? 1.0 : 0.0, i == 0));
            }
            groups.add(new Group(prompt, trajectories));
        }
        return groups;
    }

    private static PolicyLearner.UpdateResult step(PolicyLearner learner, int step) {
        Engine.getInstance().setRandomSeed(1000 + step);
        List<Group> groups = batch(learner, step);
        List<Trajectory> fresh = groups.stream().flatMap(g -> g.trajectories().stream()).toList();
        List<Trajectory> replayed = learner.config().method().replay() ? List.of(fresh.get(0)) : List.of();
        return learner.update(step, groups, fresh, replayed, false);
    }

    @Test
    void onlyTrajectoryBalanceLearnsFromReplay() {
        TrainingConfig config = TrainingConfig.defaults().with(Map.of("method", "grpo"));
        try (PolicyLearner learner = new PolicyLearner(config, reference, POOL)) {
            List<Group> groups = batch(learner, 1);
            List<Trajectory> fresh = groups.stream().flatMap(g -> g.trajectories().stream()).toList();
            assertEquals("grpo does not learn from replayed trajectories", assertThrows(IllegalArgumentException.class,
                    () -> learner.update(1, groups, fresh, List.of(fresh.get(0)), false)).getMessage());
        }
    }

    @Test
    void zPhisInputIsTheChosenPoolingOfTheReferencesHiddenStates() {
        TrainingConfig config = TrainingConfig.defaults();
        try (PolicyLearner mean = new PolicyLearner(config, reference, POOL);
                PolicyLearner last = new PolicyLearner(config.with(Map.of("partition-embedding", "last")), reference, POOL);
                PolicyLearner both = new PolicyLearner(config.with(Map.of("partition-embedding", "mean-and-last")), reference, POOL)) {
            for (int i = 0; i < POOL.size(); i++) {
                assertEquals(32, mean.embedding(i).length);
                float[] meanAndLast = Arrays.copyOf(mean.embedding(i), 64);
                System.arraycopy(last.embedding(i), 0, meanAndLast, 32, 32);
                assertArrayEquals(meanAndLast, both.embedding(i), 1e-6f, "mean-and-last is the two side by side");
            }
            assertNotEquals(Arrays.toString(mean.embedding(2)), Arrays.toString(last.embedding(2)));
            assertEquals(POOL.size(), both.accuracyEstimates().length, "Z_φ reads the wider input");
        }
        assertEquals("mean-and-last", config.with(Map.of("partition-embedding", "mean-and-last")).asKeys().get("partition-embedding"));
        assertEquals("mean", config.asKeys().get("partition-embedding"));
        String bad = assertThrows(IllegalArgumentException.class, () -> config.with(Map.of("partition-embedding", "max"))).getMessage();
        assertTrue(bad.contains("partition-embedding") && bad.contains("mean-and-last"), bad);
    }

    @Test
    void zPhiReadsEachEmbeddingDimensionCentredAndScaledByThePoolUnlessRawIsAsked() {
        TrainingConfig config = TrainingConfig.defaults();
        assertEquals("standardized", config.asKeys().get("partition-input"));
        try (PolicyLearner standardized = new PolicyLearner(config, reference, POOL);
                PolicyLearner raw = new PolicyLearner(config.with(Map.of("partition-input", "raw")), reference, POOL)) {
            for (int j = 0; j < 32; j++) {
                double mean = 0;
                double squares = 0;
                for (int i = 0; i < POOL.size(); i++) {
                    mean += raw.embedding(i)[j] / POOL.size();
                }
                for (int i = 0; i < POOL.size(); i++) {
                    squares += Math.pow(raw.embedding(i)[j] - mean, 2) / POOL.size();
                }
                for (int i = 0; i < POOL.size(); i++) {
                    assertEquals((raw.embedding(i)[j] - mean) / Math.sqrt(squares), standardized.embedding(i)[j], 1e-3,
                            "prompt " + i + ", dimension " + j);
                }
            }
            assertNotEquals(Arrays.toString(raw.accuracyEstimates()), Arrays.toString(standardized.accuracyEstimates()));
        }
        String bad = assertThrows(IllegalArgumentException.class, () -> config.with(Map.of("partition-input", "whitened"))).getMessage();
        assertTrue(bad.contains("partition-input") && bad.contains("standardized"), bad);
    }

    /**
     * A replayed trajectory is anchored on the learner's pre-update policy: the behaviour log-probs
     * recorded with it, however old, change nothing. With {@code replay-old-policy: recorded} (the
     * ablation) they are the anchor, and the update differs.
     */
    @Test
    void aReplayedTrajectorysOldPolicyIsThePreUpdatePolicyUnlessRecordedIsAsked() {
        Map<String, Object> keys = Map.of("method", "paced", "partition-hidden", 16, "partition-fit-steps", 2);
        byte[] asRecorded = replayUpdate(TrainingConfig.defaults().with(keys), -1.0f);
        assertArrayEquals(asRecorded, replayUpdate(TrainingConfig.defaults().with(keys), -40.0f),
                "the recorded log-probs of a replayed trajectory must not matter when π_old is recomputed");
        TrainingConfig recorded = TrainingConfig.defaults().with(Map.of("method", "paced", "partition-hidden", 16,
                "partition-fit-steps", 2, "replay-old-policy", "recorded"));
        assertNotEquals(Arrays.toString(replayUpdate(recorded, -1.0f)), Arrays.toString(replayUpdate(recorded, -40.0f)),
                "with replay-old-policy recorded the recorded log-probs are the anchor");
        assertEquals("replay-old-policy must be one of recomputed, recorded, got 'fresh'", assertThrows(IllegalArgumentException.class,
                () -> TrainingConfig.defaults().with(Map.of("replay-old-policy", "fresh"))).getMessage());
    }

    /**
     * A fresh trajectory is anchored on the behaviour log-probs its generator recorded, so p̂
     * estimates the generator's accuracy: they change the update. With {@code fresh-old-policy:
     * recomputed} the anchor is the learner's pre-update policy (p̂ then estimates the learner's),
     * and what was recorded changes nothing, in the policy or in Z_φ.
     */
    @Test
    void aFreshTrajectorysOldPolicyIsTheRecordedBehaviourUnlessRecomputedIsAsked() {
        TrainingConfig recorded = TrainingConfig.defaults().with(Map.of("method", "paced", "partition-hidden", 16,
                "partition-fit-steps", 2));
        assertNotEquals(Arrays.toString(freshUpdate(recorded, -1.0f)), Arrays.toString(freshUpdate(recorded, -3.0f)),
                "by default the recorded log-probs of a fresh trajectory are its anchor");
        TrainingConfig recomputed = recorded.with(Map.of("fresh-old-policy", "recomputed"));
        assertArrayEquals(freshUpdate(recomputed, -1.0f), freshUpdate(recomputed, -3.0f),
                "with fresh-old-policy recomputed the recorded log-probs of a fresh trajectory must not matter");
        assertEquals("fresh-old-policy must be one of recomputed, recorded, got 'learner'", assertThrows(IllegalArgumentException.class,
                () -> TrainingConfig.defaults().with(Map.of("fresh-old-policy", "learner"))).getMessage());
    }

    /** The policy's and Z_φ's parameters after one update whose fresh trajectories recorded {@code behaviour} per token. */
    private static byte[] freshUpdate(TrainingConfig config, float behaviour) {
        try (PolicyLearner learner = new PolicyLearner(config, reference, POOL)) {
            Engine.getInstance().setRandomSeed(78);
            List<Trajectory> fresh = new ArrayList<>();
            List<Group> groups = new ArrayList<>();
            for (Group group : batch(learner, 1)) {
                List<Trajectory> trajectories = group.trajectories().stream().map(t -> {
                    float[] old = new float[t.response().length];
                    Arrays.fill(old, behaviour);
                    return new Trajectory(t.id(), t.prompt(), t.promptTokens(), t.response(), old, t.reward(), t.correct());
                }).toList();
                fresh.addAll(trajectories);
                groups.add(new Group(group.prompt(), trajectories));
            }
            learner.update(5, groups, fresh, List.of(), false);
            PolicyLearner.State state = learner.state();
            byte[] weights = state.weights();
            byte[] partition = state.partition();
            byte[] both = Arrays.copyOf(weights, weights.length + partition.length);
            System.arraycopy(partition, 0, both, weights.length, partition.length);
            return both;
        }
    }

    /** The weights after one update whose replayed trajectory recorded {@code behaviour} per token. */
    private static byte[] replayUpdate(TrainingConfig config, float behaviour) {
        try (PolicyLearner learner = new PolicyLearner(config, reference, POOL)) {
            Engine.getInstance().setRandomSeed(77);
            List<Group> groups = batch(learner, 1);
            List<Trajectory> fresh = groups.stream().flatMap(g -> g.trajectories().stream()).toList();
            int[] response = CharTokenizer.ASCII.encodeResponse("42");
            float[] old = new float[response.length];
            Arrays.fill(old, behaviour);
            Trajectory replayed = new Trajectory("old/0", 2, learner.promptTokens(2), response, old, 1.0, true);
            learner.update(5, groups, fresh, List.of(replayed), false);
            return learner.state().weights();
        }
    }

    @Test
    void aRestoredLearnerUpdatesExactlyAsTheOriginal() {
        // PACED twice: with Z_φ alone, and with two copies taken before every update (restored from the published bytes).
        for (Map<String, Object> keys : List.<Map<String, Object>>of(Map.of("method", "paced", "partition-copies", 0),
                Map.of("method", "paced", "partition-copy-every", 1, "partition-copies", 2), Map.of("method", "grpo"),
                Map.of("method", "flowrl"))) {
            TrainingConfig config = TrainingConfig.defaults().with(Map.of("partition-hidden", 16, "partition-fit-steps", 2)).with(keys);
            Method method = config.method();
            try (PolicyLearner original = new PolicyLearner(config, reference, POOL);
                    PolicyLearner resumed = new PolicyLearner(config, reference, POOL)) {
                step(original, 1);
                step(original, 2);
                resumed.restore(original.state());
                assertEquals(original.policy().checksum(), resumed.policy().checksum(), method.key());
                PolicyLearner.UpdateResult a = step(original, 3);
                PolicyLearner.UpdateResult b = step(resumed, 3);
                assertEquals(a, b, method.key() + ": the same loss, gradient norm and β·KL");
                assertEquals(original.policy().checksum(), resumed.policy().checksum(), method.key() + ": the same weights after");
                assertArrayEquals(original.accuracyEstimates(), resumed.accuracyEstimates(), method.key() + ": the same p̂");
                if (method.learnsPartition()) {
                    assertArrayEquals(original.state().partition(), resumed.state().partition(), method.key() + ": the same Z_φ");
                }
                if (method.estimatesAccuracy()) {
                    // What the scheduler computes: Z_φ loaded from the bytes a version carries, over the embeddings it received.
                    float[] rows = new float[0];
                    for (int i = 0; i < POOL.size(); i++) {
                        float[] row = original.embedding(i);
                        rows = java.util.Arrays.copyOf(rows, rows.length + row.length);
                        System.arraycopy(row, 0, rows, rows.length - row.length, row.length);
                    }
                    try (ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager();
                            PartitionEnsemble published = PartitionEnsemble.fromBytes(manager, original.state().partition())) {
                        assertEquals(config.partitionCopies(), published.copies(), keys + ": the copies travel with Z_φ");
                        assertArrayEquals(original.accuracyEstimates(), published.accuracyEstimates(rows, POOL.size(), config.beta()),
                                method.key() + ": the scheduler's p̂ from the published Z_φ is the learner's");
                    }
                }
                assertNotEquals(Weights.sha256(reference), original.policy().checksum(), "the updates moved the policy");
            }
        }
    }

    /** Groups of three on these prompts, every response correct or every one wrong. */
    private static List<Group> uniform(PolicyLearner learner, boolean correct, int... prompts) {
        List<Group> groups = new ArrayList<>();
        for (int prompt : prompts) {
            List<Trajectory> trajectories = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                int[] response = CharTokenizer.ASCII.encodeResponse(Integer.toString(prompt + i));
                trajectories.add(new Trajectory(prompt + "/" + i, prompt, learner.promptTokens(prompt), response,
                        new float[response.length], correct ? 1.0 : 0.0, correct));
            }
            groups.add(new Group(prompt, trajectories));
        }
        return groups;
    }

    @Test
    void zPhisFitKeepsFittingTheBatchesOfTheLastPartitionMemoryUpdates() {
        double[][] estimates = new double[2][];
        for (int memory = 0; memory <= 1; memory++) {
            TrainingConfig config = TrainingConfig.defaults().with(Map.of("method", "paced", "partition-hidden", 16,
                    "partition-fit-steps", 60, "partition-learning-rate", 1e-2, "partition-dropout", 0.0, "partition-memory", memory));
            try (PolicyLearner learner = new PolicyLearner(config, reference, POOL)) {
                // Prompt 0 solved in one batch, then unsolved in the next two.
                boolean[] outcomes = {true, false, false};
                estimates[memory] = new double[outcomes.length];
                for (int step = 1; step <= outcomes.length; step++) {
                    List<Group> groups = uniform(learner, outcomes[step - 1], 0);
                    learner.update(step, groups, groups.get(0).trajectories(), List.of(), true);
                    estimates[memory][step - 1] = learner.accuracyEstimates(new int[] {0})[0];
                }
            }
        }
        assertEquals(1.0, estimates[0][0], 0.05, "fitted to its first batch: " + Arrays.toString(estimates[0]));
        assertEquals(0.0, estimates[0][1], 0.05, "memory 0: fitted to the newest batch alone: " + Arrays.toString(estimates[0]));
        assertEquals(1.0, estimates[1][0], 0.05, Arrays.toString(estimates[1]));
        assertEquals(0.5, estimates[1][1], 0.05, "memory 1: fitted to both batches' targets: " + Arrays.toString(estimates[1]));
        assertEquals(0.0, estimates[1][2], 0.05, "the solved batch has dropped out of a memory of one: " + Arrays.toString(estimates[1]));
    }

    @Test
    void aHeldOutPromptIsEstimatedAsThePoolsPromptOfTheSameTextWouldBe() {
        TrainingConfig config = TrainingConfig.defaults().with(Map.of("method", "paced", "partition-hidden", 16, "partition-fit-steps", 2));
        try (PolicyLearner learner = new PolicyLearner(config, reference, POOL, List.of(POOL.get(4), POOL.get(2)))) {
            step(learner, 1);
            // The same embedding, scaled by the pool's statistics, so the same p̂.
            assertArrayEquals(learner.accuracyEstimates(new int[] {4, 2}), learner.heldOutEstimates());
            assertArrayEquals(learner.heldOutEstimates(), learner.estimates().heldOutProbes());
        }
    }

    @Test
    void anUpdateSeedsItselfFromTheVersionAndSaysWhatItDid() {
        TrainingConfig config = TrainingConfig.defaults().with(Map.of("method", "paced", "partition-hidden", 16,
                "partition-fit-steps", 2, "partition-dropout", 0.5));
        try (PolicyLearner a = new PolicyLearner(config, reference, POOL); PolicyLearner b = new PolicyLearner(config, reference, POOL)) {
            List<Group> groups = new ArrayList<>(batch(a, 1));
            groups.addAll(batch(a, 2));
            double[] estimates = {0.1, 0.4, 0.6, 0.2};
            // Whatever the engine's random state before, the update draws its dropout from (seed, version).
            Engine.getInstance().setRandomSeed(7);
            LearnerUpdate.Figures first = LearnerUpdate.apply(a, new LearnerUpdate.Batch(5, groups, estimates, List.of(), false));
            Engine.getInstance().setRandomSeed(99);
            LearnerUpdate.Figures second = LearnerUpdate.apply(b, new LearnerUpdate.Batch(5, groups, estimates, List.of(), false));
            assertEquals(first, second);
            assertEquals(a.policy().checksum(), b.policy().checksum());

            assertEquals(4, first.groups());
            assertEquals(12, first.rollouts());
            assertEquals(0, first.replayed());
            assertEquals(4.0 / 12, first.meanReward(), 1e-12, "one correct in each group of three");
            assertEquals(1.0, first.informativeShare(), "every group's rewards differ");
            assertEquals(0.325, first.meanPHat(), 1e-12);
            assertEquals(Double.NaN, first.pHatSpearman(), "every group is 1/3 correct: no ranking to compare with");
            Map<String, Double> metrics = first.asMetrics();
            assertEquals(first.betaKl(), metrics.get(MetricNames.BETA_KL));
            assertEquals(4.0, metrics.get(MetricNames.GROUPS));

            double[] missing = {0.1, Double.NaN, 0.6, 0.2};
            LearnerUpdate.Figures unestimated = LearnerUpdate.apply(a, new LearnerUpdate.Batch(6, groups, missing, List.of(), false));
            assertEquals(Double.NaN, unestimated.meanPHat(), "a group without its estimate: no p̂ figures");
        }
    }
}

