package io.pacedrl.embedded;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.registry.CompatibilityLevel;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.registry.SchemaRegistryException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import org.apache.avro.Schema;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.function.Executable;

/** The registry against a real broker, spoken to over its REST API as any Confluent client would. */
class SchemaRegistryServerTest {
    @TempDir
    static Path dataDir;
    static EmbeddedKafkaBroker broker;
    static SchemaRegistryServer server;

    static final Schema V1 = schema("{'name':'id','type':'string'}");
    static final Schema V2 = schema("{'name':'id','type':'string'},{'name':'note','type':['null','string'],'default':null}");
    static final Schema V2_BREAKING = schema("{'name':'id','type':'string'},{'name':'count','type':'int'}");

    static Schema schema(String fields) {
        return new Schema.Parser().parse(("{'type':'record','name':'Thing','namespace':'test','fields':[" + fields + "]}")
                .replace('\'', '"'));
    }

    @BeforeAll
    static void start() throws Exception {
        broker = EmbeddedKafkaBroker.start(dataDir.resolve("kafka"), true);
        server = SchemaRegistryServer.start(broker.bootstrapServers(), "_schemas", "127.0.0.1", 0);
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        broker.close();
    }

    /** A fresh client each time, so answers come from the server, not a client cache. */
    static SchemaRegistryClient client() {
        return new SchemaRegistryClient(server.url());
    }

    @Test
    void registersSchemasWithGlobalIdsAndVersions() {
        int id1 = client().register("things-value", V1);
        assertEquals(id1, client().register("things-value", V1), "re-registering returns the same id");
        assertEquals(List.of(1), client().versions("things-value"), "and adds no version");

        int id2 = client().register("things-value", V2);
        assertNotEquals(id1, id2);
        assertEquals(List.of(1, 2), client().versions("things-value"));
        SchemaRegistryClient.SubjectVersion latest = client().version("things-value", "latest");
        assertEquals(2, latest.version());
        assertEquals(id2, latest.id());
        assertEquals(V2, latest.schema());

        assertEquals(id1, client().register("other-things-value", V1), "one schema, one id, in every subject");
        assertEquals(V1, client().schemaById(id1));
        assertEquals(id2, client().idOf("things-value", V2));
        assertTrue(client().subjects().containsAll(List.of("things-value", "other-things-value")));
    }

    @Test
    void refusesAnIncompatibleChangeWithAClearError() {
        client().register("strict-value", V1);
        SchemaRegistryException refused = assertThrows(SchemaRegistryException.class,
                () -> client().register("strict-value", V2_BREAKING));
        assertEquals(409, refused.httpStatus());
        assertEquals(409, refused.errorCode());
        assertTrue(refused.getMessage().contains("incompatible"), refused.getMessage());
        assertTrue(refused.getMessage().contains("READER_FIELD_MISSING_DEFAULT_VALUE"), refused.getMessage());
        assertTrue(refused.getMessage().contains("count"), "names the field: " + refused.getMessage());
        assertEquals(List.of(1), client().versions("strict-value"), "nothing was registered");

        SchemaRegistryClient.CompatibilityCheck check = client().testCompatibility("strict-value", V2_BREAKING);
        assertFalse(check.compatible());
        assertTrue(check.messages().get(0).contains("count"), check.messages().toString());
        assertTrue(client().testCompatibility("strict-value", V2).compatible());

        client().setCompatibility("strict-value", CompatibilityLevel.NONE);
        client().register("strict-value", V2_BREAKING);
        assertEquals(List.of(1, 2), client().versions("strict-value"), "NONE lets any change through");
    }

    @Test
    void answersErrorsWithConfluentErrorCodes() throws Exception {
        client().register("known-value", V1);
        assertError(404, 40401, () -> client().versions("no-such-subject"));
        assertError(404, 40403, () -> client().schemaById(987654));
        assertError(404, 40402, () -> client().version("known-value", "99"));
        assertError(422, 42202, () -> client().version("known-value", "first"));
        assertError(404, 40403, () -> client().idOf("known-value", V2));

        assertEquals(422, http("POST", "/subjects/x-value/versions", "{\"schema\":\"{not avro\"}").statusCode());
        assertTrue(http("POST", "/subjects/x-value/versions", "{\"schema\":\"{not avro\"}").body().contains("42201"));
        assertTrue(http("PUT", "/config", "{\"compatibility\":\"SIDEWAYS\"}").body().contains("42203"));
        assertEquals(422, http("POST", "/subjects/x-value/versions", "this is not json").statusCode());
        assertEquals(405, http("DELETE", "/subjects/known-value", null).statusCode());
        assertEquals(404, http("GET", "/no/such/route", null).statusCode());
        HttpResponse<String> noLevel = http("GET", "/config/known-value", null);
        assertEquals(404, noLevel.statusCode());
        assertTrue(noLevel.body().contains("40408"), noLevel.body());
        assertTrue(http("GET", "/config/known-value?defaultToGlobal=true", null).body().contains("BACKWARD"));
        assertTrue(http("GET", "/schemas/types", null).body().contains("AVRO"));
    }

    /** The listing consumers ask for once per poll in a flood of made-up ids: unchanged, it costs no body. */
    @Test
    void tagsTheListingAndAnswersAnUnchangedOneWithNotModified() throws Exception {
        client().register("listed-value", V1);
        HttpResponse<String> first = http("GET", "/schemas?deleted=true", null);
        assertEquals(200, first.statusCode());
        String tag = first.headers().firstValue("ETag").orElseThrow();

        HttpResponse<String> unchanged = send(HttpRequest.newBuilder(URI.create(server.url() + "/schemas?deleted=true"))
                .header("If-None-Match", tag).build());
        assertEquals(304, unchanged.statusCode());
        assertEquals("", unchanged.body());
        assertEquals(tag, unchanged.headers().firstValue("ETag").orElseThrow());

        int later = client().register("listed-later-value", schema("{'name':'y','type':'double'}"));
        HttpResponse<String> changed = send(HttpRequest.newBuilder(URI.create(server.url() + "/schemas?deleted=true"))
                .header("If-None-Match", tag).build());
        assertEquals(200, changed.statusCode());
        assertNotEquals(tag, changed.headers().firstValue("ETag").orElseThrow());
        assertTrue(changed.body().contains("\"id\":" + later), changed.body());
    }

    @Test
    void keepsIdsVersionsAndConfigAcrossARestart() throws Exception {
        int id1 = client().register("durable-value", V1);
        int id2 = client().register("durable-value", V2);
        client().setCompatibility("durable-value", CompatibilityLevel.FULL);

        server.close();
        server = SchemaRegistryServer.start(broker.bootstrapServers(), "_schemas", "127.0.0.1", 0);

        assertEquals(V1, client().schemaById(id1));
        assertEquals(V2, client().schemaById(id2));
        assertEquals(List.of(1, 2), client().versions("durable-value"));
        assertEquals(id2, client().register("durable-value", V2), "same schema, same id after restart");
        assertEquals("{\"compatibilityLevel\":\"FULL\"}", http("GET", "/config/durable-value", null).body());
        int next = client().register("after-restart-value", schema("{'name':'x','type':'long'}"));
        assertTrue(next > Math.max(id1, id2), "new ids continue after the stored ones");
    }

    static void assertError(int status, int code, Executable call) {
        SchemaRegistryException e = assertThrows(SchemaRegistryException.class, call);
        assertEquals(status, e.httpStatus(), e.getMessage());
        assertEquals(code, e.errorCode(), e.getMessage());
    }

    static HttpResponse<String> http(String method, String path, String body) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(server.url() + path))
                .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .build();
        return send(request);
    }

    static HttpResponse<String> send(HttpRequest request) throws Exception {
        return HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString());
    }
}
