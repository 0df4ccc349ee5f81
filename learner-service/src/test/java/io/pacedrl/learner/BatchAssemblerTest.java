package io.pacedrl.learner;

import static io.pacedrl.learner.Fixtures.group;
import static io.pacedrl.learner.Fixtures.prompt;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.ScoredRollout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** When a batch is ready and what it holds, whatever order its records arrive in. */
class BatchAssemblerTest {
    private static final Prompt A = prompt("a", "1+1=", "2", PromptSplit.TRAIN);
    private static final Prompt B = prompt("b", "2+2=", "4", PromptSplit.TRAIN);
    private static final Prompt C = prompt("c", "3+3=", "6", PromptSplit.TRAIN);
    private static final Prompt D = prompt("d.x@1", "4+4=", "8", PromptSplit.TRAIN);

    private static BatchAssembler assembler(boolean dynamic, boolean replay) {
        return new BatchAssembler(new BatchAssembler.Settings(dynamic, replay, 2, 2));
    }

    @Test
    void aBatchIsReadyWhenBGroupsOfItAreCompleteInAnyOrder() {
        List<ScoredRollout> all = new ArrayList<>();
        all.addAll(group(A, 0, 3, 1, 0));
        all.addAll(group(B, 0, 3, 3, 0));
        all.addAll(group(C, 1, 3, 0, 0));
        Collections.shuffle(all, new Random(7));
        BatchAssembler assembler = assembler(false, false);
        BatchAssembler.Batch batch = null;
        int ofBatch0 = 0;
        for (ScoredRollout r : all) {
            assembler.addRollout(r);
            ofBatch0 += r.getRollout().getScheduleId().endsWith("@0.0") ? 1 : 0;
            if (batch == null) {
                batch = assembler.take().orElse(null);
                assertEquals(ofBatch0 == 6, batch != null, "taken once both groups of batch 0 are whole, not before");
            }
        }
        assertEquals(0, batch.version());
        assertEquals(List.of("a@0.0", "b@0.0"), batch.groups().stream().map(BatchAssembler.Group::scheduleId).toList());
        assertEquals(6, batch.consumed());
        assertEquals(Map.of(0L, 2), batch.staleness());
        assertTrue(batch.groups().get(0).informative());
        assertTrue(!batch.groups().get(1).informative());
        assertTrue(assembler.take().isEmpty(), "batch 1 has one group of two");
    }

    @Test
    void aReleasedGroupCountsTowardsTheBatchAndItsLateRolloutsAreDiscarded() {
        BatchAssembler assembler = assembler(false, false);
        group(A, 0, 2, 1, 0).forEach(assembler::addRollout);
        assembler.addRollout(group(B, 0, 2, 1, 0).get(0));
        assertTrue(assembler.take().isEmpty());
        assembler.released(List.of("b@0.0"));
        BatchAssembler.Batch batch = assembler.take().orElseThrow();
        assertEquals(1, batch.groups().size());
        assertEquals(1, batch.released());
        assembler.addRollout(group(B, 0, 2, 1, 0).get(1));
        assertEquals(1, assembler.late(), "after its batch was taken");
    }

    @Test
    void groupsBeyondTheStalenessBoundAreDroppedAndCounted() {
        BatchAssembler assembler = new BatchAssembler(new BatchAssembler.Settings(false, false, 2, 1));
        for (long v = 0; v < 3; v++) {
            group(A, v, 2, 1, 0).forEach(assembler::addRollout);
            group(B, v, 2, 1, v).forEach(assembler::addRollout);
        }
        assertEquals(0, assembler.take().orElseThrow().stale().size());
        assertEquals(Map.of(0L, 1, 1L, 1), assembler.take().orElseThrow().staleness());
        BatchAssembler.Batch third = assembler.take().orElseThrow();
        assertEquals(List.of("a@2.0"), third.stale().stream().map(BatchAssembler.Group::scheduleId).toList(), "2 versions behind");
        assertEquals(List.of("b@2.0"), third.groups().stream().map(BatchAssembler.Group::scheduleId).toList());
    }

    @Test
    void aDynamicBatchIsTheGroupsTheSchedulerKept() {
        BatchAssembler assembler = assembler(true, false);
        group(A, 0, 2, 2, 0).forEach(assembler::addRollout);
        group(B, 0, 2, 1, 0).forEach(assembler::addRollout);
        group(C, 0, 2, 0, 0).forEach(assembler::addRollout);
        assertTrue(assembler.take().isEmpty(), "waits for the scheduler to close the batch");
        assembler.closed(0, List.of("b@0.0", "d.x@1@0.1"));
        assertTrue(assembler.take().isEmpty(), "a kept group is still coming");
        for (int i = 0; i < 2; i++) {
            assembler.addRollout(withSchedule(Fixtures.scored(D, new int[] {1}, 0, i, 2, i == 0, 0, new int[] {2}), "d.x@1@0.1"));
        }
        BatchAssembler.Batch batch = assembler.take().orElseThrow();
        assertEquals(List.of("b@0.0", "d.x@1@0.1"), batch.groups().stream().map(BatchAssembler.Group::scheduleId).toList());
        assertEquals(2, batch.discarded().size(), "the groups without signal");
        assertEquals(8, batch.consumed());
    }

    @Test
    void replayingMethodsWaitForTheirDraws() {
        BatchAssembler assembler = assembler(false, true);
        group(A, 0, 2, 1, 0).forEach(assembler::addRollout);
        group(B, 0, 2, 1, 0).forEach(assembler::addRollout);
        assertTrue(assembler.take().isEmpty(), "the scheduler has not said how many it drew");
        assembler.replayDrawn(0, 0);
        assertEquals(List.of(), assembler.take().orElseThrow().replay());
        group(A, 1, 2, 1, 0).forEach(assembler::addRollout);
        group(B, 1, 2, 1, 0).forEach(assembler::addRollout);
        ScoredRollout old = group(C, 0, 2, 2, 0).get(0);
        assembler.addReplay(Fixtures.replay(old, 1, 1));
        assembler.replayDrawn(1, 2);
        assertTrue(assembler.take().isEmpty(), "one of two draws is here");
        assembler.addReplay(Fixtures.replay(old, 1, 0));
        assertEquals(2, assembler.take().orElseThrow().replay().size());
    }

    @Test
    void aSnapshotResumesExactly() {
        BatchAssembler assembler = assembler(false, true);
        group(A, 0, 2, 1, 0).forEach(assembler::addRollout);
        assembler.addRollout(group(B, 0, 2, 1, 0).get(1));
        assembler.replayDrawn(0, 1);
        assembler.addReplay(Fixtures.replay(group(C, 0, 2, 2, 0).get(0), 0, 0));
        assembler.released(List.of("c@1.0"));
        BatchAssembler resumed = new BatchAssembler(new BatchAssembler.Settings(false, true, 2, 2), assembler.snapshot());
        assertEquals(assembler.snapshot(), resumed.snapshot());
        ScoredRollout last = group(B, 0, 2, 1, 0).get(0);
        assembler.addRollout(last);
        resumed.addRollout(last);
        assertEquals(assembler.take().orElseThrow(), resumed.take().orElseThrow());
    }

    @Test
    void unusableRolloutsAreRefusedSayingWhy() {
        BatchAssembler assembler = assembler(false, false);
        ScoredRollout bad = group(A, 0, 2, 1, 0).get(0);
        bad.setReward(1.5);
        assertEquals("reward 1.5 is outside [0, 1]", assertThrows(IllegalArgumentException.class, () -> assembler.addRollout(bad))
                .getMessage());
        ScoredRollout noBatch = withSchedule(group(A, 0, 2, 1, 0).get(0), "a-without-batch");
        assertEquals("schedule id 'a-without-batch' is not <prompt>@<batch>.<round>",
                assertThrows(IllegalArgumentException.class, () -> assembler.addRollout(noBatch)).getMessage());
        ScoredRollout index = group(A, 0, 2, 1, 0).get(0);
        index.getRollout().setGroupIndex(5);
        assertEquals("group index 5 is outside a group of 2",
                assertThrows(IllegalArgumentException.class, () -> assembler.addRollout(index)).getMessage());
    }

    private static ScoredRollout withSchedule(ScoredRollout scored, String scheduleId) {
        scored.getRollout().setScheduleId(scheduleId);
        scored.getRollout().setRolloutId(scheduleId + "/" + scored.getRollout().getGroupIndex());
        return scored;
    }
}
