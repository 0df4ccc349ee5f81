package io.pacedrl.learner;

import io.pacedrl.learner.LearnerCheckpoint.Contents;
import io.pacedrl.learner.LearnerCheckpoint.Event;
import io.pacedrl.learner.LearnerCheckpoint.ForkOrigin;
import io.pacedrl.learner.LearnerCheckpoint.Publication;
import io.pacedrl.learning.MetricNames;
import io.pacedrl.learning.PolicyLearner;
import io.pacedrl.learning.ReplayBuffer;
import io.pacedrl.learning.ReplayRules;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.schemas.LearnedGroup;
import io.pacedrl.schemas.ModelVersion;
import io.pacedrl.schemas.ReplaySeed;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.RunEvents;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A fork's learner, before it starts: a checkpoint at the parent's version k in the new run's
 * checkpoint directory, holding the parent's state at k (weights, optimisers, Z_φ) and nothing read
 * yet. The learner resumes from it like from any checkpoint; finding nothing published on the new
 * run's topics, it publishes version k as the run's first (with the pool's embeddings, π_ref, the
 * configuration and where it came from), then waits for batch k.
 */
public final class ForkStart {

    /** The parent's version the fork starts from: its run id, the version, and the SHA-256 of its weights as recorded. */
    public record Parent(String runId, long version, String weightsSha256) {}

    private ForkStart() {}

    /** The record of {@code version} in a run's lineage: its own, or, before a fork's start, its parent's. */
    private static ModelVersion lineageVersion(RunRecord record, long version) {
        return version < record.firstVersion() && record.parent() != null ? lineageVersion(record.parent(), version)
                : record.version(version);
    }

    private static ScoredRollout lineageRollout(RunRecord record, String id) {
        ScoredRollout scored = record.rollouts().get(id);
        if (scored == null && record.parent() != null) {
            return lineageRollout(record.parent(), id);
        }
        if (scored == null) {
            throw new RunRecord.IncompleteRecordException("rollout '" + id + "' is named by a version but not on scored-rollouts");
        }
        return scored;
    }

    /** The fresh rollouts versions 1 to {@code version} of the run (its lineage) learned from. */
    public static long rolloutsLearned(RunRecord record, long version) {
        long rollouts = 0;
        for (long v = 1; v <= version; v++) {
            rollouts += lineageVersion(record, v).getGroups().stream().mapToLong(g -> g.getRolloutIds().size()).sum();
        }
        return rollouts;
    }

    /** The prompts versions 1 to {@code version} of the run (its lineage) learned from, each once. */
    public static List<String> promptsLearned(RunRecord record, long version) {
        Set<String> prompts = new LinkedHashSet<>();
        for (long v = 1; v <= version; v++) {
            for (LearnedGroup group : lineageVersion(record, v).getGroups()) {
                if (!group.getRolloutIds().isEmpty()) {
                    prompts.add(lineageRollout(record, group.getRolloutIds().get(0)).getRollout().getPrompt().getId());
                }
            }
        }
        return List.copyOf(prompts);
    }

    /**
     * The replay buffer a fork at {@code version} starts with, rebuilt while the parent's versions
     * are recomputed ({@link Reproduction#stateAt} reports each to it): the synchronous rule over the
     * run's batches. At version v the groups version v learned from (batch v − 1) are offered with
     * the p̂ they were scheduled with, then, for the draws the parent made at versions before the
     * fork's, the priorities are recomputed with that version's Z_φ where the parent's
     * {@code replay-priority} is {@code current}; the fork's own first draw recomputes them again.
     * The buffer has the fork's capacity. In a lock-step run that is the buffer the difficulty
     * stream held when it drew for update {@code version}; in an asynchronous one the stream's also
     * held groups that had come back but not yet been learned from.
     */
    public static final class ReplayRebuild implements Consumer<Reproduction.Recomputed> {
        private record Held(ScoredRollout rollout, long version) {}

        private final RunRecord record;
        private final long forkVersion;
        private final boolean reprioritise;
        private final Map<String, Integer> poolIndex = new HashMap<>();
        private final ReplayBuffer<Held> buffer;
        private long rebuiltThrough = 0;

        public ReplayRebuild(RunRecord record, long forkVersion, TrainingConfig forkConfig) {
            this.record = record;
            this.forkVersion = forkVersion;
            this.reprioritise = record.config().method().estimatesAccuracy()
                    && record.config().replayPriority() == ReplayRules.Priority.CURRENT;
            List<TaskPrompt> pool = record.pool();
            for (int i = 0; i < pool.size(); i++) {
                poolIndex.put(pool.get(i).id(), i);
            }
            this.buffer = new ReplayBuffer<>(forkConfig.replayCapacity(), forkConfig.replayAdd());
        }

        @Override
        public void accept(Reproduction.Recomputed recomputed) {
            long v = recomputed.check().version();
            if (v != rebuiltThrough + 1 || v > forkVersion) {
                return; // version 0 (nothing learned yet), or one a fork's lineage reports twice
            }
            rebuiltThrough = v;
            List<ReplayBuffer.Group<Held>> groups = new ArrayList<>();
            for (LearnedGroup group : lineageVersion(record, v).getGroups()) {
                List<ReplayBuffer.Trajectory<Held>> trajectories = new ArrayList<>();
                for (String id : group.getRolloutIds()) {
                    ScoredRollout scored = lineageRollout(record, id);
                    trajectories.add(new ReplayBuffer.Trajectory<>(id, scored.getCorrect(), ReplayBuffer.responseOf(
                            scored.getRollout().getResponseTokens().stream().mapToInt(Integer::intValue).toArray()), new Held(scored, v)));
                }
                String promptId = trajectories.isEmpty() ? group.getScheduleId()
                        : trajectories.get(0).item().rollout().getRollout().getPrompt().getId();
                groups.add(new ReplayBuffer.Group<>(promptId, group.getPHat() == null ? record.config().initialPHat() : group.getPHat(),
                        trajectories));
            }
            buffer.add(groups);
            if (reprioritise && v < forkVersion) {
                buffer.reprioritise(ids -> recomputed.estimates().apply(ids.stream().mapToInt(poolIndex::get).toArray()));
            }
        }

        /** The buffer at the fork's version, as replay-seed records; every version up to it must have been reported. */
        public List<ReplaySeed> seed() {
            if (rebuiltThrough != forkVersion) {
                throw new IllegalStateException("the replay buffer was rebuilt through version " + rebuiltThrough + ", not "
                        + forkVersion);
            }
            return buffer.entries().stream().map(e -> new ReplaySeed(e.item().rollout(), e.priority(), e.added(), e.item().version(),
                    forkVersion, e.accuracy())).toList();
        }
    }

    /**
     * Writes the fork's starting checkpoint.
     *
     * @param state            the parent's learner state at {@code parent.version()}, as reproduced from its record
     * @param embeddings       whether the method estimates p̂ (then the pool's embeddings go out with the first version)
     * @param rolloutsConsumed the fresh rollouts the parent had learned from up to that version (a rollout budget counts on from it)
     * @param learnedPrompts   the prompts it had learned from ({@link #promptsLearned}): the fork's probe prompts among them
     *                         count as scheduled
     */
    public static void write(Path checkpointDir, byte[] reference, PolicyLearner.State state, Parent parent, String method,
            boolean embeddings, double rolloutsConsumed, List<String> learnedPrompts) throws IOException {
        LearnerCheckpoint checkpoints = new LearnerCheckpoint(checkpointDir);
        if (!checkpoints.versions().isEmpty() || checkpoints.reference().isPresent()) {
            throw new IllegalStateException(checkpointDir + " already holds a learner's checkpoints; a fork starts in a new run directory");
        }
        if (!ModelUpdateChunks.sha256(state.weights()).equals(parent.weightsSha256())) {
            throw new IllegalArgumentException("the state given is not the one run " + parent.runId() + " recorded at version "
                    + parent.version());
        }
        checkpoints.writeReference(reference);
        long version = parent.version();
        Event started = new Event(RunEvents.LIFECYCLE, version, System.currentTimeMillis(), Map.of(), Map.of("state", "started",
                "method", method, "forked-from", parent.runId() + "@" + version));
        Publication first = new Publication(version, state.weights(), state.partition(), ModelUpdateChunks.sha256(state.trainer()),
                embeddings, List.of(), List.of(), List.of(started), List.of(), Map.of(),
                new ForkOrigin(parent.runId(), version, parent.weightsSha256()));
        BatchAssembler.Snapshot nothingRead = new BatchAssembler.Snapshot(version, List.of(), List.of(), Map.of(), Map.of(), Map.of(),
                Map.of(), 0);
        checkpoints.write(new Contents(first, state, nothingRead, Map.of(MetricNames.ROLLOUTS_CONSUMED, rolloutsConsumed),
                learnedPrompts));
    }
}
