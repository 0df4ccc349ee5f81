package io.pacedrl.topics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.schemas.ModelUpdate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Weights split into chunks and put back together only when whole and matching their checksum. */
class ModelUpdateChunksTest {
    static byte[] bytes(int n, long seed) {
        byte[] bytes = new byte[n];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    static List<ModelUpdate> split(long version, byte[] weights) {
        return ModelUpdateChunks.split("policy", version, "test", weights, version, List.of("r1"), List.of(), 0);
    }

    @Test
    void chunksComeBackTogetherInAnyOrderOnlyOnceAllHaveArrived() {
        byte[] weights = bytes(3 * ModelUpdateChunks.CHUNK_BYTES + 17, 1);
        List<ModelUpdate> chunks = new ArrayList<>(split(4, weights));
        assertEquals(4, chunks.size());
        assertEquals(List.of("r1"), chunks.get(0).getRolloutIds());
        assertEquals(List.of(), chunks.get(1).getRolloutIds());
        Collections.shuffle(chunks, new Random(2));
        ModelUpdateChunks.Assembler assembler = new ModelUpdateChunks.Assembler("policy");
        for (int i = 0; i < 3; i++) {
            assertEquals(Optional.empty(), assembler.add(chunks.get(i)));
        }
        ModelUpdateChunks.Version version = assembler.add(chunks.get(3)).orElseThrow();
        assertEquals(4, version.version());
        assertArrayEquals(weights, version.weights());
        assertEquals(Optional.empty(), assembler.add(split(3, bytes(10, 3)).get(0)), "an older version is never taken");
        assertEquals(Optional.empty(), assembler.add(ModelUpdateChunks.split("other", 9, "test", bytes(10, 3), 9, List.of(),
                List.of(), 0).get(0)), "another model's updates are not this one's");
    }

    @Test
    void aKeySaysItsModelAndChunkOnlyWhenWrittenAsChunksAreKeyed() {
        assertEquals(Optional.of(new ModelUpdateChunks.Key("policy/partition-function", 12)),
                ModelUpdateChunks.Key.parse(ModelUpdateChunks.key("policy/partition-function", 12)));
        for (String other : new String[] {null, "policy", "policy/", "/3", "policy/x1", "policy/12345678901"}) {
            assertEquals(Optional.empty(), ModelUpdateChunks.Key.parse(other), other);
        }
    }

    @Test
    void bytesThatDoNotMatchTheChecksumAreRefusedAndTheNextGoodVersionIsTaken() {
        ModelUpdateChunks.Assembler assembler = new ModelUpdateChunks.Assembler("policy");
        List<ModelUpdate> corrupt = split(1, bytes(1000, 4));
        corrupt.get(0).getChunk().put(10, (byte) (corrupt.get(0).getChunk().get(10) ^ 1));
        ModelUpdateChunks.CorruptUpdateException e = assertThrows(ModelUpdateChunks.CorruptUpdateException.class,
                () -> assembler.add(corrupt.get(0)));
        assertEquals(1, e.version());
        assertTrue(e.getMessage().contains("hash to"), e.getMessage());
        byte[] good = bytes(1000, 5);
        assertArrayEquals(good, assembler.add(split(2, good).get(0)).orElseThrow().weights());
    }

    @Test
    void chunksThatDisagreeAreRefused() {
        ModelUpdateChunks.Assembler assembler = new ModelUpdateChunks.Assembler("policy");
        List<ModelUpdate> chunks = split(1, bytes(2 * ModelUpdateChunks.CHUNK_BYTES, 6));
        assembler.add(chunks.get(0));
        chunks.get(1).setChunkCount(3);
        assertThrows(ModelUpdateChunks.CorruptUpdateException.class, () -> assembler.add(chunks.get(1)));
        ModelUpdate empty = split(5, bytes(10, 7)).get(0);
        empty.setChunk(null);
        assertThrows(ModelUpdateChunks.CorruptUpdateException.class, () -> assembler.add(empty));
    }
}
