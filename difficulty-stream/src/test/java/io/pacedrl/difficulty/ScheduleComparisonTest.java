package io.pacedrl.difficulty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.schemas.BatchScheduled;
import io.pacedrl.schemas.GroupsReleased;
import io.pacedrl.schemas.ReplayDrawn;
import io.pacedrl.schemas.ScheduledGroup;
import io.pacedrl.schemas.SchedulerDecision;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ScheduleComparisonTest {

    private static SchedulerDecision decided(long atMs, Object decision) {
        return new SchedulerDecision("run", 0L, atMs, decision);
    }

    private static SchedulerDecision batch(long batchId, String... prompts) {
        List<ScheduledGroup> groups = new ArrayList<>();
        for (String prompt : prompts) {
            groups.add(new ScheduledGroup(prompt + "@" + batchId + ".0", prompt, 0.5));
        }
        return decided(batchId, new BatchScheduled(batchId, 0, "paced", 10, batchId, groups));
    }

    private static SchedulerDecision draw(long version, String... ids) {
        return decided(version, new ReplayDrawn(version, List.of(ids), 7));
    }

    @Test
    void theSameDecisionsMatchWhenEverTheyWereMade() {
        List<SchedulerDecision> recorded = List.of(batch(0, "a", "b"), draw(0), batch(1, "c", "d"), draw(1, "a@0.0/1"));
        List<SchedulerDecision> again = List.of(decided(99, recorded.get(0).getDecision()), draw(0), draw(1, "a@0.0/1"),
                batch(1, "c", "d"));
        ScheduleComparison.Result result = ScheduleComparison.compare(recorded, again, 1, 1);
        assertTrue(result.matches(), result.differences().toString());
        assertEquals(new ScheduleComparison.Tally(2, 2), result.tallies().get("batches"));
        assertEquals(new ScheduleComparison.Tally(2, 2), result.tallies().get("draws"));
    }

    @Test
    void eachDifferingDecisionIsNamedWithBothSidesInBatchOrder() {
        List<SchedulerDecision> recorded = List.of(batch(2, "a"), batch(10, "x"), batch(3, "b"), draw(3, "t1", "t2"),
                decided(5, new GroupsReleased(List.of("b@3.0"))));
        List<SchedulerDecision> again = List.of(batch(2, "a"), batch(10, "y"), batch(3, "c"), draw(3, "t2", "t1"));
        ScheduleComparison.Result result = ScheduleComparison.compare(recorded, again, 10, 1);
        assertFalse(result.matches());
        assertEquals(new ScheduleComparison.Tally(3, 1), result.tallies().get("batches"));
        assertEquals(new ScheduleComparison.Tally(1, 0), result.tallies().get("draws"));
        assertEquals(new ScheduleComparison.Tally(1, 0), result.tallies().get("releases"));
        assertEquals(4, result.differences().size());
        assertTrue(result.differences().get(0).startsWith("batch 3 round 0: recorded paced, 10 candidates, Z_φ of version 3, [b@3.0 b p̂ 0.5"),
                result.differences().get(0));
        assertTrue(result.differences().get(0).contains("; reprocessed paced, 10 candidates, Z_φ of version 3, [c@3.0 c"));
        assertTrue(result.differences().get(1).startsWith("batch 10 round 0"), "batch 10 after batch 3: " + result.differences());
        assertEquals("draw for update 3: recorded [t1, t2] of 7 buffered; reprocessed [t2, t1] of 7 buffered", result.differences().get(2));
        assertEquals("released b@3.0: recorded released; reprocessed nothing", result.differences().get(3));
    }

    @Test
    void onlyDecisionsUpToTheVersionReachedAreCompared() {
        List<SchedulerDecision> recorded = List.of(batch(0, "a"), batch(1, "b"), batch(2, "c"), draw(1), draw(2),
                decided(5, new GroupsReleased(List.of("c@2.0"))));
        List<SchedulerDecision> again = List.of(batch(0, "a"), batch(1, "b"), draw(1));
        ScheduleComparison.Result result = ScheduleComparison.compare(recorded, again, 1, 1);
        assertTrue(result.matches(), "up to version 1 with look-ahead 1: batches 0 and 1, the draw for update 1; "
                + result.differences());
        assertFalse(ScheduleComparison.compare(recorded, again, 1, 2).matches(), "look-ahead 2 reaches batch 2");
    }
}
