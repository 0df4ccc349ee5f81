package io.pacedrl.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.BasicAuthenticator;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsServer;
import io.pacedrl.embedded.KafkaSchemaStore.StoredSchema;
import io.pacedrl.registry.ClientOptions;
import io.pacedrl.registry.HttpServers;
import io.pacedrl.registry.RegistryError;
import io.pacedrl.registry.SchemaRegistryException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A schema registry speaking the Confluent REST API (the subset below) over schemas stored in a
 * compacted Kafka topic, so any Confluent-protocol client, in any language, can resolve the ids in
 * our records. In compose/ a real Confluent registry takes its place.
 *
 * <pre>
 * GET  /subjects                                   GET  /schemas, /schemas/ids/{id}[/schema|/versions]
 * POST /subjects/{s}                  (lookup)     GET  /schemas/types
 * GET  /subjects/{s}/versions                      POST /compatibility/subjects/{s}/versions[/{v}]
 * POST /subjects/{s}/versions         (register)   GET|PUT /config
 * GET  /subjects/{s}/versions/{v}[/schema]         GET|PUT /config/{s}
 * </pre>
 * Deleting subjects and versions, schema references and non-Avro schema types are not served. The
 * listing ({@code GET /schemas}) carries an ETag and answers a matching {@code If-None-Match} with 304.
 */
public final class SchemaRegistryServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SchemaRegistryServer.class);
    public static final String DEFAULT_TOPIC = "_schemas";
    private static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";

    private final KafkaSchemaStore store;
    private final SchemaRegistry registry;
    private final HttpServer http;
    private final ExecutorService executor;
    private final ObjectMapper json = new ObjectMapper();

    private SchemaRegistryServer(KafkaSchemaStore store, HttpServer http, ExecutorService executor) {
        this.store = store;
        this.registry = new SchemaRegistry(store);
        this.http = http;
        this.executor = executor;
    }

    /**
     * Replays the schema topic on {@code bootstrapServers} and serves the API on {@code host:port}
     * (port 0: any free port).
     */
    public static SchemaRegistryServer start(String bootstrapServers, String topic, String host, int port)
            throws IOException {
        return start(bootstrapServers, topic, host, port, null, null);
    }

    /**
     * The same, serving only clients that send HTTP basic auth {@code userInfo} (USER:PASSWORD) when
     * not null, and over HTTPS with {@code tls}'s key and certificate when not null.
     */
    public static SchemaRegistryServer start(String bootstrapServers, String topic, String host, int port, String userInfo,
            SSLContext tls) throws IOException {
        if (userInfo != null && !userInfo.contains(":")) {
            throw new IllegalArgumentException("basic auth must be USER:PASSWORD");
        }
        KafkaSchemaStore store = KafkaSchemaStore.open(bootstrapServers, topic, Duration.ofSeconds(30));
        HttpServer http;
        try {
            InetSocketAddress address = new InetSocketAddress(host, port);
            http = tls == null ? HttpServers.create(address, 64) : HttpServers.createHttps(address, 64, tls);
        } catch (IOException e) {
            store.close();
            throw new IOException("cannot listen on " + host + ":" + port + " for the schema registry: " + e.getMessage(), e);
        }
        ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "schema-registry-http");
            t.setDaemon(true);
            return t;
        });
        SchemaRegistryServer server = new SchemaRegistryServer(store, http, executor);
        HttpContext context = http.createContext("/", server::handle);
        if (userInfo != null) {
            String user = userInfo.substring(0, userInfo.indexOf(':'));
            String password = userInfo.substring(userInfo.indexOf(':') + 1);
            context.setAuthenticator(new BasicAuthenticator("schema-registry") {
                @Override
                public boolean checkCredentials(String givenUser, String givenPassword) {
                    return user.equals(givenUser) && password.equals(givenPassword);
                }
            });
        }
        http.setExecutor(executor);
        http.start();
        log.info("schema registry (Confluent REST API) serving {} from topic '{}'", server.url(), topic);
        return server;
    }

    public String url() {
        return (http instanceof HttpsServer ? "https" : "http") + "://" + http.getAddress().getHostString() + ":"
                + http.getAddress().getPort();
    }

    private void handle(HttpExchange exchange) throws IOException {
        int status = 200;
        Object answer;
        List<String> path = segments(exchange.getRequestURI().getRawPath());
        // The listing of every schema is what consumers ask for whenever a record names an id they do
        // not know, so in a flood of made-up ids, once per poll. It is tagged with the store's position,
        // taken before the listing is built (so the tag never claims more than the listing holds):
        // unchanged, it is answered with 304 and no body.
        String entityTag = "GET".equals(exchange.getRequestMethod()) && path.equals(List.of("schemas"))
                ? "\"" + registry.position() + "\"" : null;
        if (entityTag != null) {
            exchange.getResponseHeaders().set("ETag", entityTag);
            if (entityTag.equals(exchange.getRequestHeaders().getFirst("If-None-Match"))) {
                exchange.sendResponseHeaders(304, -1);
                exchange.close();
                return;
            }
        }
        try {
            answer = route(exchange.getRequestMethod(), path, query(exchange.getRequestURI().getRawQuery()), exchange.getRequestBody());
        } catch (SchemaRegistryException e) {
            status = e.httpStatus();
            answer = error(e.errorCode(), e.getMessage());
        } catch (RuntimeException e) {
            log.error("{} {} failed", exchange.getRequestMethod(), exchange.getRequestURI(), e);
            status = 500;
            answer = error(RegistryError.STORE_ERROR.code(), "Internal error: " + e);
        }
        byte[] body = json.writeValueAsBytes(answer);
        exchange.getResponseHeaders().set("Content-Type", CONTENT_TYPE);
        exchange.sendResponseHeaders(status, body.length);
        exchange.getResponseBody().write(body);
        exchange.close();
    }

    private Object route(String method, List<String> path, Map<String, String> query, InputStream body) {
        String first = path.isEmpty() ? "" : path.get(0);
        switch (first) {
            case "" -> {
                return allow(method, "GET", json.createObjectNode());
            }
            case "subjects" -> {
                return subjects(method, path, body);
            }
            case "schemas" -> {
                return schemas(method, path);
            }
            case "compatibility" -> {
                if (path.size() >= 4 && path.size() <= 5 && "subjects".equals(path.get(1)) && "versions".equals(path.get(3))) {
                    allow(method, "POST", null);
                    String version = path.size() == 5 ? path.get(4) : null;
                    List<String> problems = registry.compatibilityProblems(path.get(2), version, schemaOf(body));
                    ObjectNode result = json.createObjectNode().put("is_compatible", problems.isEmpty());
                    if (Boolean.parseBoolean(query.get("verbose"))) {
                        problems.forEach(result.putArray("messages")::add);
                    }
                    return result;
                }
                throw notFound();
            }
            case "config" -> {
                return config(method, path, query, body);
            }
            default -> throw notFound();
        }
    }

    private Object subjects(String method, List<String> path, InputStream body) {
        if (path.size() == 1) {
            return allow(method, "GET", registry.subjects());
        }
        String subject = path.get(1);
        if (path.size() == 2) {
            allow(method, "POST", null);
            return versionJson(registry.lookup(subject, schemaOf(body)));
        }
        if (!"versions".equals(path.get(2)) || path.size() > 5) {
            throw notFound();
        }
        if (path.size() == 3) {
            if ("POST".equals(method)) {
                return json.createObjectNode().put("id", registry.register(subject, schemaOf(body)));
            }
            return allow(method, "GET", registry.versions(subject));
        }
        allow(method, "GET", null);
        StoredSchema version = registry.version(subject, path.get(3));
        if (path.size() == 5) {
            if (!"schema".equals(path.get(4))) {
                throw notFound();
            }
            return rawSchema(version.schema());
        }
        return versionJson(version);
    }

    private Object schemas(String method, List<String> path) {
        allow(method, "GET", null);
        if (path.size() == 1) {
            ArrayNode all = json.createArrayNode();
            registry.allVersions().forEach(v -> all.addObject().put("subject", v.subject()).put("version", v.version())
                    .put("id", v.id()).put("schema", v.schema()));
            return all;
        }
        if (path.size() == 2 && "types".equals(path.get(1))) {
            return List.of("AVRO");
        }
        if (path.size() < 3 || path.size() > 4 || !"ids".equals(path.get(1))) {
            throw notFound();
        }
        int id;
        try {
            id = Integer.parseInt(path.get(2));
        } catch (NumberFormatException e) {
            throw new SchemaRegistryException(RegistryError.SCHEMA_NOT_FOUND, "Schema " + path.get(2) + " not found");
        }
        if (path.size() == 3) {
            return json.createObjectNode().put("schema", registry.schemaById(id));
        }
        return switch (path.get(3)) {
            case "schema" -> rawSchema(registry.schemaById(id));
            case "versions" -> {
                ArrayNode uses = json.createArrayNode();
                registry.usesOf(id).forEach(v -> uses.addObject().put("subject", v.subject()).put("version", v.version()));
                yield uses;
            }
            default -> throw notFound();
        };
    }

    private Object config(String method, List<String> path, Map<String, String> query, InputStream body) {
        if (path.size() > 2) {
            throw notFound();
        }
        String subject = path.size() == 2 ? path.get(1) : null;
        if ("PUT".equals(method)) {
            String level = readBody(body).path("compatibility").asText(null);
            return json.createObjectNode().put("compatibility", registry.setLevel(subject, level).name());
        }
        allow(method, "GET", null);
        var level = subject == null ? registry.globalLevel()
                : registry.subjectLevel(subject, Boolean.parseBoolean(query.get("defaultToGlobal")));
        return json.createObjectNode().put("compatibilityLevel", level.name());
    }

    private ObjectNode versionJson(StoredSchema version) {
        return json.createObjectNode().put("subject", version.subject()).put("version", version.version())
                .put("id", version.id()).put("schema", version.schema());
    }

    private JsonNode rawSchema(String schema) {
        try {
            return json.readTree(schema);
        } catch (IOException e) {
            throw new SchemaRegistryException(RegistryError.INVALID_SCHEMA, "stored schema is not JSON: " + e.getMessage());
        }
    }

    /** The "schema" of a request body; only Avro without references is served. */
    private String schemaOf(InputStream body) {
        JsonNode request = readBody(body);
        String type = request.path("schemaType").asText("AVRO");
        if (!"AVRO".equals(type)) {
            throw new SchemaRegistryException(RegistryError.INVALID_SCHEMA, "Unsupported schema type " + type
                    + ": this registry serves AVRO only");
        }
        if (request.path("references").size() > 0) {
            throw new SchemaRegistryException(RegistryError.INVALID_SCHEMA, "Schema references are not supported");
        }
        return request.path("schema").asText(null);
    }

    private JsonNode readBody(InputStream body) {
        try {
            JsonNode node = json.readTree(body);
            if (node == null || !node.isObject()) {
                throw new IOException("expected a JSON object");
            }
            return node;
        } catch (IOException e) {
            throw new SchemaRegistryException(RegistryError.UNPROCESSABLE_ENTITY,
                    "Unprocessable entity: the request body is not a JSON object: " + e.getMessage());
        }
    }

    private static <T> T allow(String method, String allowed, T answer) {
        if (!allowed.equals(method)) {
            throw new SchemaRegistryException(RegistryError.METHOD_NOT_ALLOWED, "HTTP 405 Method Not Allowed");
        }
        return answer;
    }

    private static SchemaRegistryException notFound() {
        return new SchemaRegistryException(RegistryError.NOT_FOUND, "HTTP 404 Not Found");
    }

    private ObjectNode error(int code, String message) {
        return json.createObjectNode().put("error_code", code).put("message", message);
    }

    private static List<String> segments(String rawPath) {
        List<String> segments = new ArrayList<>();
        for (String segment : rawPath.split("/")) {
            if (!segment.isEmpty()) {
                segments.add(URLDecoder.decode(segment, StandardCharsets.UTF_8));
            }
        }
        return segments;
    }

    private static Map<String, String> query(String rawQuery) {
        Map<String, String> query = new HashMap<>();
        if (rawQuery != null) {
            for (String pair : rawQuery.split("&")) {
                int eq = pair.indexOf('=');
                String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                query.put(key, eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return query;
    }

    @Override
    public void close() {
        http.stop(0);
        executor.shutdownNow();
        store.close();
    }

    @Command(name = "schema-registry", mixinStandardHelpOptions = true,
            description = "Serves the Confluent Schema Registry REST API over schemas stored in a Kafka topic.")
    public static final class Main implements java.util.concurrent.Callable<Integer> {
        @Option(names = "--bootstrap-servers", required = true, description = "Kafka cluster to store schemas in.")
        String bootstrapServers;
        @Option(names = "--topic", defaultValue = DEFAULT_TOPIC, description = "Schema topic (default: ${DEFAULT-VALUE}).")
        String topic;
        @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
        String host;
        @Option(names = "--port", defaultValue = "8081", description = "Port to listen on (default: ${DEFAULT-VALUE}).")
        int port;
        @Option(names = "--basic-auth", paramLabel = "USER:PASSWORD", defaultValue = "${env:PACED_RL_REGISTRY_BASIC_AUTH}",
                description = "Serve only clients with these credentials (HTTP basic auth). Env: PACED_RL_REGISTRY_BASIC_AUTH.")
        String basicAuth;
        @Option(names = "--tls-keystore", paramLabel = "FILE", description = "Serve HTTPS with the key and certificate of this "
                + "PKCS12 key store.")
        Path tlsKeyStore;
        @Option(names = "--tls-keystore-password", paramLabel = "PASSWORD", defaultValue = "${env:PACED_RL_REGISTRY_TLS_PASSWORD:-}",
                description = "Its password. Env: PACED_RL_REGISTRY_TLS_PASSWORD.")
        String tlsPassword;
        @Mixin
        ClientOptions client;

        @Override
        public Integer call() throws Exception {
            client.apply();
            SchemaRegistryServer server = start(bootstrapServers, topic, host, port, basicAuth,
                    tlsKeyStore == null ? null : HttpServers.serverTls(tlsKeyStore, tlsPassword));
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.close();
                stopped.countDown();
            }));
            System.out.println("schema registry listening on " + server.url() + " (Ctrl-C stops it)");
            stopped.await();
            return 0;
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }
}
