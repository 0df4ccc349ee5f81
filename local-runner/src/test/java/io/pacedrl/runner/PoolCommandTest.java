package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.tasks.TaskSuite;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code paced-rl pool} on the embedded broker: it loads a pool once however often it runs, and refuses another under the same prefix. */
class PoolCommandTest {
    @TempDir
    Path dir;

    @Test
    void loadingTwiceWritesOnceAndAnotherPoolIsRefused() throws Exception {
        try (Platform platform = Platform.embedded(dir.resolve("kafka"))) {
            String[] cluster = {"--bootstrap-servers", platform.bootstrapServers(), "--schema-registry-url", platform.schemaRegistryUrl(),
                    "--topic-prefix", "deploy."};
            CommandRun first = CommandRun.of(DifficultyCommandsTest.concat(new String[] {"pool", "--pool-size", "60"}, cluster));
            assertEquals(0, first.exitCode(), first.out() + first.err());
            assertTrue(first.out().startsWith("pool       60 train and 1,000 held-out prompts from the generated suite"), first.out());
            assertTrue(first.out().contains("→ deploy.prompts on " + platform.bootstrapServers()), first.out());
            assertTrue(first.out().contains("wrote      1,060 prompts; 0 were already there"), first.out());

            CommandRun again = CommandRun.of(DifficultyCommandsTest.concat(new String[] {"pool", "--pool-size", "60"}, cluster));
            assertEquals(0, again.exitCode(), again.out() + again.err());
            assertTrue(again.out().contains("wrote      0 prompts; 1,060 were already there"), again.out());

            Path data = dir.resolve("other.jsonl");
            Files.writeString(data, "{\"id\": \"" + firstPromptId() + "\", \"kind\": \"numeric\", \"split\": \"train\", "
                    + "\"text\": \"1+1=\", \"answer\": \"2\"}\n{\"id\": \"h1\", \"kind\": \"numeric\", \"split\": \"held_out\", "
                    + "\"text\": \"2+2=\", \"answer\": \"4\"}\n");
            CommandRun other = CommandRun.of(DifficultyCommandsTest.concat(new String[] {"pool", "--dataset", data.toString()}, cluster));
            assertEquals(1, other.exitCode(), other.out() + other.err());
            assertTrue(other.err().contains("deploy.prompts already holds prompt " + firstPromptId() + " with other content"),
                    other.err());
        }
    }

    /** The id of one prompt of the generated suite with a pool of 60 (its first). */
    private static String firstPromptId() {
        TaskSuite.Config defaults = TaskSuite.Config.DEFAULT;
        return TaskSuite.generate(defaults.withTrainSize(60)).train()
                .get(0).id();
    }
}
