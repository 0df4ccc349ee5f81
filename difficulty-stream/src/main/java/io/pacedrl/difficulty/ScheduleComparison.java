package io.pacedrl.difficulty;

import io.pacedrl.schemas.BatchScheduled;
import io.pacedrl.schemas.DynamicBatchClosed;
import io.pacedrl.schemas.GroupsReleased;
import io.pacedrl.schemas.ReplayDrawn;
import io.pacedrl.schemas.ScheduledGroup;
import io.pacedrl.schemas.SchedulerDecision;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * A run's recorded scheduler decisions against those a reprocessing made, decision by decision:
 * each batch (and dynamic-sampling round) with its strategy, candidates, estimator version and
 * groups (schedule id, prompt, p̂); each closed dynamic batch; each replay draw with the buffer's
 * size; each released group. When they were decided is not compared (stream time follows arrival).
 */
public final class ScheduleComparison {

    /** How many decisions of one kind there were (in either list) and how many are the same in both. */
    public record Tally(int decisions, int matched) {}

    /**
     * @param tallies     by kind: "batches", "closed", "draws", "releases"
     * @param differences each differing decision, in order of kind and key: what the record holds, and what the reprocessing made
     */
    public record Result(Map<String, Tally> tallies, List<String> differences) {
        public boolean matches() {
            return differences.isEmpty();
        }
    }

    private ScheduleComparison() {}

    /**
     * Compares the decisions up to learner version {@code upTo}: batches below upTo + look-ahead (the
     * scheduler runs that far ahead of version upTo), draws for updates up to upTo, the releases among them.
     */
    public static Result compare(List<SchedulerDecision> recorded, List<SchedulerDecision> reprocessed, long upTo, int lookAhead) {
        long lastBatch = upTo + lookAhead - 1;
        Map<String, Tally> tallies = new LinkedHashMap<>();
        List<String> differences = new ArrayList<>();
        for (String kind : List.of("batches", "closed", "draws", "releases")) {
            Map<String, String> before = byKey(recorded, kind, lastBatch, upTo);
            Map<String, String> after = byKey(reprocessed, kind, lastBatch, upTo);
            TreeSet<String> keys = new TreeSet<>(KEY_ORDER);
            keys.addAll(before.keySet());
            keys.addAll(after.keySet());
            int matched = 0;
            for (String key : keys) {
                String was = before.get(key);
                String now = after.get(key);
                if (Objects.equals(was, now)) {
                    matched++;
                } else {
                    differences.add(key + ": recorded " + (was == null ? "nothing" : was) + "; reprocessed " + (now == null ? "nothing" : now));
                }
            }
            tallies.put(kind, new Tally(keys.size(), matched));
        }
        return new Result(tallies, differences);
    }

    /** Keys sort by their numbers ("batch 9" before "batch 10"), then as text. */
    private static final java.util.Comparator<String> KEY_ORDER = (a, b) -> {
        long na = leadingNumber(a);
        long nb = leadingNumber(b);
        return na != nb ? Long.compare(na, nb) : a.compareTo(b);
    };

    private static long leadingNumber(String key) {
        String digits = key.replaceAll("^\\D*(\\d+).*$", "$1");
        return digits.matches("\\d+") ? Long.parseLong(digits) : Long.MAX_VALUE;
    }

    /** The decisions of one kind, each as a key (what it is about) and a value (what was decided). */
    private static Map<String, String> byKey(List<SchedulerDecision> decisions, String kind, long lastBatch, long upTo) {
        Map<String, String> out = new LinkedHashMap<>();
        for (SchedulerDecision decision : decisions) {
            Object d = decision.getDecision();
            if (kind.equals("batches") && d instanceof BatchScheduled b && b.getBatchId() <= lastBatch) {
                out.put("batch " + b.getBatchId() + " round " + b.getRound(), String.format("%s, %d candidates, Z_φ of version %d, [%s]",
                        b.getStrategy(), b.getCandidates(), b.getEstimatorVersion(), b.getGroups().stream().map(ScheduleComparison::group)
                                .collect(Collectors.joining(", "))));
            } else if (kind.equals("closed") && d instanceof DynamicBatchClosed c && c.getBatchId() <= lastBatch) {
                out.put("batch " + c.getBatchId() + " closed", String.format("kept %s after %d rounds, %d offered", c.getKept(), c.getRounds(),
                        c.getOffered()));
            } else if (kind.equals("draws") && d instanceof ReplayDrawn r && r.getForVersion() <= upTo) {
                out.put("draw for update " + r.getForVersion(), String.format("%s of %d buffered", r.getTrajectoryIds(), r.getBuffered()));
            } else if (kind.equals("releases") && d instanceof GroupsReleased r) {
                r.getScheduleIds().stream().filter(id -> batchOf(id) <= lastBatch).forEach(id -> out.put("released " + id, "released"));
            }
        }
        return out;
    }

    /** The batch of a schedule id ("prompt@batch.round"); 0 when it does not say. */
    private static long batchOf(String scheduleId) {
        String tail = scheduleId.substring(scheduleId.lastIndexOf('@') + 1);
        String batch = tail.contains(".") ? tail.substring(0, tail.indexOf('.')) : tail;
        return batch.matches("\\d+") ? Long.parseLong(batch) : 0;
    }

    private static String group(ScheduledGroup g) {
        return g.getScheduleId() + " " + g.getPromptId() + (g.getPHat() == null ? "" : String.format(" p̂ %.17g", g.getPHat()));
    }
}
