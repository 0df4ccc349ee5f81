package io.pacedrl.difficulty;

import io.pacedrl.schemas.FinishReason;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.Rollout;
import io.pacedrl.schemas.ScoredRollout;
import java.util.List;
import java.util.Map;

/** Input records for the tests, valid unless a test breaks them on purpose. */
final class Records {
    static final double BETA = 0.05;

    private Records() {}

    static Prompt prompt(String id) {
        return prompt(id, PromptSplit.TRAIN);
    }

    static Prompt prompt(String id, PromptSplit split) {
        return Prompt.newBuilder().setId(id).setKind("numeric").setFamily(id.startsWith("c") ? "countdown" : "arith")
                .setDifficulty(1).setSplit(split).setText("what is " + id + "?").setAnswer("4").build();
    }

    static ModelUpdate version(long version) {
        return ModelUpdate.newBuilder().setModelId("policy").setVersion(version).setFormat("test").setSha256("00")
                .setTotalBytes(0).setChunkIndex(0).setChunkCount(1).setLearnerStep(version).setCreatedAtMs(0).build();
    }

    /**
     * Rollout {@code index} of the group answering {@code scheduleId}, with its reward (1 is correct);
     * each index answers with its own tokens.
     */
    static ScoredRollout scored(String promptId, String scheduleId, int index, int groupSize, double reward) {
        Rollout rollout = Rollout.newBuilder().setRolloutId(scheduleId + "/" + index).setScheduleId(scheduleId)
                .setPrompt(prompt(promptId)).setGroupIndex(index).setGroupSize(groupSize).setPromptTokens(List.of(1, 2))
                .setResponseTokens(List.of(3, 4 + index)).setResponseText("4").setBehaviourLogProbs(List.of(-0.1f, -0.2f))
                .setFinishReason(FinishReason.EOS).setPolicyVersion(0).setGeneratorId("g").setTemperature(1f).setTopP(1f)
                .setStartedAtMs(0).setFinishedAtMs(0).build();
        return ScoredRollout.newBuilder().setRollout(rollout).setReward(reward).setCorrect(reward == 1)
                .setVerifier("numeric").setVerifierVersion("1").setDetails(Map.of()).setVerifyMicros(1).setScoredAtMs(0).build();
    }
}
