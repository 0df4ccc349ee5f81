package io.pacedrl.learner;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pacedrl.learning.PolicyLearner;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.ReplayRecord;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.topics.ModelUpdateChunks;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.apache.avro.Schema;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.avro.specific.SpecificRecord;

/**
 * The learner's checkpoints on disk: everything needed to resume at a version exactly, written
 * before that version's transaction commits. A checkpoint is a directory {@code v-<version>} made
 * under a temporary name and renamed whole, so a crash leaves the previous one intact; the two
 * newest are kept (the newest may belong to a transaction that never committed). The reference
 * policy, which the pool's embeddings come from, is stored once beside them.
 *
 * <p>It holds the policy's weights, the optimisers' moments and Z_φ ({@link PolicyLearner.State}),
 * the consumer positions and the assembler's pending records and bookkeeping (so nothing read
 * before the checkpoint is lost or read twice), running totals, and the version's
 * {@link Publication} (so a transaction lost in a crash is sent again, identically). Random state
 * needs no file: the learner seeds the engine from (seed, version) before each update.
 */
final class LearnerCheckpoint {
    private static final ObjectMapper JSON = new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    private static final String REFERENCE = "reference.weights";
    private static final String PARTITION = "partition.bin";

    /** A run event the learner will publish, as plain data. */
    record Event(String type, long version, long timestampMs, Map<String, Double> metrics, Map<String, String> attributes) {}

    /** The recorded run and version a fork starts from: on its first version's record. */
    record ForkOrigin(String runId, long version, String weightsSha256) {}

    /** A fresh group an update learned from, in the update's order: what the version's record lists. */
    record Learned(String scheduleId, Double pHat, List<String> rolloutIds) {}

    /**
     * What goes out in version {@code version}'s transaction.
     *
     * @param partition     Z_φ's parameters (published beside the policy), or null for methods without Z_φ
     * @param trainerSha256 the optimisers' state's checksum, for the version's record
     * @param embeddings    whether the pool's embeddings go out with it (version 0 of a method that estimates p̂)
     * @param groups        provenance: the fresh groups of the batch
     * @param replayIds     provenance: the replayed trajectories
     * @param events        run events (the step's metrics, evaluations of the previous version)
     * @param deadLetters   records that could not be used, read before {@code positions}
     * @param positions     consumer positions ("topic:partition" → next offset) committed with it
     * @param forkedFrom    on a fork's first version, where it came from; null otherwise
     */
    record Publication(long version, byte[] weights, byte[] partition, String trainerSha256, boolean embeddings,
            List<Learned> groups, List<String> replayIds, List<Event> events, List<DeadLetter> deadLetters,
            Map<String, Long> positions, ForkOrigin forkedFrom) {

        Publication(long version, byte[] weights, byte[] partition, String trainerSha256, boolean embeddings, List<Learned> groups,
                List<String> replayIds, List<Event> events, List<DeadLetter> deadLetters, Map<String, Long> positions) {
            this(version, weights, partition, trainerSha256, embeddings, groups, replayIds, events, deadLetters, positions, null);
        }

        Publication withModel(PolicyLearner.State state) {
            return new Publication(version, state.weights(), state.partition(), ModelUpdateChunks.sha256(state.trainer()), embeddings,
                    groups, replayIds, events, deadLetters, positions, forkedFrom);
        }

        /** The run's first version: version 0, or a fork's first. It carries the configuration and π_ref. */
        boolean first() {
            return version == 0 || forkedFrom != null;
        }

        /** The fresh trajectories, in the update's order. */
        List<String> rolloutIds() {
            return groups.stream().flatMap(g -> g.rolloutIds().stream()).toList();
        }
    }

    /**
     * A whole checkpoint. {@code totals} are the run's running counts (rollouts consumed, …);
     * {@code learnedProbes} the probe prompts learned from so far (p̂'s fit is split by them).
     */
    record Contents(Publication publication, PolicyLearner.State state, BatchAssembler.Snapshot assembler,
            Map<String, Double> totals, List<String> learnedProbes) {
        long version() {
            return publication.version();
        }
    }

    /** What state.json holds: everything but the arrays and records, which have their own files. */
    private record Manifest(long version, List<Learned> groups, List<String> replayIds, List<Event> events,
            Map<String, Long> positions, boolean embeddings, long next, Map<Long, List<String>> released,
            Map<Long, List<String>> kept, Map<Long, Integer> drawn, Map<String, Double> estimates, long late,
            Map<String, Double> totals, ForkOrigin forkedFrom, List<String> learnedProbes) {}

    private final Path dir;

    LearnerCheckpoint(Path dir) {
        this.dir = dir;
    }

    Path dir() {
        return dir;
    }

    void writeReference(byte[] weights) throws IOException {
        Files.createDirectories(dir);
        Path tmp = dir.resolve(REFERENCE + ".tmp");
        Files.write(tmp, weights);
        Files.move(tmp, dir.resolve(REFERENCE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    Optional<byte[]> reference() throws IOException {
        Path file = dir.resolve(REFERENCE);
        return Files.exists(file) ? Optional.of(Files.readAllBytes(file)) : Optional.empty();
    }

    void write(Contents contents) throws IOException {
        Publication p = contents.publication();
        BatchAssembler.Snapshot a = contents.assembler();
        Path target = dir.resolve(name(p.version()));
        Path tmp = dir.resolve("." + name(p.version()) + ".tmp");
        deleteTree(tmp);
        Files.createDirectories(tmp);
        JSON.writeValue(tmp.resolve("state.json").toFile(), new Manifest(p.version(), p.groups(), p.replayIds(), p.events(),
                p.positions(), p.embeddings(), a.next(), a.released(), a.kept(), a.drawn(), a.estimates(), a.late(),
                contents.totals(), p.forkedFrom(), contents.learnedProbes()));
        Files.write(tmp.resolve("policy.weights"), contents.state().weights());
        Files.write(tmp.resolve("trainer.bin"), contents.state().trainer());
        if (contents.state().partition() != null) {
            Files.write(tmp.resolve(PARTITION), contents.state().partition());
        }
        writeRecords(tmp.resolve("rollouts.avro"), ScoredRollout.getClassSchema(), a.rollouts());
        writeRecords(tmp.resolve("replay.avro"), ReplayRecord.getClassSchema(), a.replay());
        writeRecords(tmp.resolve("dead-letters.avro"), DeadLetter.getClassSchema(), p.deadLetters());
        deleteTree(target); // a checkpoint of this version whose transaction never committed
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        for (long old : versions()) {
            if (old < p.version() - 1) {
                deleteTree(dir.resolve(name(old)));
            }
        }
    }

    /** The newest checkpoint, if there is one. */
    Optional<Contents> latest() throws IOException {
        List<Long> versions = versions();
        return versions.isEmpty() ? Optional.empty() : Optional.of(read(versions.get(versions.size() - 1)));
    }

    /** Versions with a complete checkpoint, oldest first. */
    List<Long> versions() throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> entries = Files.list(dir)) {
            return entries.map(p -> p.getFileName().toString()).filter(n -> n.matches("v-\\d+"))
                    .map(n -> Long.parseLong(n.substring(2))).sorted().toList();
        }
    }

    Contents read(long version) throws IOException {
        Path at = dir.resolve(name(version));
        Manifest m = JSON.readValue(at.resolve("state.json").toFile(), Manifest.class);
        byte[] weights = Files.readAllBytes(at.resolve("policy.weights"));
        byte[] partition = Files.exists(at.resolve(PARTITION)) ? Files.readAllBytes(at.resolve(PARTITION)) : null;
        byte[] trainer = Files.readAllBytes(at.resolve("trainer.bin"));
        Publication publication = new Publication(m.version(), weights, partition, ModelUpdateChunks.sha256(trainer), m.embeddings(),
                m.groups(), m.replayIds(), m.events(), readRecords(at.resolve("dead-letters.avro"), DeadLetter.class), m.positions(),
                m.forkedFrom());
        BatchAssembler.Snapshot assembler = new BatchAssembler.Snapshot(m.next(),
                readRecords(at.resolve("rollouts.avro"), ScoredRollout.class), readRecords(at.resolve("replay.avro"), ReplayRecord.class),
                m.released(), m.kept(), m.drawn(), m.estimates(), m.late());
        // A checkpoint written before probes were tracked has none: they all count as never scheduled.
        return new Contents(publication, new PolicyLearner.State(weights, trainer, partition),
                assembler, m.totals(), m.learnedProbes() == null ? List.of() : m.learnedProbes());
    }

    private static String name(long version) {
        return String.format("v-%09d", version);
    }

    private static <T extends SpecificRecord> void writeRecords(Path file, Schema schema, List<T> records) throws IOException {
        try (DataFileWriter<T> out = new DataFileWriter<>(new SpecificDatumWriter<T>(schema))) {
            out.create(schema, file.toFile());
            for (T record : records) {
                out.append(record);
            }
        }
    }

    private static <T extends SpecificRecord> List<T> readRecords(Path file, Class<T> type) throws IOException {
        List<T> out = new ArrayList<>();
        try (DataFileReader<T> in = new DataFileReader<>(file.toFile(), new SpecificDatumReader<>(type))) {
            in.forEach(out::add);
        }
        return out;
    }

    private static void deleteTree(Path path) throws IOException {
        if (!Files.exists(path)) {
            return;
        }
        try (Stream<Path> all = Files.walk(path)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
