package io.pacedrl.embedded;

import io.pacedrl.embedded.KafkaSchemaStore.StoredSchema;
import io.pacedrl.registry.CompatibilityLevel;
import io.pacedrl.registry.RegistryError;
import io.pacedrl.registry.SchemaRegistryException;
import java.util.List;
import java.util.Optional;
import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;

/**
 * The registry's rules, as Confluent's Schema Registry applies them: a schema has one global id
 * however many subjects use it; registering a schema a subject already has returns its id without a
 * new version; a new version must pass the subject's compatibility level (or the global one).
 */
final class SchemaRegistry {
    private final KafkaSchemaStore store;

    SchemaRegistry(KafkaSchemaStore store) {
        this.store = store;
    }

    /** Registers {@code schemaText} under {@code subject} and returns its global id. */
    synchronized int register(String subject, String schemaText) {
        Schema schema = parse(schemaText);
        String canonical = schema.toString();
        List<StoredSchema> versions = store.liveVersions(subject);
        for (StoredSchema version : versions) {
            if (canonical.equals(canonicalOrNull(version.schema()))) {
                return version.id();
            }
        }
        CompatibilityLevel level = level(subject);
        List<String> problems = level.incompatibilities(schema, parseAll(versions));
        if (!problems.isEmpty()) {
            throw new SchemaRegistryException(RegistryError.INCOMPATIBLE_SCHEMA, "Schema being registered is "
                    + "incompatible with an earlier schema for subject \"" + subject + "\" (compatibility "
                    + level + "), details: " + problems);
        }
        int id = store.idOfCanonicalSchema(canonical).orElse(store.maxId() + 1);
        store.putSchema(new StoredSchema(subject, store.maxVersion(subject) + 1, id, canonical, false));
        return id;
    }

    /** The live version of {@code subject} whose schema is {@code schemaText}. */
    StoredSchema lookup(String subject, String schemaText) {
        String canonical = parse(schemaText).toString();
        List<StoredSchema> versions = requireSubject(subject);
        return versions.stream().filter(v -> canonical.equals(canonicalOrNull(v.schema()))).findFirst()
                .orElseThrow(() -> new SchemaRegistryException(RegistryError.SCHEMA_NOT_FOUND, "Schema not found"));
    }

    List<String> subjects() {
        return store.subjects();
    }

    List<Integer> versions(String subject) {
        return requireSubject(subject).stream().map(StoredSchema::version).toList();
    }

    /** A version of a subject: a positive number, or "latest" / -1. */
    StoredSchema version(String subject, String version) {
        List<StoredSchema> versions = requireSubject(subject);
        if ("latest".equals(version) || "-1".equals(version)) {
            return versions.get(versions.size() - 1);
        }
        int number = parseVersion(version);
        return versions.stream().filter(v -> v.version() == number).findFirst()
                .orElseThrow(() -> new SchemaRegistryException(RegistryError.VERSION_NOT_FOUND,
                        "Version " + number + " not found."));
    }

    String schemaById(int id) {
        return store.schemaById(id).orElseThrow(() -> new SchemaRegistryException(RegistryError.SCHEMA_NOT_FOUND,
                "Schema " + id + " not found"));
    }

    /** Changes whenever a schema, a version or a setting does. */
    long position() {
        return store.position();
    }

    List<StoredSchema> allVersions() {
        return store.allVersions();
    }

    List<StoredSchema> usesOf(int id) {
        schemaById(id);
        return store.usesOf(id);
    }

    /**
     * Why {@code schemaText} may not be registered next in {@code subject}: against one given version,
     * or (version null) against what the subject's level compares with. Empty means compatible.
     */
    List<String> compatibilityProblems(String subject, String version, String schemaText) {
        Schema schema = parse(schemaText);
        if (version == null) {
            return level(subject).incompatibilities(schema, parseAll(store.liveVersions(subject)));
        }
        StoredSchema against = version(subject, version);
        return level(subject).incompatibilities(schema, List.of(parse(against.schema())));
    }

    CompatibilityLevel globalLevel() {
        return store.globalLevel();
    }

    CompatibilityLevel level(String subject) {
        return store.subjectLevel(subject).orElse(store.globalLevel());
    }

    /** The level set on the subject itself; 40408 when it has none and the caller does not want the global one. */
    CompatibilityLevel subjectLevel(String subject, boolean defaultToGlobal) {
        return store.subjectLevel(subject).or(() -> defaultToGlobal ? Optional.of(store.globalLevel())
                : Optional.empty()).orElseThrow(() -> new SchemaRegistryException(
                RegistryError.SUBJECT_COMPATIBILITY_NOT_CONFIGURED,
                "Subject '" + subject + "' does not have subject-level compatibility configured"));
    }

    /** Sets the level of {@code subject}, or the global one when it is null. */
    CompatibilityLevel setLevel(String subject, String level) {
        CompatibilityLevel parsed;
        try {
            parsed = CompatibilityLevel.parse(level);
        } catch (IllegalArgumentException e) {
            throw new SchemaRegistryException(RegistryError.INVALID_COMPATIBILITY_LEVEL,
                    "Invalid compatibility level. " + e.getMessage());
        }
        store.putLevel(subject, parsed);
        return parsed;
    }

    private List<StoredSchema> requireSubject(String subject) {
        List<StoredSchema> versions = store.liveVersions(subject);
        if (versions.isEmpty()) {
            throw new SchemaRegistryException(RegistryError.SUBJECT_NOT_FOUND, "Subject '" + subject + "' not found.");
        }
        return versions;
    }

    private static int parseVersion(String version) {
        try {
            int number = Integer.parseInt(version);
            if (number >= 1) {
                return number;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new SchemaRegistryException(RegistryError.INVALID_VERSION, "The specified version '" + version
                + "' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"");
    }

    private static Schema parse(String schemaText) {
        if (schemaText == null || schemaText.isBlank()) {
            throw new SchemaRegistryException(RegistryError.INVALID_SCHEMA, "Empty schema");
        }
        try {
            return new Schema.Parser().parse(schemaText);
        } catch (SchemaParseException e) {
            throw new SchemaRegistryException(RegistryError.INVALID_SCHEMA, "Invalid schema: " + e.getMessage());
        }
    }

    private static List<Schema> parseAll(List<StoredSchema> versions) {
        return versions.stream().map(v -> parse(v.schema())).toList();
    }

    private static String canonicalOrNull(String schema) {
        try {
            return KafkaSchemaStore.canonical(schema);
        } catch (RuntimeException e) {
            return null;
        }
    }
}
