package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** compose/docker-compose.yml must be a file Compose accepts; checked without a Docker engine. */
class ComposeFileTest {
    static final Path COMPOSE_FILE = Path.of("..", "compose", "docker-compose.yml");

    @Test
    void composeAcceptsTheFile() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/docker-compose")),
                "docker-compose is not installed (apt-get install docker-compose); .ci/run installs it");
        Process check = new ProcessBuilder("/usr/bin/docker-compose", "-f", COMPOSE_FILE.toString(), "config", "-q")
                .redirectErrorStream(true).start();
        String output = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        check.waitFor(60, TimeUnit.SECONDS);
        assertEquals(0, check.exitValue(), output);
    }
}
