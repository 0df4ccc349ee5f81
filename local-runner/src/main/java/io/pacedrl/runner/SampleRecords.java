package io.pacedrl.runner;

import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.FinishReason;
import io.pacedrl.schemas.LearnedGroup;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.ModelVersion;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptEmbedding;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.ReplayRecord;
import io.pacedrl.schemas.ReplaySeed;
import io.pacedrl.schemas.Rollout;
import io.pacedrl.schemas.RunEvent;
import io.pacedrl.schemas.ScheduledGroup;
import io.pacedrl.schemas.ScheduledPrompt;
import io.pacedrl.schemas.BatchScheduled;
import io.pacedrl.schemas.SchedulerDecision;
import io.pacedrl.topics.PoolEmbeddings;
import io.pacedrl.schemas.ScoredRollout;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/** One plausible record of every schema, telling the story of one prompt through the pipeline. */
final class SampleRecords {
    final Prompt prompt;
    final ScheduledPrompt scheduledPrompt;
    final Rollout rollout;
    final ScoredRollout scoredRollout;
    final ModelUpdate modelUpdate;
    final ModelVersion modelVersion;
    final PromptEmbedding embedding;
    final SchedulerDecision decision;
    final ReplayRecord replay;
    final ReplaySeed replaySeed;
    final DeadLetter deadLetter;
    final RunEvent runEvent;

    SampleRecords(String runId, long nowMs) {
        prompt = Prompt.newBuilder().setId("countdown-000017").setKind("countdown").setFamily("countdown")
                .setDifficulty(2).setSplit(PromptSplit.TRAIN)
                .setText("Use 3, 7, 25 once each to make 46:")
                .setSpec("{\"numbers\":[3,7,25],\"target\":46}").build();
        String scheduleId = prompt.getId() + "@b0";
        scheduledPrompt = ScheduledPrompt.newBuilder().setPrompt(prompt).setScheduleId(scheduleId).setBatchId(0)
                .setGroupSize(8).setLearnerVersion(0).setStrategy("paced").setPHat(0.5).setScheduledAtMs(nowMs).build();
        rollout = Rollout.newBuilder().setRolloutId(scheduleId + "#3").setScheduleId(scheduleId).setPrompt(prompt)
                .setGroupIndex(3).setGroupSize(8).setPromptTokens(List.of(1, 40, 41, 42))
                .setResponseTokens(List.of(12, 13, 14, 2)).setResponseText("25+3*7")
                .setBehaviourLogProbs(List.of(-0.7f, -1.2f, -0.1f, -0.05f)).setFinishReason(FinishReason.EOS)
                .setPolicyVersion(0).setGeneratorId("generator-0").setTemperature(1.0f).setTopP(1.0f)
                .setStartedAtMs(nowMs).setFinishedAtMs(nowMs + 12).build();
        scoredRollout = ScoredRollout.newBuilder().setRollout(rollout).setReward(1.0).setCorrect(true)
                .setVerifier("countdown").setVerifierVersion("1").setDetails(Map.of("value", "46"))
                .setVerifyMicros(85).setScoredAtMs(nowMs + 13).build();
        byte[] weights = "parameters of policy version 1".getBytes(StandardCharsets.UTF_8);
        modelUpdate = ModelUpdate.newBuilder().setModelId(runId + "/policy").setVersion(1).setFormat("djl-params-v1")
                .setSha256(sha256(weights)).setTotalBytes(weights.length).setChunkIndex(0).setChunkCount(1)
                .setChunk(ByteBuffer.wrap(weights)).setLearnerStep(1).setRolloutIds(List.of(rollout.getRolloutId()))
                .setCreatedAtMs(nowMs + 20).build();
        modelVersion = ModelVersion.newBuilder().setRunId(runId).setModelId(modelUpdate.getModelId()).setVersion(1)
                .setWeightsSha256(modelUpdate.getSha256()).setTrainerSha256(sha256("optimiser state".getBytes(StandardCharsets.UTF_8)))
                .setReferenceSha256(sha256("parameters of the reference policy".getBytes(StandardCharsets.UTF_8)))
                .setGroups(List.of(new LearnedGroup(scheduleId, 0.5, List.of(rollout.getRolloutId())))).setReplayIds(List.of())
                .setCreatedAtMs(nowMs + 20).build();
        embedding = PoolEmbeddings.of(prompt.getId(), new float[] {0.12f, -0.8f, 1.5f, 0.03f}, sha256(weights), nowMs + 1);
        decision = SchedulerDecision.newBuilder().setRunId(runId).setLearnerVersion(0).setDecidedAtMs(nowMs + 2)
                .setDecision(new BatchScheduled(0L, 0, "paced", 3968, 0L,
                        List.of(new ScheduledGroup(scheduleId, prompt.getId(), 0.5)))).build();
        replay = ReplayRecord.newBuilder().setTrajectory(scoredRollout).setPriority(0.403).setAddedAtVersion(1)
                .setForLearnerVersion(2).setSampleIndex(0).build();
        replaySeed = new ReplaySeed(scoredRollout, 0.403, 1L, 1L, 2L, 0.875);
        deadLetter = DeadLetter.newBuilder().setSourceTopic("rollouts").setPartition(2).setOffset(118)
                .setValue(ByteBuffer.wrap("not avro".getBytes(StandardCharsets.UTF_8)))
                .setErrorType("NOT_CONFLUENT_FRAMING").setReason("first byte is 0x6e, not the magic byte 0x00")
                .setService("reward-service/countdown").setFailedAtMs(nowMs + 22).build();
        runEvent = RunEvent.newBuilder().setRunId(runId).setSource("learner-service").setType("metrics")
                .setLearnerVersion(1).setTimestampMs(nowMs + 23)
                .setMetrics(Map.of("loss", 0.81, "beta_kl", 0.0021)).setAttributes(Map.of("method", "paced")).build();
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
