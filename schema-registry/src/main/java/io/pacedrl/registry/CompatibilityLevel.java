package io.pacedrl.registry;

import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;
import org.apache.avro.SchemaCompatibility.Incompatibility;

/**
 * Schema evolution rules, with the names and meaning Confluent's registry gives them. BACKWARD: the
 * new schema can read data written with the latest one (consumers upgrade first); FORWARD: the
 * latest can read data written with the new one; FULL: both. The _TRANSITIVE variants check every
 * earlier version rather than the latest only. The checks are Avro's own {@link SchemaCompatibility}.
 */
public enum CompatibilityLevel {
    NONE(false, false, false),
    BACKWARD(true, false, false),
    BACKWARD_TRANSITIVE(true, false, true),
    FORWARD(false, true, false),
    FORWARD_TRANSITIVE(false, true, true),
    FULL(true, true, false),
    FULL_TRANSITIVE(true, true, true);

    private final boolean backward;
    private final boolean forward;
    private final boolean transitive;

    CompatibilityLevel(boolean backward, boolean forward, boolean transitive) {
        this.backward = backward;
        this.forward = forward;
        this.transitive = transitive;
    }

    /** Parses a level as the REST API spells it, failing with the list of valid ones. */
    public static CompatibilityLevel parse(String name) {
        for (CompatibilityLevel level : values()) {
            if (level.name().equalsIgnoreCase(name == null ? "" : name.trim())) {
                return level;
            }
        }
        throw new IllegalArgumentException(
                "unknown compatibility level '" + name + "'; expected one of " + List.of(values()));
    }

    /**
     * Why {@code candidate} may not follow {@code earlier} (oldest first) under this level; an empty
     * list means it may.
     */
    public List<String> incompatibilities(Schema candidate, List<Schema> earlier) {
        List<String> problems = new ArrayList<>();
        if (earlier.isEmpty()) {
            return problems;
        }
        int first = transitive ? 0 : earlier.size() - 1;
        for (int i = first; i < earlier.size(); i++) {
            Schema old = earlier.get(i);
            String against = "version " + (i + 1);
            if (backward) {
                for (String problem : readProblems(candidate, old)) {
                    problems.add("backward: the new schema cannot read data written with " + against + ": " + problem);
                }
            }
            if (forward) {
                for (String problem : readProblems(old, candidate)) {
                    problems.add("forward: " + against + " cannot read data written with the new schema: " + problem);
                }
            }
        }
        return problems;
    }

    /** Why data written with {@code writer} cannot be read with {@code reader}; empty when it can. */
    public static List<String> readProblems(Schema reader, Schema writer) {
        List<String> problems = new ArrayList<>();
        for (Incompatibility incompatibility
                : SchemaCompatibility.checkReaderWriterCompatibility(reader, writer).getResult().getIncompatibilities()) {
            problems.add(incompatibility.getType() + " at " + incompatibility.getLocation() + ": "
                    + incompatibility.getMessage());
        }
        return problems;
    }
}
