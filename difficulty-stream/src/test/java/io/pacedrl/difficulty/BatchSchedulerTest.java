package io.pacedrl.difficulty;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.difficulty.BatchScheduler.Scheduled;
import io.pacedrl.difficulty.BatchScheduler.Strategy;
import io.pacedrl.difficulty.state.GroupResult;
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
        return settings(strategy, 4096);
    }

    static BatchScheduler.Settings settings(Strategy strategy, int candidates) {
        return new BatchScheduler.Settings(strategy, true, 4, 2, 2, 0.5, 0.05, candidates, 0, 0.5, 10_000, 2.0, 3, 11, 1);
    }

    /**
     * Z_φ of {@code version} as far as the scheduler is concerned: prompt i's embedding is (i), and
     * its p̂ changes with the version. Counts the rows it scores.
     */
    static BatchScheduler.Estimator estimator(long version, int[] scored) {
        return new BatchScheduler.Estimator() {
            @Override
            public long version() {
                return version;
            }

            @Override
            public double[] pHat(float[] rows, int count) {
                scored[0] += count;
                double[] out = new double[count];
                for (int k = 0; k < count; k++) {
                    out[k] = (((int) rows[k]) * 7 + version * 3) % 11 / 10.0;
                }
                return out;
            }
        };
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
                        List.of(), List.of(), List.of()));
            }
            scheduler.estimator(estimator(version, new int[1]));
            scheduler.learnerVersion(version);
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
                original.embedding("p" + i, new float[] {i});
            }
            original.embeddingsDone(0);
            original.estimator(estimator(0, new int[1]));
            original.learnerVersion(0);
            List<Scheduled> first = original.schedule(0);
            original.drainChanged().forEach(e -> stored.put(e.getPromptId(), ScheduleEntry.newBuilder(e).build()));
            assertTrue(first.size() >= 4, strategy + " " + first);

            // A crash here: a new scheduler is built from the stores, and both see the same events after.
            BatchScheduler resumed = restored(settings(strategy), stored, original.state());
            for (int i = 0; i < 30; i++) {
                resumed.embedding("p" + i, new float[] {i}); // as the processor puts back its embeddings store
            }
            List<String> expected = drive(original, new HashMap<>(stored), first, 1, 6);
            List<String> actual = drive(resumed, stored, first, 1, 6);
            assertTrue(expected.size() > 12, strategy + ": " + expected);
            assertTrue(expected.stream().anyMatch(s -> s.startsWith("released")), strategy + ": " + expected);
            assertEquals(expected, actual, strategy.toString());
        }
    }

    @Test
    void aLargePoolIsScoredOnASeededSampleOfCandidatesAndASmallOneWhole() {
        int pool = 1000;
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < pool; i++) {
            ids.add(String.format("p%04d", i));
        }
        for (int candidates : new int[] {100, 4096}) {
            BatchScheduler scheduler = new BatchScheduler(settings(Strategy.PACED, candidates), BatchScheduler.initialState(), List.of());
            for (int i = 0; i < pool; i++) {
                scheduler.poolChange(ids.get(i), new PoolChange("arith", 1, true, false, null));
                scheduler.embedding(ids.get(i), new float[] {i});
            }
            scheduler.embeddingsDone(0);
            int[] scored = new int[1];
            scheduler.estimator(estimator(0, scored));
            scheduler.learnerVersion(0);
            List<Scheduled> batches = scheduler.schedule(0);
            assertEquals(8, batches.size(), "two batches of 4 within the look-ahead");
            // The first batch scores every free prompt, or a sample of that many; the second skips the first's.
            assertEquals(candidates < pool ? 2 * candidates : pool + (pool - 4), scored[0]);
            assertTrue(batches.stream().allMatch(s -> s.candidates() == Math.min(candidates, s.batchId() == 0 ? pool : pool - 4)));
            double[] all = new double[pool];
            for (int i = 0; i < pool; i++) {
                all[i] = (i * 7) % 11 / 10.0;
            }
            io.pacedrl.learning.DifficultyScheduler order = new io.pacedrl.learning.DifficultyScheduler(ids, 0.5);
            int[] expected = candidates >= pool ? order.select(all, 4, i -> false)
                    : order.selectAmong(order.candidates(candidates, i -> false,
                            io.pacedrl.learning.DifficultyScheduler.candidateSeed(11, 0)), sample(order, candidates, all), 4);
            assertEquals(java.util.Arrays.stream(expected).mapToObj(ids::get).toList(),
                    batches.subList(0, 4).stream().map(Scheduled::promptId).toList(), "candidates " + candidates);
        }
    }

    private static double[] sample(io.pacedrl.learning.DifficultyScheduler order, int candidates, double[] all) {
        int[] drawn = order.candidates(candidates, i -> false, io.pacedrl.learning.DifficultyScheduler.candidateSeed(11, 0));
        return java.util.Arrays.stream(drawn).mapToDouble(i -> all[i]).toArray();
    }
}
