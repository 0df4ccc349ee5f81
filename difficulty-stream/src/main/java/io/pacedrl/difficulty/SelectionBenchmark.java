package io.pacedrl.difficulty;

import io.pacedrl.difficulty.state.GroupResult;
import io.pacedrl.difficulty.state.PHatChange;
import io.pacedrl.difficulty.state.PoolChange;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Times the scheduler task's selection as the app runs it: a {@link BatchScheduler} over a large
 * pool with random p̂, one batch per learner version, half of each batch still in flight at the
 * next (so the skipping is exercised), the rest back.
 */
public final class SelectionBenchmark {
    private SelectionBenchmark() {}

    /** Milliseconds per selection: the first (which ranks the pool's ids once), then the median and worst of the rest. */
    public record Result(int poolSize, int batch, double firstMs, double medianMs, double worstMs, double poolLoadMs) {}

    public static Result run(int poolSize, int batch, int repeats, long seed) {
        BatchScheduler.Settings settings = new BatchScheduler.Settings(BatchScheduler.Strategy.PACED, batch, 8, 1, 0.5,
                0.5, Long.MAX_VALUE / 4, 1, 1, seed, 1);
        long start = System.nanoTime();
        BatchScheduler scheduler = new BatchScheduler(settings, BatchScheduler.initialState(), List.of());
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < poolSize; i++) {
            String id = String.format("prompt-%07d", i);
            scheduler.poolChange(id, new PoolChange("arith", 1, true, false, null));
            scheduler.pHatChange(id, new PHatChange(0.0, random.nextDouble(), 0L));
        }
        scheduler.drainChanged();
        double loadMs = (System.nanoTime() - start) / 1e6;

        double[] times = new double[repeats + 1];
        List<BatchScheduler.Scheduled> outstanding = new ArrayList<>();
        for (int version = 0; version <= repeats; version++) {
            scheduler.learnerVersion(version);
            scheduler.refreshDone(0, version);
            long t = System.nanoTime();
            List<BatchScheduler.Scheduled> chosen = scheduler.schedule(version);
            times[version] = (System.nanoTime() - t) / 1e6;
            if (chosen.size() != batch) {
                throw new IllegalStateException("selected " + chosen.size() + " of " + batch);
            }
            // Half of the older batch comes back; the other half stays in flight.
            for (int k = 0; k < outstanding.size() / 2; k++) {
                BatchScheduler.Scheduled s = outstanding.get(k);
                scheduler.groupResult(s.promptId(), new GroupResult(s.scheduleId(), 8, (long) version,
                        List.of(1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), List.of(), List.of()));
            }
            outstanding = new ArrayList<>(outstanding.subList(outstanding.size() / 2, outstanding.size()));
            outstanding.addAll(chosen);
            scheduler.drainChanged();
        }
        double[] rest = Arrays.copyOfRange(times, 1, times.length);
        Arrays.sort(rest);
        return new Result(poolSize, batch, times[0], rest[rest.length / 2], rest[rest.length - 1], loadMs);
    }
}
