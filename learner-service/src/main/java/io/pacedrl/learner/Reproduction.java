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

/**
 * Re-executes a recorded run's updates with a fresh learner and checks each version against its
 * record: from π_ref and the run's configuration, update v − 1 → v learns from exactly the groups,
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

    private Reproduction() {}

    /**
     * Recomputes versions 0 to {@code upTo} (at most the newest recorded), reporting each as it is
     * checked. Continues past a mismatch, so every version is reported.
     */
    public static List<Check> run(RunRecord record, long upTo, Consumer<Check> onCheck) {
        List<TaskPrompt> pool = record.pool();
        UpdateInputs inputs = new UpdateInputs(pool);
        List<Check> checks = new ArrayList<>();
        try (PolicyLearner learner = new PolicyLearner(record.config(), record.reference(), pool.stream().map(TaskPrompt::text).toList())) {
            Check initial = check(learner.state(), record.versions().get(0));
            checks.add(initial);
            onCheck.accept(initial);
            long last = Math.min(upTo, record.latestVersion());
            for (long version = 1; version <= last; version++) {
                ModelVersion recorded = record.versions().get((int) version);
                LearnerUpdate.apply(learner, inputs.batch(version - 1, groups(record, recorded), rollouts(record, version,
                        recorded.getReplayIds())));
                Check check = check(learner.state(), recorded);
                checks.add(check);
                onCheck.accept(check);
            }
        }
        return checks;
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
