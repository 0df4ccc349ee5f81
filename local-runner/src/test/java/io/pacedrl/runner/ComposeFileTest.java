package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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

    /** One container per service, each with a health check on its /health, and generators free to scale (no fixed name or port). */
    @Test
    void everyServiceHasItsOwnContainerAndHealthCheck() throws Exception {
        JsonNode services = new ObjectMapper(new YAMLFactory()).readTree(COMPOSE_FILE.toFile()).path("services");
        for (String service : List.of("pool", "warmstart", "difficulty-stream", "generator", "reward-service", "learner", "dashboard")) {
            assertTrue(services.has(service), service + " has a container of its own");
        }
        JsonNode app = new ObjectMapper(new YAMLFactory()).readTree(COMPOSE_FILE.toFile()).path("x-app");
        assertTrue(app.path("healthcheck").path("test").toString().contains("/health"), "services answer their health check on /health");
        assertTrue(app.path("environment").has("PACED_RL_BOOTSTRAP_SERVERS") && app.path("environment").has("PACED_RL_CONFIG"),
                "configured by environment and a mounted config file");
        JsonNode generator = services.path("generator");
        assertTrue(!generator.has("container_name") && !generator.has("ports"), "generator scales: no fixed name or port");
        assertTrue(generator.path("entrypoint").toString().contains("--generator-id generator-$$HOSTNAME"),
                "each replica its own static-membership id");
    }
}
