package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pacedrl.policy.Torch;
import io.pacedrl.schemas.LearnedGroup;
import io.pacedrl.schemas.ModelVersion;
import io.pacedrl.schemas.ScoredRollout;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.apache.avro.Schema;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run's topics are its record: an asynchronous run on the embedded broker is reproduced version by
 * version from them, carried to a fresh broker as files and reproduced there, found out when one
 * recorded rollout is changed, and resumed after a SIGKILL with its invariants intact.
 */
class ReproduceCommandTest {
    @TempDir
    static Path dir;
    private static Path weights;

    @BeforeAll
    static void tinyWarmStart() throws Exception {
        weights = TinyPolicy.train(dir);
    }

    private static List<String> train(int steps, String... more) {
        List<String> args = new ArrayList<>(List.of("train"));
        args.addAll(TinyPolicy.runOptions(weights, steps));
        args.addAll(List.of(more));
        return args;
    }

    @Test
    void aRecordedRunIsReproducedHereAndOnAFreshBrokerAndAChangedRolloutIsFound() throws Exception {
        Path run = dir.resolve("recorded");
        CommandRun trained = CommandRun.of(train(6, "--method", "paced", "--run-id", "rec", "--run-dir", run.toString())
                .toArray(String[]::new));
        assertEquals(0, trained.exitCode(), trained.out() + trained.err());

        // In this JVM the learner ran with the engine's threads as the first command set them; so does reproduce.
        String threads = Integer.toString(Torch.threads());
        CommandRun here = CommandRun.of("reproduce", "--run-dir", run.toString(), "--threads", threads);
        assertEquals(0, here.exitCode(), here.out() + here.err());
        assertTrue(here.out().contains("result     7 of 7 versions match (versions 0–6"), here.out());

        Path exported = dir.resolve("exported");
        CommandRun export = CommandRun.of("export", "--run-dir", run.toString(), "--to", exported.toString());
        assertEquals(0, export.exitCode(), export.out() + export.err());
        assertTrue(Files.isRegularFile(exported.resolve("schemas/ModelVersion.avsc")) && Files.isRegularFile(exported.resolve("report.html")));
        Path elsewhere = dir.resolve("imported");
        CommandRun imported = CommandRun.of("import", exported.toString(), "--run-dir", elsewhere.toString());
        assertEquals(0, imported.exitCode(), imported.out() + imported.err());
        CommandRun there = CommandRun.of("reproduce", "--run-dir", elsewhere.toString(), "--run-id", "rec", "--threads", threads);
        assertEquals(0, there.exitCode(), there.out() + there.err());
        assertTrue(there.out().contains("result     7 of 7 versions match"), there.out());

        // One scored rollout of version 3's batch, changed in the files: the first version that learned from it stops matching.
        List<ModelVersion> versions = read(exported.resolve("topics/model-versions.avro"), ModelVersion.class);
        String changed = versions.get(3).getGroups().get(0).getRolloutIds().get(0);
        long firstUse = versions.stream().filter(v -> v.getGroups().stream().map(LearnedGroup::getRolloutIds).anyMatch(ids -> ids.contains(changed))
                || v.getReplayIds().contains(changed)).mapToLong(ModelVersion::getVersion).min().orElseThrow();
        rewrite(exported.resolve("topics/scored-rollouts.avro"), changed);
        CommandRun tampered = CommandRun.of("import", exported.toString(), "--run-dir", dir.resolve("tampered").toString());
        assertEquals(0, tampered.exitCode(), tampered.out() + tampered.err());
        CommandRun found = CommandRun.of("reproduce", "--run-dir", dir.resolve("tampered").toString(), "--threads", threads);
        assertEquals(1, found.exitCode(), found.out() + found.err());
        assertTrue(found.out().contains("first      mismatch at version " + firstUse + ": policy weights, Z_φ, optimiser state"),
                "changed " + changed + ", first learned by version " + firstUse + ":\n" + found.out());
    }

    @Test
    void aKilledRunResumesExactlyOnceAndAChangedConfigurationIsRefused() throws Exception {
        Path run = dir.resolve("killed");
        // Its own JVMs, each with one PyTorch thread, as train runs the learner: what reproduce recomputes with.
        Process first = launch(train(24, "--run-id", "kill", "--run-dir", run.toString()), dir.resolve("killed.log"));
        try {
            Path checkpoint = run.resolve("checkpoints/v-000000004");
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
            while (!Files.isDirectory(checkpoint) && first.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertTrue(Files.isDirectory(checkpoint), "version 4 was checkpointed: " + Files.readString(dir.resolve("killed.log")));
        } finally {
            first.destroyForcibly().waitFor(); // SIGKILL: the services and the broker stop mid-run
        }

        CommandRun again = CommandRun.of(train(24, "--run-id", "kill", "--run-dir", run.toString()).toArray(String[]::new));
        assertEquals(1, again.exitCode());
        assertTrue(again.err().contains("run 'kill' is already recorded") && again.err().contains("train --resume kill continues it"),
                again.err());
        CommandRun changed = CommandRun.of(train(24, "--resume", "kill", "--run-dir", run.toString(), "--set", "beta=0.1")
                .toArray(String[]::new));
        assertEquals(1, changed.exitCode());
        assertTrue(changed.err().contains("recorded with another configuration (beta: 0.05 → 0.1)"), changed.err());

        Process resume = launch(train(24, "--resume", "kill", "--run-dir", run.toString()), dir.resolve("resumed.log"));
        boolean ended = resume.waitFor(5, TimeUnit.MINUTES);
        resume.destroyForcibly().waitFor();
        String resumed = Files.readString(dir.resolve("resumed.log"));
        assertTrue(ended, () -> "the resumed run did not end in 5 minutes:\n" + resumed);
        assertEquals(0, resume.exitValue(), resumed);
        assertTrue(resumed.lines().anyMatch(l -> l.matches("resumed    run kill at version \\d+ of 24, .*")), resumed);
        // The record covers the whole run, both processes, with the restart marked.
        long resumedAt = Long.parseLong(resumed.lines().filter(l -> l.startsWith("resumed    run kill at version ")).findFirst()
                .orElseThrow().replaceAll("resumed    run kill at version (\\d+) of 24, .*", "$1"));
        assertTrue(resumed.lines().anyMatch(l -> l.startsWith("restarts   resumed at version " + resumedAt + ", ")), resumed);
        JsonNode record = new ObjectMapper().readTree(run.resolve(TrainCommand.METRICS).toFile());
        List<Long> reported = new ArrayList<>();
        record.get("metrics").forEach(row -> reported.add(row.get("version").asLong()));
        assertEquals(LongStream.rangeClosed(1, 24).boxed().toList(), reported, "every update's metrics, from both processes");
        assertEquals(1, record.get("restarts").size());
        assertEquals(resumedAt, record.get("restarts").get(0).get("version").asLong());
        assertTrue(record.get("seconds").asDouble() > 0 && record.get("seconds").asDouble() < 600, record.get("seconds").toString());

        Path files = dir.resolve("killed-export");
        assertEquals(0, CommandRun.of("export", "--run-dir", run.toString(), "--to", files.toString()).exitCode());
        List<ModelVersion> versions = read(files.resolve("topics/model-versions.avro"), ModelVersion.class);
        assertEquals(25, versions.size(), "versions 0–24, each once");
        for (int v = 0; v < versions.size(); v++) {
            assertEquals(v, versions.get(v).getVersion());
        }
        Set<String> learned = new HashSet<>();
        for (ModelVersion version : versions) {
            for (LearnedGroup group : version.getGroups()) {
                group.getRolloutIds().forEach(id -> assertTrue(learned.add(id), "rollout " + id + " learned fresh twice"));
            }
        }
        assertEquals(24 * 4 * 4, learned.size(), "every update learned from B × G fresh rollouts");
        Process reproduce = launch(List.of("reproduce", "--run-dir", run.toString()), dir.resolve("reproduced.log"));
        assertTrue(reproduce.waitFor(5, TimeUnit.MINUTES));
        String reproduced = Files.readString(dir.resolve("reproduced.log"));
        assertEquals(0, reproduce.exitValue(), reproduced);
        assertTrue(reproduced.contains("result     25 of 25 versions match"), reproduced);
    }

    @Test
    void badOptionsFailBeforeAnythingStartsNamingTheProblem() throws Exception {
        CommandRun noRun = CommandRun.of("reproduce", "--run-dir", dir.resolve("nothing-here").toString(), "--threads",
                Integer.toString(Torch.threads()));
        assertEquals(2, noRun.exitCode());
        assertTrue(noRun.err().contains("--run-dir must name a run's directory holding its embedded broker's data"), noRun.err());
        CommandRun notExported = CommandRun.of("import", dir.toString());
        assertEquals(2, notExported.exitCode());
        assertTrue(notExported.err().contains("is not an exported run (no run.json)"), notExported.err());
        Files.createDirectories(dir.resolve("full"));
        Files.writeString(dir.resolve("full/file"), "x");
        CommandRun full = CommandRun.of("export", "--run-dir", dir.resolve("nothing-here").toString(), "--to", dir.resolve("full").toString());
        assertEquals(2, full.exitCode());
        assertTrue(full.err().contains("is not empty"), full.err());
        CommandRun resume = CommandRun.of(train(5, "--resume", "ghost", "--run-dir", dir.resolve("ghost").toString()).toArray(String[]::new));
        assertEquals(2, resume.exitCode());
        assertTrue(resume.err().contains("--resume ghost: ") && resume.err().contains("holds no embedded broker data"), resume.err());
    }

    /** The command line in a JVM of its own, its output in {@code log}. */
    private static Process launch(List<String> args, Path log) throws Exception {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
                System.getProperty("java.class.path"), PacedRl.class.getName()));
        command.addAll(args);
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static <T> List<T> read(Path file, Class<T> type) throws Exception {
        List<T> values = new ArrayList<>();
        try (DataFileReader<GenericRecord> in = new DataFileReader<>(file.toFile(), new SpecificDatumReader<>())) {
            for (GenericRecord row : in) {
                values.add(type.cast(row.get("value")));
            }
        }
        return values;
    }

    /** Flips the reward of one scored rollout in an exported topic file. */
    private static void rewrite(Path file, String rolloutId) throws Exception {
        List<GenericRecord> rows = new ArrayList<>();
        Schema schema;
        try (DataFileReader<GenericRecord> in = new DataFileReader<>(file.toFile(), new SpecificDatumReader<>())) {
            schema = in.getSchema();
            in.forEach(rows::add);
        }
        int changed = 0;
        for (GenericRecord row : rows) {
            if (row.get("value") instanceof ScoredRollout scored && scored.getRollout().getRolloutId().equals(rolloutId)) {
                scored.setReward(1 - scored.getReward());
                scored.setCorrect(!scored.getCorrect());
                changed++;
            }
        }
        assertEquals(1, changed);
        File out = file.toFile();
        try (DataFileWriter<GenericRecord> writer = new DataFileWriter<>(new SpecificDatumWriter<GenericRecord>(schema))) {
            writer.create(schema, out);
            rows.forEach(row -> {
                try {
                    writer.append(row);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        }
    }
}
