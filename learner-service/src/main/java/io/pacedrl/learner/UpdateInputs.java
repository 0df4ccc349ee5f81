package io.pacedrl.learner;

import io.pacedrl.learning.LearnerUpdate;
import io.pacedrl.learning.PolicyLearner;
import io.pacedrl.learning.PolicyLearner.Trajectory;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.tasks.TaskPrompt;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Scored rollouts as the learning rules take them: groups of trajectories over the pool's indices,
 * with the p̂ each group was chosen with. The service builds each update's inputs here, and so does
 * {@link Reproduction} from a run's record, so both feed the update the same numbers.
 */
final class UpdateInputs {
    private final Map<String, Integer> poolIndex = new HashMap<>();

    /** @param pool the training pool in the learner's order */
    UpdateInputs(List<TaskPrompt> pool) {
        for (int i = 0; i < pool.size(); i++) {
            poolIndex.put(pool.get(i).id(), i);
        }
    }

    /** Whether a prompt is in the pool the learner learns on. */
    boolean knows(String promptId) {
        return poolIndex.containsKey(promptId);
    }

    /** Update {@code version} → {@code version + 1} on these groups and replayed trajectories (those of unknown prompts left out). */
    LearnerUpdate.Batch batch(long version, List<BatchAssembler.Group> groups, List<ScoredRollout> replay) {
        List<PolicyLearner.Group> learned = new ArrayList<>();
        double[] estimates = new double[groups.size()];
        for (int g = 0; g < groups.size(); g++) {
            BatchAssembler.Group group = groups.get(g);
            int prompt = poolIndex.get(group.promptId());
            learned.add(new PolicyLearner.Group(prompt, group.rollouts().stream().map(r -> trajectory(r, prompt)).toList()));
            // The estimate the scheduler chose it with: from the Z_φ of the version that was current then.
            estimates[g] = group.pHat() == null ? Double.NaN : group.pHat();
        }
        List<Trajectory> replayed = new ArrayList<>();
        for (ScoredRollout trajectory : replay) {
            Integer prompt = poolIndex.get(trajectory.getRollout().getPrompt().getId());
            if (prompt != null) {
                replayed.add(trajectory(trajectory, prompt));
            }
        }
        return new LearnerUpdate.Batch(version, learned, estimates, replayed, false);
    }

    private static Trajectory trajectory(ScoredRollout scored, int prompt) {
        var rollout = scored.getRollout();
        float[] behaviour = new float[rollout.getBehaviourLogProbs().size()];
        for (int i = 0; i < behaviour.length; i++) {
            behaviour[i] = rollout.getBehaviourLogProbs().get(i);
        }
        return new Trajectory(rollout.getRolloutId(), prompt, rollout.getPromptTokens().stream().mapToInt(Integer::intValue).toArray(),
                rollout.getResponseTokens().stream().mapToInt(Integer::intValue).toArray(), behaviour, scored.getReward(),
                scored.getCorrect());
    }
}
