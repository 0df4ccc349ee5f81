package io.pacedrl.runner;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.ComposeContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.junit.jupiter.Testcontainers;

/**
 * compose/ as a deployment: the image built, three brokers, Confluent's registry, the pool and the
 * warm start, then each service in its own container with two generators, until the learner has
 * published updates (read from the dashboard's /api/run). Needs a Docker engine; skipped without
 * one (this machine and CI have none: compose/ is validated there by ComposeFileTest only).
 */
@Testcontainers(disabledWithoutDocker = true)
class ComposeDeploymentTest {
    @Test
    void theServicesRunAsContainersWithTwoGeneratorsAndTheLearnerPublishes() throws Exception {
        try (ComposeContainer compose = new ComposeContainer(new File("../compose/docker-compose.yml"))
                .withBuild(true)
                .withScaledService("generator", 2)
                .withExposedService("dashboard", 8080, Wait.forHttp("/health").forStatusCode(200))
                .withStartupTimeout(Duration.ofMinutes(30))) {
            compose.start();
            URI run = URI.create("http://" + compose.getServiceHost("dashboard", 8080) + ":" + compose.getServicePort("dashboard", 8080)
                    + "/api/run");
            HttpClient http = HttpClient.newHttpClient();
            long deadline = System.nanoTime() + Duration.ofMinutes(20).toNanos();
            JsonNode answer = null;
            while (System.nanoTime() < deadline) {
                answer = new ObjectMapper().readTree(http.send(HttpRequest.newBuilder(run).build(), HttpResponse.BodyHandlers.ofString())
                        .body());
                if (answer.path("metrics").size() >= 3) {
                    break;
                }
                Thread.sleep(5000);
            }
            assertTrue(answer != null && answer.path("metrics").size() >= 3, "the learner published 3 updates: " + answer);
            assertTrue(answer.path("lag").has("generator"), "the generators' group is there: " + answer.path("lag"));
        }
    }
}
