package io.pacedrl.learner;

import io.pacedrl.schemas.FinishReason;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.ReplayRecord;
import io.pacedrl.schemas.Rollout;
import io.pacedrl.schemas.ScoredRollout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Records as the pipeline's services would write them, for the learner's tests. */
final class Fixtures {
    private Fixtures() {}

    static Prompt prompt(String id, String text, String answer, PromptSplit split) {
        return Prompt.newBuilder().setId(id).setKind("numeric").setFamily("arith").setDifficulty(1).setSplit(split)
                .setText(text).setAnswer(answer).setSpec(null).build();
    }

    /** Rollout {@code index} of the group scheduled as {@code <promptId>@<batch>.0}, sampled with {@code version}. */
    static ScoredRollout scored(Prompt prompt, int[] promptTokens, long batch, int index, int groupSize, boolean correct,
            long version, int[] response) {
        String scheduleId = prompt.getId() + "@" + batch + ".0";
        List<Integer> responseTokens = new ArrayList<>();
        List<Float> logProbs = new ArrayList<>();
        for (int token : response) {
            responseTokens.add(token);
            logProbs.add(-1.5f);
        }
        List<Integer> tokens = new ArrayList<>();
        for (int token : promptTokens) {
            tokens.add(token);
        }
        Rollout rollout = Rollout.newBuilder().setRolloutId(scheduleId + "/" + index).setScheduleId(scheduleId).setPrompt(prompt)
                .setGroupIndex(index).setGroupSize(groupSize).setPromptTokens(tokens).setResponseTokens(responseTokens)
                .setResponseText("x").setBehaviourLogProbs(logProbs).setFinishReason(FinishReason.EOS).setPolicyVersion(version)
                .setGeneratorId("test").setTemperature(1f).setTopP(1f).setStartedAtMs(0).setFinishedAtMs(0).build();
        return ScoredRollout.newBuilder().setRollout(rollout).setReward(correct ? 1.0 : 0.0).setCorrect(correct)
                .setVerifier("numeric").setVerifierVersion("1").setDetails(Map.of()).setVerifyMicros(1).setScoredAtMs(0).build();
    }

    /** A whole group with {@code correct} of {@code groupSize} right. */
    static List<ScoredRollout> group(Prompt prompt, long batch, int groupSize, int correct, long version) {
        List<ScoredRollout> out = new ArrayList<>();
        for (int i = 0; i < groupSize; i++) {
            // Each answers differently: replay keeps one trajectory per (prompt, response).
            out.add(scored(prompt, new int[] {1, 20, 21}, batch, i, groupSize, i < correct, version, new int[] {22 + i, 2}));
        }
        return out;
    }

    static ReplayRecord replay(ScoredRollout trajectory, long forVersion, int index) {
        return ReplayRecord.newBuilder().setTrajectory(trajectory).setPriority(0.5).setAddedAtVersion(forVersion)
                .setForLearnerVersion(forVersion).setSampleIndex(index).build();
    }
}
