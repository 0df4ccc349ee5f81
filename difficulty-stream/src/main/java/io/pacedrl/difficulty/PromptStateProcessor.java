package io.pacedrl.difficulty;

import io.pacedrl.difficulty.state.DifficultyEvent;
import io.pacedrl.difficulty.state.GroupResult;
import io.pacedrl.difficulty.state.OpenGroup;
import io.pacedrl.difficulty.state.EmbeddingChange;
import io.pacedrl.difficulty.state.EmbeddingsDone;
import io.pacedrl.difficulty.state.PoolChange;
import io.pacedrl.difficulty.state.PromptState;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptEmbedding;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.Rollout;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.topics.PoolEmbeddings;
import io.pacedrl.topics.Topics;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The partitioned half of the app: one task per partition of the prompts, prompt-embeddings and
 * scored-rollout topics (all keyed by prompt id, so a prompt's records meet in one task). It keeps
 * each prompt's state, assembles groups from their scored rollouts, sends the impossible to the dead
 * letters and tells the scheduler task what changed: pool membership, embeddings (once per pool),
 * complete groups.
 */
final class PromptStateProcessor implements Processor<String, byte[], String, SpecificRecord> {
    static final String STATE_STORE = "prompt-state";
    static final String GROUPS_STORE = "open-groups";
    private static final Logger log = LoggerFactory.getLogger(PromptStateProcessor.class);

    private final Topics topics;
    private final double accuracyEma;
    private final long groupTimeoutMs;
    private ProcessorContext<String, SpecificRecord> context;
    private Rejections rejections;
    private KeyValueStore<String, PromptState> prompts;
    private KeyValueStore<String, OpenGroup> groups;

    PromptStateProcessor(Topics topics, double accuracyEma, long groupTimeoutMs) {
        this.topics = topics;
        this.accuracyEma = accuracyEma;
        this.groupTimeoutMs = groupTimeoutMs;
    }

    @Override
    public void init(ProcessorContext<String, SpecificRecord> context) {
        this.context = context;
        this.rejections = new Rejections(context);
        this.prompts = context.getStateStore(STATE_STORE);
        this.groups = context.getStateStore(GROUPS_STORE);
        // Partial groups whose missing rollouts will never come (a duplicate after completion, a
        // rollout dead-lettered upstream) are dropped once their time is well past; the scheduler
        // releases their prompts on its own clock.
        context.schedule(Duration.ofMillis(Math.max(1, groupTimeoutMs / 2)), PunctuationType.STREAM_TIME,
                this::dropAbandonedGroups);
    }

    @Override
    public void process(Record<String, byte[]> record) {
        String topic = RecordSource.of(record, context).topic();
        if (topic.equals(topics.prompts.name())) {
            onPrompt(record);
        } else if (topic.equals(topics.promptEmbeddings.name())) {
            onEmbedding(record);
        } else {
            onScoredRollout(record);
        }
    }

    private void onPrompt(Record<String, byte[]> record) {
        if (record.value() == null) { // a deletion from the compacted pool
            PromptState state = record.key() == null ? null : prompts.get(record.key());
            if (state != null && state.getInPool()) {
                state.setInPool(false);
                prompts.put(record.key(), state);
                emit(record, PoolChange.newBuilder().setFamily(state.getFamily()).setDifficulty(state.getDifficulty())
                        .setTrainable(!state.getSplit().equals(PromptSplit.HELD_OUT.name())).setRemoved(true).build());
            }
            return;
        }
        Prompt prompt = rejections.decode(topics.prompts, record);
        if (prompt == null) {
            return;
        }
        if (!prompt.getId().equals(record.key())) {
            rejections.reject(record, Rejections.KEY_MISMATCH, "prompt id '" + prompt.getId() + "' under key '"
                    + record.key() + "': records are partitioned by prompt id, so the key must be the id");
            return;
        }
        if (prompt.getDifficulty() < 0) {
            rejections.reject(record, Rejections.IMPOSSIBLE_VALUE, "negative difficulty " + prompt.getDifficulty());
            return;
        }
        PromptState state = prompts.get(prompt.getId());
        if (state == null) {
            state = PromptState.newBuilder().setPromptId(prompt.getId()).setKind(prompt.getKind())
                    .setFamily(prompt.getFamily()).setDifficulty(prompt.getDifficulty())
                    .setSplit(prompt.getSplit().name()).setInPool(true).setGroups(0)
                    .setRollouts(0).setCorrectRollouts(0).setLastGroupVersion(-1).build();
        } else {
            state.setKind(prompt.getKind());
            state.setFamily(prompt.getFamily());
            state.setDifficulty(prompt.getDifficulty());
            state.setSplit(prompt.getSplit().name());
            state.setInPool(true);
        }
        prompts.put(prompt.getId(), state);
        emit(record, PoolChange.newBuilder().setFamily(prompt.getFamily()).setDifficulty(prompt.getDifficulty())
                .setTrainable(prompt.getSplit() != PromptSplit.HELD_OUT).setRemoved(false)
                .setPrompt(ByteBuffer.wrap(record.value())).build());
    }

    /**
     * An embedding goes on to the scheduler, which keeps it (it may arrive before its prompt); an
     * end marker says this partition's are all there.
     */
    private void onEmbedding(Record<String, byte[]> record) {
        if (record.value() == null) {
            return; // compaction tombstone: nothing to learn
        }
        PromptEmbedding embedding = rejections.decode(topics.promptEmbeddings, record);
        if (embedding == null) {
            return;
        }
        if (PoolEmbeddings.isEndMarker(embedding)) {
            // Everything this partition had is already on its way to the scheduler, ahead of this.
            int partition = RecordSource.of(record, context).partition();
            context.forward(new Record<>(PoolEmbeddings.MARKER_KEY, new DifficultyEvent(PoolEmbeddings.MARKER_KEY,
                    new EmbeddingsDone(partition)), record.timestamp()));
            return;
        }
        if (!embedding.getPromptId().equals(record.key())) {
            rejections.reject(record, Rejections.KEY_MISMATCH, "embedding of prompt '" + embedding.getPromptId() + "' under key '"
                    + record.key() + "': records are partitioned by prompt id, so the key must be the id");
            return;
        }
        try {
            PoolEmbeddings.decode(embedding);
        } catch (IllegalArgumentException e) {
            rejections.reject(record, Rejections.IMPOSSIBLE_VALUE, e.getMessage());
            return;
        }
        emit(record, new EmbeddingChange(embedding.getDimension(), embedding.getValues()));
    }

    private void onScoredRollout(Record<String, byte[]> record) {
        if (record.value() == null) {
            rejections.reject(record, Rejections.IMPOSSIBLE_VALUE, "a scored rollout with no value");
            return;
        }
        ScoredRollout scored = rejections.decode(topics.scoredRollouts, record);
        if (scored == null) {
            return;
        }
        Rollout rollout = scored.getRollout();
        String promptId = rollout.getPrompt().getId();
        double reward = scored.getReward();
        String impossible = !(reward >= 0 && reward <= 1) ? "reward " + reward + " is outside [0, 1]"
                : scored.getCorrect() && reward != 1 ? "marked correct with reward " + reward
                : rollout.getGroupSize() < 1 ? "group size " + rollout.getGroupSize()
                : rollout.getGroupIndex() < 0 || rollout.getGroupIndex() >= rollout.getGroupSize()
                        ? "group index " + rollout.getGroupIndex() + " outside a group of " + rollout.getGroupSize()
                : rollout.getPolicyVersion() < 0 ? "negative policy version " + rollout.getPolicyVersion() : null;
        OpenGroup group = groups.get(rollout.getScheduleId());
        // The prompt is looked up when its group opens (and again when it completes); the rollouts in
        // between only have to match the group.
        if (group == null && known(record, promptId) == null) {
            return;
        }
        if (impossible != null) {
            rejections.reject(record, Rejections.IMPOSSIBLE_VALUE, impossible);
            return;
        }
        if (group == null) {
            group = OpenGroup.newBuilder().setScheduleId(rollout.getScheduleId()).setPromptId(promptId)
                    .setGroupSize(rollout.getGroupSize()).setFirstSeenMs(record.timestamp())
                    .setPolicyVersion(rollout.getPolicyVersion())
                    .setRewards(new ArrayList<>(Collections.nCopies(rollout.getGroupSize(), Double.NaN)))
                    .setReceived(0).setCorrectIds(new ArrayList<>()).setCorrect(new ArrayList<>())
                    .setCorrectResponses(new ArrayList<>()).build();
        } else if (group.getGroupSize() != rollout.getGroupSize() || !group.getPromptId().equals(promptId)
                || !promptId.equals(record.key())) {
            rejections.reject(record, Rejections.IMPOSSIBLE_VALUE, "schedule " + rollout.getScheduleId() + " is a group of "
                    + group.getGroupSize() + " for prompt " + group.getPromptId() + ", this rollout (key '" + record.key()
                    + "') says " + rollout.getGroupSize() + " for " + promptId);
            return;
        }
        if (!Double.isNaN(group.getRewards().get(rollout.getGroupIndex()))) {
            return; // the same rollout again (an at-least-once producer): counted once
        }
        group.getRewards().set(rollout.getGroupIndex(), reward);
        group.setReceived(group.getReceived() + 1);
        group.setPolicyVersion(Math.min(group.getPolicyVersion(), rollout.getPolicyVersion()));
        if (scored.getCorrect()) {
            group.getCorrectIds().add(rollout.getRolloutId());
            group.getCorrect().add(ByteBuffer.wrap(record.value()));
            // Replay keeps a (prompt, response) once; the identity is taken here, where the record is decoded anyway.
            group.getCorrectResponses().add(SchedulerProcessor.response(scored));
        }
        if (group.getReceived() < group.getGroupSize()) {
            groups.put(group.getScheduleId(), group);
            return;
        }
        groups.delete(group.getScheduleId());
        PromptState state = prompts.get(promptId); // known when the group opened; states are never deleted
        double accuracy = group.getRewards().stream().mapToDouble(Double::doubleValue).average().orElse(0);
        state.setLastAccuracy(accuracy);
        state.setAccuracyEma(state.getAccuracyEma() == null ? accuracy
                : accuracyEma * accuracy + (1 - accuracyEma) * state.getAccuracyEma());
        state.setGroups(state.getGroups() + 1);
        state.setRollouts(state.getRollouts() + group.getGroupSize());
        state.setCorrectRollouts(state.getCorrectRollouts() + group.getCorrectIds().size());
        state.setLastGroupVersion(group.getPolicyVersion());
        prompts.put(state.getPromptId(), state);
        emit(record, GroupResult.newBuilder().setScheduleId(group.getScheduleId()).setGroupSize(group.getGroupSize())
                .setPolicyVersion(group.getPolicyVersion()).setRewards(group.getRewards())
                .setCorrectIds(group.getCorrectIds()).setCorrect(group.getCorrect()).setCorrectResponses(group.getCorrectResponses())
                .build());
    }

    /** The state of the prompt a record is about, or null (and a dead letter) if it is not in the pool. */
    private PromptState known(Record<String, byte[]> record, String promptId) {
        if (!promptId.equals(record.key())) {
            rejections.reject(record, Rejections.KEY_MISMATCH, "record for prompt '" + promptId + "' under key '"
                    + record.key() + "': records are partitioned by prompt id, so the key must be the id");
            return null;
        }
        PromptState state = prompts.get(promptId);
        if (state == null || !state.getInPool()) {
            rejections.reject(record, Rejections.UNKNOWN_PROMPT, "prompt '" + promptId + "' is not in the pool");
            return null;
        }
        return state;
    }

    private void emit(Record<String, byte[]> cause, SpecificRecord event) {
        context.forward(new Record<>(cause.key(), new DifficultyEvent(cause.key(), event), cause.timestamp()));
    }

    private void dropAbandonedGroups(long streamTimeMs) {
        List<String> abandoned = new ArrayList<>();
        try (KeyValueIterator<String, OpenGroup> all = groups.all()) {
            while (all.hasNext()) {
                KeyValue<String, OpenGroup> next = all.next();
                if (next.value.getFirstSeenMs() + 2 * groupTimeoutMs <= streamTimeMs) {
                    abandoned.add(next.key);
                }
            }
        }
        for (String scheduleId : abandoned) {
            OpenGroup group = groups.delete(scheduleId);
            log.warn("dropping group {} of prompt {}: {} of {} rollouts arrived", scheduleId, group.getPromptId(),
                    group.getReceived(), group.getGroupSize());
        }
    }
}
