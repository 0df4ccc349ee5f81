package io.pacedrl.topics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** /metrics and /health over real HTTP: a service's meters appear with its tags, its problems turn health to 503, and close removes them. */
class MetricsEndpointTest {
    private final HttpClient http = HttpClient.newHttpClient();

    private HttpResponse<String> get(MetricsEndpoint endpoint, String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(endpoint.url() + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void metersAndHealthAreServedUntilTheServiceCloses() throws Exception {
        AtomicLong rollouts = new AtomicLong(42);
        AtomicReference<Optional<String>> problem = new AtomicReference<>(Optional.empty());
        try (MetricsEndpoint endpoint = MetricsEndpoint.start("127.0.0.1", 0)) {
            ServiceMeters meters = new ServiceMeters("generator", "run-7.", "generator-3");
            meters.counted(ServiceMeters.ROLLOUTS_GENERATED, rollouts, AtomicLong::get);
            meters.set(ServiceMeters.LEARNER_PREFIX + "beta-kl", 0.25);
            meters.healthCheck(problem::get);
            DeadLetters.of("t", 0, 0, null, null, "UNDECODABLE", "junk", "generator-service/generator-3", 0);

            HttpResponse<String> scrape = get(endpoint, "/metrics");
            assertEquals(200, scrape.statusCode());
            assertTrue(scrape.body().contains("pacedrl_rollouts_generated_total{instance=\"generator-3\",run=\"run-7\",service=\"generator\"} 42.0"),
                    scrape.body());
            assertTrue(scrape.body().contains("pacedrl_learner_beta_kl{instance=\"generator-3\",run=\"run-7\",service=\"generator\"} 0.25"));
            assertTrue(scrape.body().contains("pacedrl_dead_letters_total{reason=\"UNDECODABLE\",service=\"generator-service/generator-3\"}"));
            assertTrue(scrape.body().contains("jvm_memory_used_bytes"), "the JVM's meters too");

            assertEquals("{\"status\":\"UP\",\"problems\":[]}", get(endpoint, "/health").body());
            problem.set(Optional.of("generator-3 stopped sampling: out of memory"));
            HttpResponse<String> down = get(endpoint, "/health");
            assertEquals(503, down.statusCode());
            assertEquals("{\"status\":\"DOWN\",\"problems\":[\"generator-3 stopped sampling: out of memory\"]}", down.body());

            meters.close();
            assertFalse(get(endpoint, "/metrics").body().contains("pacedrl_rollouts_generated_total{instance=\"generator-3\""));
            assertEquals(200, get(endpoint, "/health").statusCode(), "a closed service no longer counts");
        }
    }
}
