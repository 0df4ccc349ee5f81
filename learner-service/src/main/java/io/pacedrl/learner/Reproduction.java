package io.pacedrl.learner;

import io.pacedrl.learning.LearnerUpdate;
import io.pacedrl.learning.PolicyLearner;
import io.pacedrl.schemas.LearnedGroup;
import io.pacedrl.schemas.ModelVersion;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.topics.ModelUpdateChunks;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Re-executes a recorded run's updates with a fresh learner and checks each version against its
 * record: from π_ref and the run's configuration (a fork: from its parent's state where it started), update v − 1 → v learns from exactly the groups,
 * estimates and replayed trajectories version v's record names, through the service's own update
 * ({@link UpdateInputs}, {@link LearnerUpdate}, seeded from (seed, version)); the policy's weights,
 * Z_φ and the optimisers' state after it must have the recorded SHA-256. Plain Java: it reads
 * nothing and writes nothing.
 */
public final class Reproduction {

    /** One version recomputed: which of its three parts have the recorded checksum. */
    public record Check(long version, boolean weights, boolean partition, boolean trainer) {
        public boolean matches() {
            return weights && partition && trainer;
        }

        /** What differs, in words ("" when nothing does). */
        public String differences() {
            List<String> parts = new ArrayList<>();
            if (!weights) {
                parts.add("policy weights");
            }
            if (!partition) {
                parts.add("Z_φ");
            }
            if (!trainer) {
                parts.add("optimiser state");
            }
            return String.join(", ", parts);
        }
    }

    /**
     * One version recomputed: its check, the learner's state after it, and p̂ of pool prompts (by
     * pool index) from that version's Z_φ, to be called during the report only (the learner is
     * closed after).
     */
    public record Recomputed(Check check, PolicyLearner.State state, Function<int[], double[]> estimates) {}

    private Reproduction() {}

    /**
     * Recomputes the run's versions up to {@code upTo} (at most the newest recorded), reporting each
     * as it is checked. Continues past a mismatch, so every version is reported. A fork's lineage
     * comes first: its parent's versions up to the fork's start, then the fork's own with its
     * configuration, from the parent's state there.
     */
    public static List<Check> run(RunRecord record, long upTo, Consumer<Check> onCheck) {
        List<Check> checks = new ArrayList<>();
        stateAt(record, Math.min(upTo, record.latestVersion()), recomputed -> {
            checks.add(recomputed.check());
            onCheck.accept(recomputed.check());
        });
        return checks;
    }

    /**
     * The learner's state after recomputing the run's versions up to {@code version}, each checked
     * and reported on the way (a fork's parent's first). The state is what the recomputation gave,
     * matching or not.
     */
    public static PolicyLearner.State stateAt(RunRecord record, long version, Consumer<Recomputed> onCheck) {
        if (version < record.firstVersion() && record.parent() != null) {
            return stateAt(record.parent(), version, onCheck);
        }
        List<TaskPrompt> pool = record.pool();
        UpdateInputs inputs = new UpdateInputs(pool);
        try (PolicyLearner learner = new PolicyLearner(record.config(), record.reference(), pool.stream().map(TaskPrompt::text).toList())) {
            if (record.parent() != null) {
                learner.restore(stateAt(record.parent(), record.firstVersion(), onCheck));
            }
            PolicyLearner.State state = learner.state();
            onCheck.accept(new Recomputed(check(state, record.version(record.firstVersion())), state, learner::accuracyEstimates));
            for (long v = record.firstVersion() + 1; v <= version; v++) {
                ModelVersion recorded = record.version(v);
                LearnerUpdate.apply(learner, inputs.batch(v - 1, groups(record, recorded), rollouts(record, v,
                        recorded.getReplayIds())));
                state = learner.state();
                onCheck.accept(new Recomputed(check(state, recorded), state, learner::accuracyEstimates));
            }
            return state;
        }
    }

    private static Check check(PolicyLearner.State state, ModelVersion recorded) {
        String partition = state.partition() == null ? null : ModelUpdateChunks.sha256(state.partition());
        return new Check(recorded.getVersion(), ModelUpdateChunks.sha256(state.weights()).equals(recorded.getWeightsSha256()),
                Objects.equals(partition, recorded.getPartitionSha256()),
                ModelUpdateChunks.sha256(state.trainer()).equals(recorded.getTrainerSha256()));
    }

    /** The fresh groups of a version's batch, as the learner took them. */
    private static List<BatchAssembler.Group> groups(RunRecord record, ModelVersion recorded) {
        List<BatchAssembler.Group> groups = new ArrayList<>();
        for (LearnedGroup group : recorded.getGroups()) {
            groups.add(new BatchAssembler.Group(group.getScheduleId(), BatchAssembler.batchOf(group.getScheduleId()),
                    rollouts(record, recorded.getVersion(), group.getRolloutIds()), group.getPHat()));
        }
        return groups;
    }

    private static List<ScoredRollout> rollouts(RunRecord record, long version, List<String> ids) {
        List<ScoredRollout> out = new ArrayList<>(ids.size());
        for (String id : ids) {
            ScoredRollout scored = record.rollouts().get(id);
            if (scored == null) {
                throw new RunRecord.IncompleteRecordException("version " + version + " learned from rollout '" + id
                        + "', which is not on scored-rollouts");
            }
            out.add(scored);
        }
        return out;
    }
}
