package io.pacedrl.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.apache.avro.Schema;
import org.junit.jupiter.api.Test;

class CompatibilityLevelTest {
    static Schema schema(String fields) {
        return new Schema.Parser().parse(("{'type':'record','name':'T','fields':[" + fields + "]}").replace('\'', '"'));
    }

    static final Schema A = schema("{'name':'a','type':'int'}");
    // adds a field with a default: old data reads (backward) and old readers ignore it (forward)
    static final Schema A_B_DEFAULT = schema("{'name':'a','type':'int'},{'name':'b','type':'int','default':0}");
    // adds a field without a default: new readers cannot read old data
    static final Schema A_B = schema("{'name':'a','type':'int'},{'name':'b','type':'int'}");
    // drops a: old readers need it
    static final Schema B_DEFAULT = schema("{'name':'b','type':'int','default':0}");

    @Test
    void backwardMeansTheNewSchemaReadsOldData() {
        assertTrue(CompatibilityLevel.BACKWARD.incompatibilities(A_B_DEFAULT, List.of(A)).isEmpty());
        List<String> problems = CompatibilityLevel.BACKWARD.incompatibilities(A_B, List.of(A));
        assertEquals(1, problems.size());
        assertTrue(problems.get(0).contains("READER_FIELD_MISSING_DEFAULT_VALUE"), problems.get(0));
        assertTrue(problems.get(0).startsWith("backward: the new schema cannot read data written with version 1"));
        assertTrue(CompatibilityLevel.BACKWARD.incompatibilities(B_DEFAULT, List.of(A)).isEmpty());
    }

    @Test
    void forwardMeansOldReadersReadNewData() {
        assertTrue(CompatibilityLevel.FORWARD.incompatibilities(A_B, List.of(A)).isEmpty());
        assertFalse(CompatibilityLevel.FORWARD.incompatibilities(B_DEFAULT, List.of(A)).isEmpty());
    }

    @Test
    void fullNeedsBothAndNoneNeedsNothing() {
        assertTrue(CompatibilityLevel.FULL.incompatibilities(A_B_DEFAULT, List.of(A)).isEmpty());
        assertFalse(CompatibilityLevel.FULL.incompatibilities(A_B, List.of(A)).isEmpty());
        assertFalse(CompatibilityLevel.FULL.incompatibilities(B_DEFAULT, List.of(A)).isEmpty());
        assertTrue(CompatibilityLevel.NONE.incompatibilities(schema("{'name':'z','type':'string'}"), List.of(A)).isEmpty());
    }

    @Test
    void transitiveLevelsCheckEveryEarlierVersion() {
        Schema v1 = schema("{'name':'a','type':'int'}");
        Schema v2 = schema("{'name':'b','type':'int','default':0}");
        // reads v2 data (a takes its default) but not v1 data (a was an int)
        Schema v3 = schema("{'name':'a','type':'string','default':''},{'name':'b','type':'int','default':0}");
        assertTrue(CompatibilityLevel.BACKWARD.incompatibilities(v3, List.of(v1, v2)).isEmpty(),
                "non-transitive: only the latest version counts");
        List<String> transitive = CompatibilityLevel.BACKWARD_TRANSITIVE.incompatibilities(v3, List.of(v1, v2));
        assertEquals(1, transitive.size(), transitive.toString());
        assertTrue(transitive.get(0).contains("version 1"), transitive.get(0));
    }

    @Test
    void parsesLevelsAsTheRestApiSpellsThem() {
        assertEquals(CompatibilityLevel.FULL_TRANSITIVE, CompatibilityLevel.parse("full_transitive"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CompatibilityLevel.parse("SIDEWAYS"));
        assertTrue(e.getMessage().contains("BACKWARD"), e.getMessage());
    }
}
