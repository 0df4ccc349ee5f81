package io.pacedrl.learner;

import io.pacedrl.schemas.ReplayRecord;
import io.pacedrl.schemas.ScoredRollout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Puts the learner's batches together from what arrives, in any order and any interleaving: scored
 * rollouts (grouped by their scheduling), replay draws, and the scheduler's decisions: the p̂ each
 * group was chosen with, groups that will never come (released on timeout), which groups a
 * dynamic-sampling batch kept and how many trajectories each update replays. No Kafka
 * in it: the service feeds it records and asks for the next batch.
 *
 * <p>Update v uses the scheduler's batch v. It is ready when
 * <ul>
 * <li>every group the batch is waiting for is complete (G distinct rollouts): for uniform and
 *     difficulty batches, B groups complete or released; for dynamic sampling, the groups the
 *     scheduler kept once it closed the batch;</li>
 * <li>for methods that replay, the scheduler has said how many trajectories it drew for update v,
 *     and that many have arrived.</li>
 * </ul>
 * A group sampled more than {@code max-staleness} versions before v is dropped and counted; within
 * the bound, every loss corrects for the policy lag with the recorded behaviour log-probs.
 * Anything for a batch already taken (a group that came back after its release, a duplicate) is
 * counted and discarded. The whole state is a {@link Snapshot}, so a checkpoint can hold it.
 */
public final class BatchAssembler {

    /**
     * @param dynamic      batches are closed by the scheduler (dynamic sampling)
     * @param replay       updates wait for their replay draws
     * @param batchSize    B
     * @param maxStaleness S: groups sampled more than S versions before the update are dropped
     */
    public record Settings(boolean dynamic, boolean replay, int batchSize, int maxStaleness) {}

    /**
     * One scheduling's G scored rollouts, in group order, and the p̂ the scheduler chose it with
     * (null when it had none).
     */
    public record Group(String scheduleId, long batchId, List<ScoredRollout> rollouts, Double pHat) {
        public String promptId() {
            return rollouts.get(0).getRollout().getPrompt().getId();
        }

        /** The oldest policy version among its rollouts (a group is normally sampled by one version). */
        public long policyVersion() {
            return rollouts.stream().mapToLong(r -> r.getRollout().getPolicyVersion()).min().orElseThrow();
        }

        public int correct() {
            return (int) rollouts.stream().filter(ScoredRollout::getCorrect).count();
        }

        /** Whether its rewards differ: only then does a group-relative loss learn from it. */
        public boolean informative() {
            return rollouts.stream().mapToDouble(ScoredRollout::getReward).distinct().count() > 1;
        }
    }

    /**
     * The batch for update {@code version}.
     *
     * @param groups    the groups to learn from
     * @param replay    the replayed trajectories, in draw order
     * @param stale     groups dropped for staleness
     * @param discarded dynamic sampling's groups that carried no signal
     * @param released  groups of the batch that never came back
     * @param consumed  rollouts of the batch, used or not: what the run spent on it
     * @param staleness groups used, by how many versions behind the update they were sampled
     */
    public record Batch(long version, List<Group> groups, List<ReplayRecord> replay, List<Group> stale,
            List<Group> discarded, int released, long consumed, Map<Long, Integer> staleness) {}

    /** Everything the assembler holds, for a checkpoint; {@link #BatchAssembler(Settings, Snapshot)} resumes from it. */
    public record Snapshot(long next, List<ScoredRollout> rollouts, List<ReplayRecord> replay,
            Map<Long, List<String>> released, Map<Long, List<String>> kept, Map<Long, Integer> drawn,
            Map<String, Double> estimates, long late) {}

    private final Settings settings;
    private long next;
    private long late;
    /** Schedule id → the group's rollouts by index, for batches not yet taken. */
    private final Map<String, TreeMap<Integer, ScoredRollout>> open = new HashMap<>();
    private final TreeMap<Long, Set<String>> released = new TreeMap<>();
    private final TreeMap<Long, List<String>> kept = new TreeMap<>();
    private final TreeMap<Long, Integer> drawn = new TreeMap<>();
    private final TreeMap<Long, TreeMap<Integer, ReplayRecord>> replay = new TreeMap<>();
    /** Schedule id → the p̂ it was chosen with, for batches not yet taken. */
    private final Map<String, Double> estimates = new HashMap<>();

    /** An assembler whose next batch is batch 0. */
    public BatchAssembler(Settings settings) {
        this(settings, new Snapshot(0, List.of(), List.of(), Map.of(), Map.of(), Map.of(), Map.of(), 0));
    }

    public BatchAssembler(Settings settings, Snapshot snapshot) {
        this.settings = settings;
        this.next = snapshot.next();
        this.late = snapshot.late();
        snapshot.rollouts().forEach(this::addRollout);
        snapshot.replay().forEach(this::addReplay);
        snapshot.released().forEach((batch, ids) -> released.put(batch, new LinkedHashSet<>(ids)));
        kept.putAll(snapshot.kept());
        drawn.putAll(snapshot.drawn());
        estimates.putAll(snapshot.estimates());
    }

    /** The batch the next update takes. */
    public long next() {
        return next;
    }

    /** Records that came for a batch already taken, or twice. */
    public long late() {
        return late;
    }

    /**
     * A scored rollout. Throws IllegalArgumentException, saying why, for one that cannot be part of
     * any batch (the caller dead-letters it).
     */
    public void addRollout(ScoredRollout scored) {
        var rollout = scored.getRollout();
        long batch = batchOf(rollout.getScheduleId());
        if (rollout.getGroupSize() < 1 || rollout.getGroupIndex() < 0 || rollout.getGroupIndex() >= rollout.getGroupSize()) {
            throw new IllegalArgumentException("group index " + rollout.getGroupIndex() + " is outside a group of "
                    + rollout.getGroupSize());
        }
        if (!(scored.getReward() >= 0 && scored.getReward() <= 1)) {
            throw new IllegalArgumentException("reward " + scored.getReward() + " is outside [0, 1]");
        }
        if (rollout.getBehaviourLogProbs().size() != rollout.getResponseTokens().size()) {
            throw new IllegalArgumentException(rollout.getBehaviourLogProbs().size() + " behaviour log-probs for "
                    + rollout.getResponseTokens().size() + " response tokens");
        }
        if (rollout.getPolicyVersion() < 0) {
            throw new IllegalArgumentException("negative policy version " + rollout.getPolicyVersion());
        }
        if (batch < next) {
            late++;
            return;
        }
        TreeMap<Integer, ScoredRollout> group = open.computeIfAbsent(rollout.getScheduleId(), id -> new TreeMap<>());
        if (!group.isEmpty() && group.firstEntry().getValue().getRollout().getGroupSize() != rollout.getGroupSize()) {
            throw new IllegalArgumentException("group " + rollout.getScheduleId() + " has size "
                    + group.firstEntry().getValue().getRollout().getGroupSize() + ", this rollout says " + rollout.getGroupSize());
        }
        if (group.putIfAbsent(rollout.getGroupIndex(), scored) != null) {
            late++; // delivered twice
        }
    }

    /** A replay draw. */
    public void addReplay(ReplayRecord record) {
        if (record.getForLearnerVersion() < next) {
            late++;
            return;
        }
        if (replay.computeIfAbsent(record.getForLearnerVersion(), v -> new TreeMap<>())
                .putIfAbsent(record.getSampleIndex(), record) != null) {
            late++;
        }
    }

    /** The scheduler chose this scheduling with this p̂ (null: without one). */
    public void scheduled(String scheduleId, Double pHat) {
        if (pHat != null && batchOf(scheduleId) >= next) {
            estimates.put(scheduleId, pHat);
        }
    }

    /** The scheduler drew {@code count} trajectories for update {@code version}. */
    public void replayDrawn(long version, int count) {
        if (version >= next) {
            drawn.put(version, count);
        }
    }

    /** These schedulings were released: their groups will not come (a late one is discarded). */
    public void released(List<String> scheduleIds) {
        for (String id : scheduleIds) {
            long batch = batchOf(id);
            if (batch >= next) {
                released.computeIfAbsent(batch, b -> new LinkedHashSet<>()).add(id);
            }
        }
    }

    /** Dynamic sampling closed batch {@code batchId} with these groups, in the order kept. */
    public void closed(long batchId, List<String> scheduleIds) {
        if (batchId >= next) {
            kept.put(batchId, List.copyOf(scheduleIds));
        }
    }

    /** Update {@code next()}'s batch, if everything it waits for is here; taking it moves to the next. */
    public Optional<Batch> take() {
        long version = next;
        List<String> wanted;
        if (settings.dynamic()) {
            wanted = kept.get(version);
            if (wanted == null || !wanted.stream().allMatch(this::complete)) {
                return Optional.empty();
            }
        } else {
            List<String> done = open.keySet().stream().filter(id -> batchOf(id) == version && complete(id)).sorted().toList();
            Set<String> accounted = new LinkedHashSet<>(done);
            accounted.addAll(released.getOrDefault(version, Set.of()));
            if (accounted.size() < settings.batchSize()) {
                return Optional.empty();
            }
            wanted = done;
        }
        List<ReplayRecord> replayed = List.of();
        if (settings.replay()) {
            Integer count = drawn.get(version);
            TreeMap<Integer, ReplayRecord> arrived = replay.getOrDefault(version, new TreeMap<>());
            if (count == null || arrived.size() < count) {
                return Optional.empty();
            }
            replayed = List.copyOf(arrived.values());
        }

        List<Group> groups = new ArrayList<>();
        List<Group> stale = new ArrayList<>();
        Map<Long, Integer> staleness = new TreeMap<>();
        for (String id : wanted) {
            Group group = group(id);
            long behind = version - group.policyVersion();
            if (behind > settings.maxStaleness()) {
                stale.add(group);
            } else {
                groups.add(group);
                staleness.merge(Math.max(0, behind), 1, Integer::sum);
            }
        }
        Set<String> used = new LinkedHashSet<>(wanted);
        List<Group> discarded = open.keySet().stream().filter(id -> batchOf(id) == version && !used.contains(id) && complete(id))
                .sorted().map(this::group).toList();
        long consumed = open.entrySet().stream().filter(e -> batchOf(e.getKey()) == version)
                .mapToLong(e -> e.getValue().size()).sum();
        int releasedCount = released.getOrDefault(version, Set.of()).size();

        next = version + 1;
        open.keySet().removeIf(id -> batchOf(id) < next);
        released.headMap(next).clear();
        kept.headMap(next).clear();
        drawn.headMap(next).clear();
        replay.headMap(next).clear();
        estimates.keySet().removeIf(id -> batchOf(id) < next);
        return Optional.of(new Batch(version, groups, replayed, stale, discarded, releasedCount, consumed, staleness));
    }

    public Snapshot snapshot() {
        List<ScoredRollout> rollouts = new ArrayList<>();
        open.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> rollouts.addAll(e.getValue().values()));
        List<ReplayRecord> replays = new ArrayList<>();
        replay.values().forEach(byIndex -> replays.addAll(byIndex.values()));
        Map<Long, List<String>> releasedIds = new TreeMap<>();
        released.forEach((batch, ids) -> releasedIds.put(batch, List.copyOf(ids)));
        return new Snapshot(next, rollouts, replays, releasedIds, new TreeMap<>(kept), new TreeMap<>(drawn),
                new TreeMap<>(estimates), late);
    }

    private boolean complete(String scheduleId) {
        TreeMap<Integer, ScoredRollout> group = open.get(scheduleId);
        return group != null && group.size() == group.firstEntry().getValue().getRollout().getGroupSize();
    }

    private Group group(String scheduleId) {
        return new Group(scheduleId, batchOf(scheduleId), List.copyOf(open.get(scheduleId).values()), estimates.get(scheduleId));
    }

    /**
     * The batch of a schedule id {@code <prompt>@<batch>.<round>}; the prompt id may itself hold
     * '@' or '.', so the batch is read after the last '@'.
     */
    static long batchOf(String scheduleId) {
        int at = scheduleId.lastIndexOf('@');
        int dot = scheduleId.indexOf('.', at + 1);
        try {
            if (at < 0 || dot < 0) {
                throw new NumberFormatException();
            }
            return Long.parseLong(scheduleId.substring(at + 1, dot));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("schedule id '" + scheduleId + "' is not <prompt>@<batch>.<round>");
        }
    }
}
