package io.pacedrl.difficulty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.difficulty.BatchScheduler.Scheduled;
import io.pacedrl.difficulty.BatchScheduler.Strategy;
import io.pacedrl.difficulty.state.GroupResult;
import io.pacedrl.difficulty.state.PHatChange;
import io.pacedrl.difficulty.state.PoolChange;
import io.pacedrl.difficulty.state.ScheduleEntry;
import io.pacedrl.difficulty.state.SchedulerState;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The scheduler's decisions directly, and its resumption from stored state. */
class BatchSchedulerTest {
    static BatchScheduler.Settings settings(Strategy strategy) {
        return new BatchScheduler.Settings(strategy, 4, 2, 2, 0.5, 0.5, 10_000, 2.0, 3, 11, 1);
    }

    /** What the stores hold: copies of the entries and the state, as the processor wrote them. */
    static BatchScheduler restored(BatchScheduler.Settings settings, Map<String, ScheduleEntry> stored, SchedulerState state) {
        List<ScheduleEntry> entries = new ArrayList<>();
        stored.values().forEach(e -> entries.add(ScheduleEntry.newBuilder(e).build()));
        java.util.Collections.reverse(entries); // the order a store returns them in must not matter
        return new BatchScheduler(settings, SchedulerState.newBuilder(state).build(), entries);
    }

    /** Versions 1..n: groups of the previous batch come back (one never does), a refresh, the next batch. */
    static List<String> drive(BatchScheduler scheduler, Map<String, ScheduleEntry> stored, List<Scheduled> pending,
            long fromVersion, long toVersion) {
        List<String> out = new ArrayList<>();
        for (long version = fromVersion; version <= toVersion; version++) {
            for (int k = 1; k < pending.size(); k++) {
                Scheduled s = pending.get(k);
                scheduler.groupResult(s.promptId(), new GroupResult(s.scheduleId(), 2, version - 1, List.of(1.0, (double) (k % 2)),
                        List.of(), List.of()));
            }
            for (int i = 0; i < 30; i++) {
                scheduler.pHatChange("p" + i, new PHatChange(0.0, ((i * 7 + version * 3) % 11) / 10.0, version));
            }
            scheduler.learnerVersion(version);
            scheduler.refreshDone(0, version);
            scheduler.releaseExpired(version * 4_000).forEach(r -> out.add("released " + r.inFlight().getScheduleId()));
            pending = scheduler.schedule(version * 4_000);
            pending.forEach(s -> out.add(s.toString()));
            scheduler.drainChanged().forEach(e -> stored.put(e.getPromptId(), ScheduleEntry.newBuilder(e).build()));
        }
        return out;
    }

    @Test
    void aSchedulerRebuiltFromItsStoresDecidesExactlyAsTheOneThatWroteThem() {
        for (Strategy strategy : Strategy.values()) {
            Map<String, ScheduleEntry> stored = new HashMap<>();
            BatchScheduler original = new BatchScheduler(settings(strategy), BatchScheduler.initialState(), List.of());
            for (int i = 0; i < 30; i++) {
                original.poolChange("p" + i, new PoolChange("arith", 1, true, false, null));
                original.pHatChange("p" + i, new PHatChange(0.0, (i % 10) / 10.0, 0L));
            }
            original.learnerVersion(0);
            original.refreshDone(0, 0);
            List<Scheduled> first = original.schedule(0);
            original.drainChanged().forEach(e -> stored.put(e.getPromptId(), ScheduleEntry.newBuilder(e).build()));
            assertTrue(first.size() >= 4, strategy + " " + first);

            // A crash here: a new scheduler is built from the stores, and both see the same events after.
            BatchScheduler resumed = restored(settings(strategy), stored, original.state());
            List<String> expected = drive(original, new HashMap<>(stored), first, 1, 6);
            List<String> actual = drive(resumed, stored, first, 1, 6);
            assertTrue(expected.size() > 12, strategy + ": " + expected);
            assertTrue(expected.stream().anyMatch(s -> s.startsWith("released")), strategy + ": " + expected);
            assertEquals(expected, actual, strategy.toString());
        }
    }
}
