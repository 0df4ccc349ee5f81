package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.pacedrl.embedded.CommittedRecords;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.Torch;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.BatchScheduled;
import io.pacedrl.schemas.ModelVersion;
import io.pacedrl.schemas.SchedulerDecision;
import io.pacedrl.topics.Topics;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.LongStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A lock-step run on the embedded broker, forked at version 3 with a changed key: the fork starts
 * from the parent's state there (its first version has the parent's checksums), schedules its first
 * batch exactly as the parent did (same p̂ from the same Z_φ), trains on with its own id and topics,
 * records where it came from, and reproduces, lineage and all, its schedule too. Forks that cannot
 * be are refused before anything is made.
 */
class ForkCommandTest {
    @TempDir
    static Path dir;
    private static Path weights;

    @BeforeAll
    static void tinyWarmStart() throws Exception {
        weights = TinyPolicy.train(dir);
    }

    @Test
    void aForkStartsFromItsParentsStateSchedulesAsItDidAndReproduces() throws Exception {
        Path parentDir = dir.resolve("parent");
        List<String> train = new ArrayList<>(List.of("train"));
        train.addAll(TinyPolicy.runOptions(weights, 6));
        train.addAll(List.of("--method", "paced", "--sync", "--run-id", "par", "--run-dir", parentDir.toString()));
        CommandRun trained = CommandRun.of(train.toArray(String[]::new));
        assertEquals(0, trained.exitCode(), trained.out() + trained.err());

        Path forkDir = dir.resolve("fork");
        CommandRun fork = CommandRun.of("fork", "--from", "par", "--from-dir", parentDir.toString(), "--at", "3", "--run-id", "kid",
                "--run-dir", forkDir.toString(), "--sync", "--set", "policy-learning-rate=0.001", "--set", "steps=8");
        assertEquals(0, fork.exitCode(), fork.out() + fork.err());
        assertTrue(fork.out().contains("reproduced versions 0–3 of par match their record"), fork.out());
        assertTrue(fork.out().contains("run        kid: paced, lock-step (look-ahead 1), updates 4–8 of 4 prompts × 4 rollouts"),
                fork.out());
        assertTrue(fork.out().lines().anyMatch(l -> l.matches("forked     from run par at version 3 \\(weights [0-9a-f]{12}\\), "
                + "changed steps: 6 → 8, policy-learning-rate: 2.0E-4 → 0.001")), fork.out());

        JsonNode forkFile = new ObjectMapper(new YAMLFactory()).readTree(forkDir.resolve("fork.yaml").toFile());
        assertEquals("par", forkFile.path("parent").path("run-id").asText());
        assertEquals(3, forkFile.path("parent").path("version").asLong());
        assertTrue(Files.readString(forkDir.resolve("report.html")).contains("from run par at version 3"));

        try (Platform cluster = Platform.embedded(forkDir.resolve("kafka"))) {
            SchemaRegistryClient registry = new SchemaRegistryClient(cluster.schemaRegistryUrl());
            Topics parentTopics = new Topics("par.", registry);
            Topics forkTopics = new Topics("kid.", registry);
            List<ModelVersion> parentVersions = read(cluster, parentTopics.modelVersions.name(), parentTopics, 7);
            List<ModelVersion> forkVersions = read(cluster, forkTopics.modelVersions.name(), forkTopics, 6);
            assertEquals(LongStream.rangeClosed(3, 8).boxed().toList(), forkVersions.stream().map(ModelVersion::getVersion).toList(),
                    "the fork's versions: its first is the parent's version 3, then updates 4–8, each once");
            ModelVersion first = forkVersions.get(0);
            ModelVersion atFork = parentVersions.get(3);
            assertNotNull(first.getForkedFrom());
            assertEquals("par", first.getForkedFrom().getRunId());
            assertEquals(3, first.getForkedFrom().getVersion());
            assertEquals(atFork.getWeightsSha256(), first.getForkedFrom().getWeightsSha256());
            assertEquals(atFork.getWeightsSha256(), first.getWeightsSha256(), "the fork's first version is the parent's state");
            assertEquals(atFork.getPartitionSha256(), first.getPartitionSha256());
            assertEquals(atFork.getTrainerSha256(), first.getTrainerSha256());
            assertEquals(0.001, TrainingConfig.fromJson(first.getConfig()).policyLearningRate());
            assertFalse(forkVersions.get(1).getWeightsSha256().equals(parentVersions.get(4).getWeightsSha256()));

            // Lock-step, nothing in flight: batch 3 is chosen from the same candidates with the same p̂ in both runs (the
            // changed key is not one p̂ depends on: with β changed, p̂ = β·log Z would be too).
            assertEquals(batch(cluster, parentTopics, 3), batch(cluster, forkTopics, 3));
        }

        String threads = Integer.toString(Torch.threads());
        CommandRun reproduced = CommandRun.of("reproduce", "--run-dir", forkDir.toString(), "--run-id", "kid", "--threads", threads,
                "--scheduler");
        assertEquals(0, reproduced.exitCode(), reproduced.out() + reproduced.err());
        assertTrue(reproduced.out().contains("fork       kid started from run par at version 3"), reproduced.out());
        assertTrue(reproduced.out().contains("result     10 of 10 versions match (versions 0–8"), reproduced.out());
        // Lock-step decisions do not depend on timing: the stream's topology, run again over the record, decides the same.
        assertTrue(reproduced.out().contains("schedule   6 of 6 batches, 0 of 0 closed, 6 of 6 draws, 0 of 0 releases as recorded"),
                reproduced.out());
        CommandRun parentSchedule = CommandRun.of("reproduce", "--run-dir", parentDir.toString(), "--threads", threads, "--scheduler");
        assertEquals(0, parentSchedule.exitCode(), parentSchedule.out() + parentSchedule.err());
        assertTrue(parentSchedule.out().contains("schedule   7 of 7 batches, 0 of 0 closed, 7 of 7 draws"), parentSchedule.out());

        CommandRun again = CommandRun.of("fork", "--from", "par", "--from-dir", parentDir.toString(), "--at", "3", "--run-id", "kid",
                "--run-dir", forkDir.toString());
        assertEquals(2, again.exitCode());
        assertTrue(again.err().contains("is not empty; a fork starts in a new directory"), again.err());
        CommandRun otherMethod = CommandRun.of("fork", "--from", "par", "--from-dir", parentDir.toString(), "--at", "3", "--run-id",
                "k2", "--run-dir", dir.resolve("k2").toString(), "--set", "method=grpo");
        assertEquals(2, otherMethod.exitCode());
        assertTrue(otherMethod.err().contains("a fork keeps the parent's method"), otherMethod.err());
        CommandRun beyond = CommandRun.of("fork", "--from", "par", "--from-dir", parentDir.toString(), "--at", "9", "--run-id", "k3",
                "--run-dir", dir.resolve("k3").toString());
        assertEquals(2, beyond.exitCode());
        assertTrue(beyond.err().contains("--at 9: run par records versions 0–6"), beyond.err());
        assertFalse(Files.exists(dir.resolve("k2").resolve("kafka")) || Files.exists(dir.resolve("k3").resolve("kafka")),
                "a refused fork makes nothing");
    }

    private static List<ModelVersion> read(Platform cluster, String topic, Topics topics, int count) {
        return CommittedRecords.read(cluster.bootstrapServers(), topic, topics.modelVersions.valueSerde().deserializer(),
                read -> read.size() >= count, Duration.ofSeconds(30));
    }

    /** The prompts and p̂ of batch {@code batchId} as the run's scheduler decided them. */
    private static List<String> batch(Platform cluster, Topics topics, long batchId) {
        List<SchedulerDecision> decisions = CommittedRecords.read(cluster.bootstrapServers(), topics.schedulerDecisions.name(),
                topics.schedulerDecisions.valueSerde().deserializer(), read -> read.stream().anyMatch(d -> d.getDecision()
                        instanceof BatchScheduled b && b.getBatchId() == batchId), Duration.ofSeconds(30));
        BatchScheduled scheduled = decisions.stream().map(SchedulerDecision::getDecision).filter(d -> d instanceof BatchScheduled b
                && b.getBatchId() == batchId).map(BatchScheduled.class::cast).findFirst().orElseThrow();
        return scheduled.getGroups().stream().map(g -> g.getPromptId() + " p̂ " + g.getPHat()).toList();
    }
}
