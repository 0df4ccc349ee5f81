package io.pacedrl.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;

/**
 * A client of the Confluent Schema Registry REST API (the subset every Confluent-protocol registry
 * serves: subjects, versions, schemas by id, compatibility, config). Ids are immutable in that
 * protocol, so the schema-to-id and id-to-schema answers are cached for the life of the client.
 */
public final class SchemaRegistryClient {
    static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";

    /** A schema registered under a subject: its version there and its global id. */
    public record SubjectVersion(String subject, int version, int id, Schema schema) {}

    /** The registry's answer to "may this schema follow the subject's versions?". */
    public record CompatibilityCheck(boolean compatible, List<String> messages) {}

    private final URI baseUri;
    private final HttpClient http;
    private final ObjectMapper json = new ObjectMapper();
    private final Duration requestTimeout;
    /** Basic auth from the process's client settings, or null. */
    private final String authorization;
    private final Map<String, Map<Schema, Integer>> idsBySubject = new ConcurrentHashMap<>();
    private final Map<Integer, Schema> schemasById = new ConcurrentHashMap<>();

    public SchemaRegistryClient(String url) {
        // As long as the embedded registry itself waits on its store topic, so a slow but successful
        // registration on a loaded machine is not cut off by the client first.
        this(url, Duration.ofSeconds(30));
    }

    public SchemaRegistryClient(String url, Duration requestTimeout) {
        this.baseUri = parseUrl(url);
        this.requestTimeout = requestTimeout;
        HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
        if ("https".equals(baseUri.getScheme())) {
            builder.sslContext(ClientSettings.registrySslContext());
        }
        this.http = builder.build();
        this.authorization = ClientSettings.registryAuthorization().orElse(null);
    }

    /** The registry's base URI; fails, naming the URL, unless it is http(s)://host[:port][/path]. */
    public static URI parseUrl(String url) {
        try {
            URI uri = URI.create(url.endsWith("/") ? url.substring(0, url.length() - 1) : url);
            if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme()) || uri.getHost() == null) {
                throw new IllegalArgumentException("not an http(s) URL");
            }
            return uri;
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new IllegalArgumentException("schema registry URL '" + url + "' is invalid: expected "
                    + "http(s)://host:port", e);
        }
    }

    public String url() {
        return baseUri.toString();
    }

    /** Registers {@code schema} under {@code subject} (a no-op if it is already there) and returns its id. */
    public int register(String subject, Schema schema) {
        return idsBySubject.computeIfAbsent(subject, s -> new ConcurrentHashMap<>())
                .computeIfAbsent(schema, s -> {
                    ObjectNode body = json.createObjectNode().put("schema", s.toString());
                    int id = call("POST", "/subjects/" + encode(subject) + "/versions", body).get("id").asInt();
                    schemasById.putIfAbsent(id, s);
                    return id;
                });
    }

    /** The id of {@code schema} under {@code subject}, without registering it. */
    public int idOf(String subject, Schema schema) {
        return idsBySubject.computeIfAbsent(subject, s -> new ConcurrentHashMap<>())
                .computeIfAbsent(schema, s -> {
                    ObjectNode body = json.createObjectNode().put("schema", s.toString());
                    int id = call("POST", "/subjects/" + encode(subject), body).get("id").asInt();
                    schemasById.putIfAbsent(id, s);
                    return id;
                });
    }

    /**
     * The ids the registry had issued when listed, when the listing was asked for (System.nanoTime()),
     * and the listing's entity tag where the registry gives one (null otherwise).
     */
    private record IssuedIds(long askedAtNanos, Set<Integer> ids, String entityTag) {}

    /** The last listing; null before the first, or once the registry has refused to list. */
    private volatile IssuedIds issued = new IssuedIds(Long.MIN_VALUE, Set.of(), null);

    /**
     * Whether the registry has issued schema id {@code id}, asked for a record that was already
     * received at {@code receivedAtNanos} (System.nanoTime()). A producer registers its schema before
     * writing with it, so an id missing from a listing asked for after the record arrived was never
     * issued for it: a flood of records with made-up ids costs one listing per poll, not one request
     * per record. A registry that tags its listing (an ETag, as the embedded one does) answers a
     * listing that has not changed with 304 and no body, so a flood costs a round trip per poll, not
     * the whole listing. A registry that cannot list ids (GET /schemas) is asked for the id itself.
     */
    public boolean issued(int id, long receivedAtNanos) {
        if (schemasById.containsKey(id)) {
            return true;
        }
        IssuedIds known = issued;
        if (known != null && known.ids().contains(id)) {
            return true;
        }
        if (known != null && known.askedAtNanos() <= receivedAtNanos) {
            known = listIssued(receivedAtNanos);
        }
        if (known == null) {
            try {
                schemaById(id);
                return true;
            } catch (SchemaRegistryException e) {
                if (e.is(RegistryError.SCHEMA_NOT_FOUND)) {
                    return false;
                }
                throw e;
            }
        }
        return known.ids().contains(id);
    }

    private synchronized IssuedIds listIssued(long receivedAtNanos) {
        if (issued == null || issued.askedAtNanos() > receivedAtNanos) {
            return issued; // another thread listed meanwhile
        }
        long asked = System.nanoTime();
        IssuedIds previous = issued;
        IssuedIds listed;
        try {
            String path = "/schemas?deleted=true";
            HttpResponse<String> response = send("GET", path, null, previous.entityTag());
            if (response.statusCode() == 304 && previous.entityTag() != null) {
                listed = new IssuedIds(asked, previous.ids(), previous.entityTag());
            } else {
                Set<Integer> ids = new HashSet<>();
                answer(response, "GET " + path).forEach(schema -> ids.add(schema.path("id").asInt()));
                listed = new IssuedIds(asked, ids, response.headers().firstValue("ETag").orElse(null));
            }
        } catch (SchemaRegistryException e) {
            if (e instanceof SchemaRegistryUnavailableException || e.httpStatus() != 404) {
                throw e;
            }
            listed = null; // an older registry without the listing
        }
        issued = listed;
        return listed;
    }

    /** The writer schema with global id {@code id}. */
    public Schema schemaById(int id) {
        return schemasById.computeIfAbsent(id,
                i -> parse(call("GET", "/schemas/ids/" + i, null).get("schema").asText(), "schema id " + i));
    }

    /** A version of a subject: a number, or "latest". */
    public SubjectVersion version(String subject, String version) {
        JsonNode node = call("GET", "/subjects/" + encode(subject) + "/versions/" + encode(version), null);
        return new SubjectVersion(node.get("subject").asText(), node.get("version").asInt(),
                node.get("id").asInt(), parse(node.get("schema").asText(), subject + " v" + version));
    }

    public List<Integer> versions(String subject) {
        List<Integer> versions = new ArrayList<>();
        call("GET", "/subjects/" + encode(subject) + "/versions", null).forEach(v -> versions.add(v.asInt()));
        return versions;
    }

    public List<String> subjects() {
        List<String> subjects = new ArrayList<>();
        call("GET", "/subjects", null).forEach(s -> subjects.add(s.asText()));
        return subjects;
    }

    /** Asks whether {@code schema} may be registered as the next version of {@code subject}. */
    public CompatibilityCheck testCompatibility(String subject, Schema schema) {
        ObjectNode body = json.createObjectNode().put("schema", schema.toString());
        JsonNode node = call("POST", "/compatibility/subjects/" + encode(subject) + "/versions/latest?verbose=true", body);
        List<String> messages = new ArrayList<>();
        node.path("messages").forEach(m -> messages.add(m.asText()));
        return new CompatibilityCheck(node.get("is_compatible").asBoolean(), messages);
    }

    public CompatibilityLevel compatibility() {
        return CompatibilityLevel.parse(call("GET", "/config", null).get("compatibilityLevel").asText());
    }

    public void setCompatibility(CompatibilityLevel level) {
        call("PUT", "/config", json.createObjectNode().put("compatibility", level.name()));
    }

    public void setCompatibility(String subject, CompatibilityLevel level) {
        call("PUT", "/config/" + encode(subject), json.createObjectNode().put("compatibility", level.name()));
    }

    private JsonNode call(String method, String path, JsonNode body) {
        return answer(send(method, path, body, null), method + " " + path);
    }

    /** Sends a request; with {@code ifNoneMatch}, a conditional one (RFC 9110 §13.1.2). */
    private HttpResponse<String> send(String method, String path, JsonNode body, String ifNoneMatch) {
        String what = method + " " + path + " at " + baseUri;
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUri + path))
                .timeout(requestTimeout)
                .header("Accept", CONTENT_TYPE + ", application/json");
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        if (ifNoneMatch != null) {
            request.header("If-None-Match", ifNoneMatch);
        }
        if (body != null) {
            request.header("Content-Type", CONTENT_TYPE)
                    .method(method, HttpRequest.BodyPublishers.ofString(body.toString()));
        } else {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new SchemaRegistryUnavailableException("schema registry unreachable: " + what + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SchemaRegistryUnavailableException("interrupted during " + what, e);
        }
        return response;
    }

    /** The JSON a response carries; throws for a refusal or an error status. */
    private JsonNode answer(HttpResponse<String> response, String request) {
        String what = request + " at " + baseUri;
        if (response.statusCode() == 401 || response.statusCode() == 403) {
            throw new SchemaRegistryException(response.statusCode(), response.statusCode(), "the schema registry refused "
                    + (authorization == null ? "a client without credentials" : "these credentials") + " (HTTP " + response.statusCode()
                    + ", " + what + "); give them as " + ClientSettings.USER_INFO + "=USER:PASSWORD (-X or --command-config)", null);
        }
        JsonNode answer = readJson(response.body(), what);
        if (response.statusCode() >= 400) {
            int code = answer.path("error_code").asInt(response.statusCode());
            String message = answer.path("message").asText(response.body());
            throw new SchemaRegistryException(response.statusCode(), code, message + " (" + what + ")", null);
        }
        return answer;
    }

    private JsonNode readJson(String body, String what) {
        try {
            return body.isBlank() ? json.createObjectNode() : json.readTree(body);
        } catch (IOException e) {
            throw new SchemaRegistryException(502, 0, "schema registry answered " + what
                    + " with something that is not JSON: " + abbreviate(body), e);
        }
    }

    private static Schema parse(String schema, String what) {
        try {
            return new Schema.Parser().parse(schema);
        } catch (SchemaParseException e) {
            throw new SchemaRegistryException(502, 0, "registry returned an unparseable Avro schema for "
                    + what + ": " + e.getMessage(), e);
        }
    }

    private static String encode(String segment) {
        return URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static String abbreviate(String s) {
        return s.length() <= 200 ? s : s.substring(0, 200) + "...";
    }
}
