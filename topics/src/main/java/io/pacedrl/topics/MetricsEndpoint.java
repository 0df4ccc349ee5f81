package io.pacedrl.topics;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.pacedrl.registry.HttpServers;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;

/**
 * A process's operational endpoints over HTTP: {@code GET /metrics}, every meter in Prometheus's
 * text format ({@link ServiceMeters#registry()}), and {@code GET /health}, 200 {@code {"status":"UP"}}
 * while its services do their work and 503 with their problems once one does not (what a container
 * health check or a load balancer asks).
 */
public final class MetricsEndpoint implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpServer http;

    private MetricsEndpoint(HttpServer http) {
        this.http = http;
    }

    /** Serves the endpoints on {@code host:port} (0: a free port). */
    public static MetricsEndpoint start(String host, int port) throws IOException {
        HttpServer http;
        try {
            http = HttpServers.create(new InetSocketAddress(host, port), 16);
        } catch (IOException e) {
            throw new IOException("cannot listen on " + host + ":" + port + " for metrics: " + e.getMessage(), e);
        }
        mount(http);
        http.setExecutor(Executors.newSingleThreadExecutor(r -> {
            Thread thread = new Thread(r, "metrics-http");
            thread.setDaemon(true);
            return thread;
        }));
        http.start();
        return new MetricsEndpoint(http);
    }

    /** Adds /metrics and /health to a server that serves more (the dashboard). */
    public static void mount(HttpServer http) {
        http.createContext("/metrics", exchange -> answer(exchange, 200, "text/plain; version=0.0.4; charset=utf-8",
                ServiceMeters.registry().scrape()));
        http.createContext("/health", health());
    }

    private static HttpHandler health() {
        return exchange -> {
            List<String> problems = ServiceMeters.problems();
            Map<String, Object> status = new LinkedHashMap<>();
            status.put("status", problems.isEmpty() ? "UP" : "DOWN");
            status.put("problems", problems);
            answer(exchange, problems.isEmpty() ? 200 : 503, "application/json", JSON.writeValueAsString(status));
        };
    }

    private static void answer(HttpExchange exchange, int status, String contentType, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.sendResponseHeaders(status, bytes.length);
        exchange.getResponseBody().write(bytes);
        exchange.close();
    }

    /** Where it listens: http://host:port. */
    public String url() {
        return "http://" + http.getAddress().getHostString() + ":" + http.getAddress().getPort();
    }

    @Override
    public void close() {
        http.stop(0);
    }
}
