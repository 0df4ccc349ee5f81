package io.pacedrl.difficulty;

import io.pacedrl.difficulty.state.DynamicBatch;
import io.pacedrl.difficulty.state.GroupResult;
import io.pacedrl.difficulty.state.InFlight;
import io.pacedrl.difficulty.state.PoolChange;
import io.pacedrl.difficulty.state.RoundGroup;
import io.pacedrl.difficulty.state.ScheduleEntry;
import io.pacedrl.difficulty.state.SchedulerState;
import io.pacedrl.learning.DifficultyScheduler;
import io.pacedrl.learning.DynamicSampling;
import io.pacedrl.learning.Method;
import io.pacedrl.learning.TrainingConfig;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which prompts go out next, and when: the scheduler's decisions over its state, with no Kafka in
 * them. The state is the {@link ScheduleEntry} of every prompt and one {@link SchedulerState}; the
 * caller stores what {@link #drainChanged()} names after each event and rebuilds this object from
 * the stores after a restart.
 *
 * <p>Batch b feeds the learner's update b (version b → b + 1). Nothing is scheduled before the
 * learner publishes its first version (0, the warm start). A PACED batch is chosen only once the
 * pool's embeddings have all arrived (see {@code PoolEmbeddings}) and the {@link Estimator} (Z_φ) of
 * the learner's current version is here; its candidates ({@link DifficultyScheduler#candidates})
 * are scored then, and the B nearest τ go out. A batch goes out only while
 * b < learner version + look-ahead, so the generators can never run more than look-ahead versions
 * ahead of the learner, and only once B prompts are free: a prompt in flight is never scheduled
 * again until its group comes back or its time runs out (stream time, never the wall clock).
 *
 * <p>Decisions depend only on the events given and the seed: ties in the difficulty order go to
 * the smaller id, candidate and uniform draws are seeded from (seed, batch, round) and made over the
 * pool in id order, so the order in which prompts joined the pool does not matter. The synchronous
 * reference ({@code ReferenceSchedule}) decides by the same rules.
 */
public final class BatchScheduler {

    /** How the prompts of a batch are chosen. */
    public enum Strategy {
        /** The B prompts with p̂ nearest τ. */
        PACED,
        /** B prompts uniformly at random. */
        UNIFORM,
        /** DAPO dynamic sampling: oversampled uniform rounds until B groups carry a signal. */
        DYNAMIC;

        public static Strategy of(Method method) {
            return switch (method.prompts()) {
                case DIFFICULTY -> PACED;
                case UNIFORM -> UNIFORM;
                case DYNAMIC -> DYNAMIC;
            };
        }

        public String key() {
            return name().toLowerCase();
        }
    }

    /**
     * What the scheduler needs from a run's configuration, and how many partitions prompt-embeddings
     * has. {@code estimates}: the method's Z_φ estimates accuracy, so chosen prompts carry a p̂.
     */
    public record Settings(Strategy strategy, boolean estimates, int batchSize, int groupSize, int lookAhead, double tau,
            double beta, int candidates, int explore, double initialPHat, long groupTimeoutMs, double oversample, int maxRounds, long seed,
            int embeddingPartitions) {

        public static Settings of(TrainingConfig config, int embeddingPartitions) {
            return new Settings(Strategy.of(config.method()), config.method().estimatesAccuracy(), config.promptsPerStep(),
                    config.groupSize(), config.lookAhead(), config.tau(), config.beta(), config.selectionCandidates(),
                    config.explorePerBatch(), config.initialPHat(),
                    config.groupTimeoutSeconds() * 1000L, config.oversample(), config.maxSamplingRounds(), config.seed(),
                    embeddingPartitions);
        }

        /**
         * Whether a decision waits for groups to come back: lock-step's next batch and replay draw, a
         * dynamic batch's next round. Otherwise a group's result only frees a prompt of a large pool.
         */
        public boolean waitsOnGroups() {
            return lookAhead == 1 || strategy == Strategy.DYNAMIC;
        }
    }

    /**
     * p̂ from a version of Z_φ: {@code pHat(rows, count)} scores {@code count} embeddings held row
     * after row.
     */
    public interface Estimator {
        long version();

        double[] pHat(float[] rows, int count);
    }

    /**
     * A prompt sent out to be rolled out G times; {@code prompt} is its Prompt record as it arrived.
     * {@code candidates} prompts were scored for its batch, by the Z_φ of {@code estimatorVersion}
     * (-1: none).
     */
    public record Scheduled(String promptId, String scheduleId, long batchId, int round, Double pHat,
            ByteBuffer prompt, int candidates, long estimatorVersion) {}

    /** A scheduling whose group did not come back in time; its prompt is free again. */
    public record Released(String promptId, InFlight inFlight) {}

    /**
     * A dynamic-sampling batch whose rounds are over: the groups it kept (in the order kept), which
     * are the learner's batch, and how many rounds and groups it took.
     */
    public record Closed(long batchId, List<String> kept, int rounds, int offered) {}

    /** Counters kept in the state (reported over HTTP and in run events). */
    public static final String SCHEDULED = "scheduled-groups";
    public static final String COMPLETED = "completed-groups";
    public static final String LATE = "late-groups";
    public static final String RELEASED = "released-groups";
    public static final String SCORED = "scored-candidates";
    public static final String EMBEDDED = "embedded-prompts";
    /** CPU time the scheduler task has spent on its events: selection with scoring, replay, decisions (µs). */
    public static final String SCHEDULER_CPU_MICROS = "scheduler-cpu-micros";

    private final Settings settings;
    private final SchedulerState state;
    private final List<ScheduleEntry> entries = new ArrayList<>();
    private final Map<String, Integer> indexOf = new HashMap<>();
    /** Not in the pool, held out, or in flight. */
    private final BitSet unavailable = new BitSet();
    /** Schedule id → pool index, oldest scheduling first (stream time only moves forward). */
    private final LinkedHashMap<String, Integer> inFlight = new LinkedHashMap<>();
    private final Set<String> changed = new LinkedHashSet<>();
    private final List<Closed> closed = new ArrayList<>();
    /** e(x) by pool index; null until it arrives. */
    private float[][] embeddings = new float[0][];
    /** Embeddings of prompts not (yet) in the pool, by id. */
    private final Map<String, float[]> unplaced = new HashMap<>();
    private int embedded;
    private Estimator estimator;
    /** The pool's id order, rebuilt when the pool has grown. */
    private DifficultyScheduler ranking;
    private int rankedSize;

    /** A scheduler resuming from its stored state ({@code entries} in any order). */
    public BatchScheduler(Settings settings, SchedulerState state, Collection<ScheduleEntry> entries) {
        this.settings = settings;
        this.state = state;
        // Lists read back from a store are Avro arrays, whose iterators cannot remove: hold plain ones.
        List<DynamicBatch> dynamic = new ArrayList<>();
        for (DynamicBatch batch : state.getDynamic()) {
            List<RoundGroup> round = new ArrayList<>();
            batch.getRound().forEach(g -> round.add(RoundGroup.newBuilder(g).setRewards(new ArrayList<>(g.getRewards())).build()));
            dynamic.add(DynamicBatch.newBuilder(batch).setKept(new ArrayList<>(batch.getKept())).setRound(round).build());
        }
        state.setDynamic(dynamic);
        state.setCounters(new HashMap<>(state.getCounters()));
        state.setEmbeddedPartitions(new ArrayList<>(state.getEmbeddedPartitions()));
        List<ScheduleEntry> inFlightOrder = new ArrayList<>();
        for (ScheduleEntry entry : entries) {
            int index = add(entry);
            if (entry.getInFlight() != null) {
                inFlightOrder.add(entry);
                unavailable.set(index);
            }
        }
        inFlightOrder.sort(Comparator.comparingLong((ScheduleEntry e) -> e.getInFlight().getScheduledAtMs())
                .thenComparing(e -> e.getInFlight().getScheduleId()));
        inFlightOrder.forEach(e -> inFlight.put(e.getInFlight().getScheduleId(), indexOf.get(e.getPromptId())));
        changed.clear();
    }

    /** The state of a scheduler that has seen nothing yet. */
    public static SchedulerState initialState() {
        return SchedulerState.newBuilder().setLearnerVersion(-1).setNextBatch(0).setReplayAdditions(0)
                .setEmbeddedPartitions(new ArrayList<>()).setCounters(new HashMap<>()).setDynamic(new ArrayList<>()).build();
    }

    public SchedulerState state() {
        return state;
    }

    public Settings settings() {
        return settings;
    }

    /** A prompt joined, changed in or left the pool. */
    public void poolChange(String promptId, PoolChange change) {
        Integer index = indexOf.get(promptId);
        ScheduleEntry entry;
        if (index == null) {
            entry = ScheduleEntry.newBuilder().setPromptId(promptId).setFamily(change.getFamily())
                    .setDifficulty(change.getDifficulty()).setTrainable(change.getTrainable())
                    .setPresent(!change.getRemoved()).setPrompt(change.getPrompt()).setPHat(null).setPHatVersion(-1).setInFlight(null)
                    .setLastScheduledMs(null).setTimesScheduled(0).build();
            index = add(entry);
        } else {
            entry = entries.get(index);
            entry.setFamily(change.getFamily());
            entry.setDifficulty(change.getDifficulty());
            entry.setTrainable(change.getTrainable());
            entry.setPresent(!change.getRemoved());
            if (change.getPrompt() != null) {
                entry.setPrompt(change.getPrompt());
            }
        }
        updateAvailability(index);
        changed.add(promptId);
    }

    /** A prompt's embedding e(x) arrived; it may come before the prompt itself. */
    public void embedding(String promptId, float[] values) {
        Integer index = indexOf.get(promptId);
        if (index == null) {
            unplaced.put(promptId, values);
            return;
        }
        embedded += embeddings[index] == null ? 1 : 0;
        embeddings[index] = values;
        state.getCounters().put(EMBEDDED, (long) embedded);
    }

    /** Partition {@code partition} of prompt-embeddings has all of its pool's embeddings. */
    public void embeddingsDone(int partition) {
        if (!state.getEmbeddedPartitions().contains(partition)) {
            state.getEmbeddedPartitions().add(partition);
        }
    }

    /** The newest Z_φ: p̂ is computed with it from now on. */
    public void estimator(Estimator estimator) {
        this.estimator = estimator;
    }

    /** The version of the Z_φ p̂ is computed with; -1 before one arrives. */
    public long estimatorVersion() {
        return estimator == null ? -1 : estimator.version();
    }

    /**
     * A group came back. Returns the scheduling it answered if it was still in flight (its prompt is
     * free again), or null if it came after its release or answers nothing this scheduler sent.
     */
    public InFlight groupResult(String promptId, GroupResult group) {
        Integer index = indexOf.get(promptId);
        ScheduleEntry entry = index == null ? null : entries.get(index);
        if (entry == null || entry.getInFlight() == null
                || !entry.getInFlight().getScheduleId().equals(group.getScheduleId())) {
            count(LATE);
            return null;
        }
        InFlight answered = entry.getInFlight();
        land(index, answered, group.getRewards());
        count(COMPLETED);
        return answered;
    }

    /** The learner published {@code version}; returns whether it is newer than the one known. */
    public boolean learnerVersion(long version) {
        if (version <= state.getLearnerVersion()) {
            return false;
        }
        state.setLearnerVersion(version);
        // A fork's first version is k, not 0: its batches start at k (in any other run batch v is out before version v).
        state.setNextBatch(Math.max(state.getNextBatch(), version));
        return true;
    }

    /** Frees every prompt scheduled more than the group timeout before {@code streamTimeMs}. */
    public List<Released> releaseExpired(long streamTimeMs) {
        List<Released> released = new ArrayList<>();
        Iterator<Map.Entry<String, Integer>> oldestFirst = inFlight.entrySet().iterator();
        while (oldestFirst.hasNext()) {
            int index = oldestFirst.next().getValue();
            ScheduleEntry entry = entries.get(index);
            InFlight scheduling = entry.getInFlight();
            if (scheduling.getScheduledAtMs() + settings.groupTimeoutMs() > streamTimeMs) {
                break;
            }
            oldestFirst.remove();
            land(index, scheduling, List.of());
            count(RELEASED);
            released.add(new Released(entry.getPromptId(), scheduling));
        }
        return released;
    }

    /**
     * Every scheduling due now: the next rounds of dynamic-sampling batches whose round is back, then
     * new batches while the look-ahead allows and enough prompts are free.
     */
    public List<Scheduled> schedule(long streamTimeMs) {
        List<Scheduled> out = new ArrayList<>();
        if (state.getLearnerVersion() < 0) {
            return out; // nothing goes out before the learner's first version: the pool and its p̂ come first
        }
        for (Iterator<DynamicBatch> it = state.getDynamic().iterator(); it.hasNext(); ) {
            DynamicBatch batch = it.next();
            if (!batch.getRound().stream().allMatch(RoundGroup::getDone)) {
                continue;
            }
            DynamicSampling<String> sampling = offerRound(batch);
            if (!sampling.needsMore()) {
                it.remove();
                closed.add(new Closed(batch.getBatchId(), List.copyOf(sampling.batch()), sampling.rounds(), sampling.offered()));
                continue;
            }
            int[] chosen = uniform(Math.min(sampling.promptsToDraw(), freePrompts()), batch.getBatchId(), batch.getRounds());
            out.addAll(send(chosen, estimate(chosen), 0, batch, streamTimeMs));
        }
        while (state.getNextBatch() < state.getLearnerVersion() + settings.lookAhead()) {
            long batchId = state.getNextBatch();
            int wanted = settings.strategy() == Strategy.DYNAMIC
                    ? (int) Math.ceil(settings.batchSize() * settings.oversample()) : settings.batchSize();
            if (freePrompts() < wanted || settings.strategy() == Strategy.PACED && !estimatesCurrent()) {
                break;
            }
            if (lockStepWaiting()) {
                break;
            }
            int[] chosen;
            double[] pHat;
            int scored = 0;
            if (settings.strategy() == Strategy.PACED) {
                int[] candidates = ranking().candidates(settings.candidates(), i -> unavailable.get(i) || embeddings[i] == null,
                        DifficultyScheduler.candidateSeed(settings.seed(), batchId));
                double[] scores = score(candidates);
                chosen = ranking().selectAmong(candidates, scores, wanted, settings.explore(),
                        DifficultyScheduler.uniformSeed(settings.seed(), batchId, 0));
                pHat = DifficultyScheduler.estimatesOf(chosen, candidates, scores);
                scored = candidates.length;
                state.getCounters().merge(SCORED, (long) scored, Long::sum);
            } else {
                chosen = uniform(wanted, batchId, 0);
                pHat = estimate(chosen);
            }
            DynamicBatch dynamic = null;
            if (settings.strategy() == Strategy.DYNAMIC) {
                dynamic = DynamicBatch.newBuilder().setBatchId(batchId).setRounds(0).setOffered(0)
                        .setKept(new ArrayList<>()).setRound(new ArrayList<>()).build();
                state.getDynamic().add(dynamic);
            }
            state.setNextBatch(batchId + 1);
            out.addAll(send(chosen, pHat, scored, dynamic, streamTimeMs));
        }
        return out;
    }

    /**
     * Whether lock-step has to wait for groups in flight before deciding: it decides as the synchronous
     * reference does, with nothing in flight, and the learner may publish version v before this task
     * has seen every group of batch v − 1 come back (they reach it through a topic).
     */
    public boolean lockStepWaiting() {
        return settings.lookAhead() == 1 && !inFlight.isEmpty();
    }

    /** The dynamic-sampling batches closed since the last call. */
    public List<Closed> drainClosed() {
        List<Closed> drained = List.copyOf(closed);
        closed.clear();
        return drained;
    }

    /** The prompts whose entries changed since the last call, for the caller to store. */
    public List<ScheduleEntry> drainChanged() {
        List<ScheduleEntry> drained = changed.stream().map(id -> entries.get(indexOf.get(id))).toList();
        changed.clear();
        return drained;
    }

    /** Prompts that could be scheduled now. */
    public int freePrompts() {
        return entries.size() - unavailable.cardinality();
    }

    public int inFlightCount() {
        return inFlight.size();
    }

    public int poolSize() {
        return entries.size();
    }

    /** p̂ of these pool prompts from the current Z_φ, in order. */
    private double[] score(int[] prompts) {
        if (prompts.length == 0) {
            return new double[0];
        }
        int width = embeddings[prompts[0]].length;
        float[] rows = new float[prompts.length * width];
        for (int k = 0; k < prompts.length; k++) {
            float[] row = embeddings[prompts[k]];
            if (row.length != width) {
                throw new IllegalStateException("prompt " + entries.get(prompts[k]).getPromptId() + " has an embedding of "
                        + row.length + " values, others " + width);
            }
            System.arraycopy(row, 0, rows, k * width, width);
        }
        return estimator.pHat(rows, prompts.length);
    }

    /**
     * p̂ of prompts chosen without it (uniform methods that estimate accuracy, for the replay
     * priorities and the learner's figures): null where there is no Z_φ yet or an embedding is missing.
     */
    private double[] estimate(int[] chosen) {
        if (!settings.estimates() || estimator == null || Arrays.stream(chosen).anyMatch(i -> embeddings[i] == null)) {
            return null;
        }
        return score(chosen);
    }

    /**
     * p̂ of these prompts from the current Z_φ, in order (the replay buffer's, recomputed before a
     * draw): NaN for a prompt without an embedding; null while there is no Z_φ.
     */
    public double[] estimates(List<String> promptIds) {
        if (estimator == null) {
            return null;
        }
        double[] out = new double[promptIds.size()];
        Arrays.fill(out, Double.NaN);
        List<Integer> known = new ArrayList<>();
        List<Integer> positions = new ArrayList<>();
        for (int k = 0; k < out.length; k++) {
            Integer index = indexOf.get(promptIds.get(k));
            if (index != null && embeddings[index] != null) {
                known.add(index);
                positions.add(k);
            }
        }
        double[] scored = score(known.stream().mapToInt(Integer::intValue).toArray());
        for (int k = 0; k < scored.length; k++) {
            out[positions.get(k)] = scored[k];
        }
        return out;
    }

    /** The p̂ a prompt was last chosen with, or the initial p̂ before it was. */
    public double lastPHat(String promptId) {
        Integer index = indexOf.get(promptId);
        Double pHat = index == null ? null : entries.get(index).getPHat();
        return pHat == null ? settings.initialPHat() : pHat;
    }

    private List<Scheduled> send(int[] chosen, double[] pHat, int scored, DynamicBatch dynamic, long streamTimeMs) {
        long batchId = dynamic == null ? state.getNextBatch() - 1 : dynamic.getBatchId();
        int round = dynamic == null ? 0 : dynamic.getRounds();
        List<Scheduled> out = new ArrayList<>(chosen.length);
        for (int k = 0; k < chosen.length; k++) {
            int index = chosen[k];
            ScheduleEntry entry = entries.get(index);
            if (pHat != null) {
                entry.setPHat(pHat[k]);
                entry.setPHatVersion(estimator.version());
            }
            String scheduleId = entry.getPromptId() + "@" + batchId + "." + round;
            entry.setInFlight(InFlight.newBuilder().setScheduleId(scheduleId).setBatchId(batchId).setRound(round)
                    .setScheduledAtMs(streamTimeMs).setPHat(pHat == null ? null : pHat[k]).build());
            entry.setLastScheduledMs(streamTimeMs);
            entry.setTimesScheduled(entry.getTimesScheduled() + 1);
            unavailable.set(index);
            inFlight.put(scheduleId, index);
            changed.add(entry.getPromptId());
            if (dynamic != null) {
                dynamic.getRound().add(RoundGroup.newBuilder().setScheduleId(scheduleId).setDone(false)
                        .setRewards(new ArrayList<>()).build());
            }
            count(SCHEDULED);
            out.add(new Scheduled(entry.getPromptId(), scheduleId, batchId, round, pHat == null ? null : pHat[k], entry.getPrompt(),
                    scored, pHat == null ? -1 : estimator.version()));
        }
        return out;
    }

    /** A scheduling ends, by its group coming back (with rewards) or by its time running out (without). */
    private void land(int index, InFlight scheduling, List<Double> rewards) {
        ScheduleEntry entry = entries.get(index);
        entry.setInFlight(null);
        inFlight.remove(scheduling.getScheduleId());
        updateAvailability(index);
        changed.add(entry.getPromptId());
        for (DynamicBatch batch : state.getDynamic()) {
            if (batch.getBatchId() == scheduling.getBatchId()) {
                for (RoundGroup group : batch.getRound()) {
                    if (group.getScheduleId().equals(scheduling.getScheduleId())) {
                        group.setDone(true);
                        group.setRewards(new ArrayList<>(rewards));
                    }
                }
            }
        }
    }

    /** Hands a finished round to the dynamic-sampling rule and records what it kept. */
    private DynamicSampling<String> offerRound(DynamicBatch batch) {
        DynamicSampling<String> sampling = new DynamicSampling<>(settings.batchSize(), settings.oversample(),
                settings.maxRounds(), batch.getKept(), batch.getRounds(), batch.getOffered());
        // An empty round is one that found no free prompt: nothing to offer, draw again.
        if (!batch.getRound().isEmpty()) {
            sampling.offer(batch.getRound().stream().map(RoundGroup::getScheduleId).toList(),
                    batch.getRound().stream().map(g -> g.getRewards().stream().mapToDouble(Double::doubleValue).toArray())
                            .toList());
            batch.setKept(new ArrayList<>(sampling.batch()));
            batch.setRounds(sampling.rounds());
            batch.setOffered(sampling.offered());
            batch.setRound(new ArrayList<>());
        }
        return sampling;
    }

    private int[] uniform(int count, long batchId, int round) {
        return ranking().drawUniform(count, unavailable::get, DifficultyScheduler.uniformSeed(settings.seed(), batchId, round));
    }

    /** The difficulty and id orders of the pool, rebuilt when the pool has grown since they were made. */
    private DifficultyScheduler ranking() {
        if (ranking == null || rankedSize != entries.size()) {
            ranking = new DifficultyScheduler(entries.stream().map(ScheduleEntry::getPromptId).toList(), settings.tau());
            rankedSize = entries.size();
        }
        return ranking;
    }

    private int add(ScheduleEntry entry) {
        int index = entries.size();
        entries.add(entry);
        indexOf.put(entry.getPromptId(), index);
        if (embeddings.length <= index) {
            embeddings = Arrays.copyOf(embeddings, Math.max(1024, embeddings.length * 2));
        }
        float[] early = unplaced.remove(entry.getPromptId());
        if (early != null) {
            embeddings[index] = early;
            embedded++;
            state.getCounters().put(EMBEDDED, (long) embedded);
        }
        updateAvailability(index);
        changed.add(entry.getPromptId());
        return index;
    }

    /**
     * Whether PACED can choose now: every partition of prompt-embeddings has its end marker, every
     * embedded prompt is here too, and the Z_φ of the learner's current version has arrived.
     * Choosing before would rank prompts with the previous policy's Z_φ, or leave out prompts whose
     * embedding, or whose prompt (one written to another partition than Java's partitioner picks
     * comes the long way round), is still on its way.
     */
    public boolean estimatesCurrent() {
        return estimator != null && estimator.version() >= state.getLearnerVersion()
                && state.getEmbeddedPartitions().size() >= settings.embeddingPartitions() && unplaced.isEmpty();
    }

    private void updateAvailability(int index) {
        ScheduleEntry entry = entries.get(index);
        unavailable.set(index, !entry.getPresent() || !entry.getTrainable() || entry.getInFlight() != null);
    }

    private void count(String counter) {
        state.getCounters().merge(counter, 1L, Long::sum);
    }
}
