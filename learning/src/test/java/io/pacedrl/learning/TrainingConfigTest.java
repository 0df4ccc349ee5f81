package io.pacedrl.learning;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class TrainingConfigTest {

    @Test
    void exploreShareIsRoundedDownToWholePromptsAndCheckedByName() {
        assertEquals(8, TrainingConfig.defaults().explorePerBatch(), "a quarter of 32");
        assertEquals(3, TrainingConfig.defaults().with(Map.of("prompts-per-step", 10, "explore-share", 0.3)).explorePerBatch());
        assertEquals(0, TrainingConfig.defaults().with(Map.of("prompts-per-step", 3, "explore-share", 0.25)).explorePerBatch());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> TrainingConfig.defaults().with(Map.of("explore-share", 1.5)));
        assertTrue(bad.getMessage().startsWith("explore-share must be in [0.0, 1.0]"), bad.getMessage());
    }

    @Test
    void aConfigurationRecordedBeforeExploringExistedReadsAsTheNearestTauRule() {
        TrainingConfig config = TrainingConfig.defaults().with(Map.of("seed", 4));
        assertEquals(config, TrainingConfig.fromJson(config.toJson()), "a recorded configuration reads back as it was");
        String before = config.toJson().replace("\"explore-share\":0.25,", "");
        assertFalse(before.contains("explore-share"), before);
        assertEquals(0.0, TrainingConfig.fromJson(before).exploreShare());
        assertEquals(config.with(Map.of("explore-share", 0.0)), TrainingConfig.fromJson(before));
    }

    @Test
    void aConfigurationRecordedBeforeZPhisMemoryExistedReadsAsFittingTheFreshBatchAlone() {
        TrainingConfig config = TrainingConfig.defaults().with(Map.of("seed", 4));
        String before = config.toJson().replace("\"partition-memory\":16,", "");
        assertFalse(before.contains("partition-memory"), before);
        assertEquals(config.with(Map.of("partition-memory", 0)), TrainingConfig.fromJson(before));
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> TrainingConfig.defaults().with(Map.of("partition-memory", -1)));
        assertEquals("partition-memory must be ≥ 0, got -1", bad.getMessage());
    }

    @Test
    void aConfigurationRecordedBeforeCopiesOfZPhiExistedReadsAsScoringWithZPhiNowAlone() {
        TrainingConfig config = TrainingConfig.defaults().with(Map.of("partition-copy-every", 20, "partition-copies", 4));
        assertEquals(config, TrainingConfig.fromJson(config.toJson()));
        String before = config.toJson().replace("\"partition-copy-every\":20,", "").replace("\"partition-copies\":4,", "");
        assertFalse(before.contains("partition-cop"), before);
        assertEquals(config.with(Map.of("partition-copy-every", 0, "partition-copies", 0)), TrainingConfig.fromJson(before));
        IllegalArgumentException noStride = assertThrows(IllegalArgumentException.class,
                () -> TrainingConfig.defaults().with(Map.of("partition-copy-every", 0, "partition-copies", 2)));
        assertTrue(noStride.getMessage().startsWith("partition-copies = 2 needs partition-copy-every"), noStride.getMessage());
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
                () -> TrainingConfig.defaults().with(Map.of("partition-copies", -1)));
        assertEquals("partition-copies must be ≥ 0, got -1", negative.getMessage());
    }
}
