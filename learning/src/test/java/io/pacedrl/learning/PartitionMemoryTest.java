package io.pacedrl.learning;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class PartitionMemoryTest {

    @Test
    void itKeepsTheNewestBatchAndTheGivenNumberBeforeItOldestFirst() {
        PartitionMemory memory = new PartitionMemory(2);
        memory.add(new int[] {1, 1}, new float[] {20, 0});
        memory.add(new int[] {2}, new float[] {0});
        memory.add(new int[] {3, 4}, new float[] {20, 20});
        assertArrayEquals(new int[] {1, 1, 2, 3, 4}, memory.prompts());
        memory.add(new int[] {5}, new float[] {-0.5f});
        assertEquals(3, memory.batches());
        assertArrayEquals(new int[] {2, 3, 4, 5}, memory.prompts(), "the oldest batch dropped out whole");
        assertArrayEquals(new float[] {0, 20, 20, -0.5f}, memory.targets());

        PartitionMemory freshOnly = new PartitionMemory(0);
        freshOnly.add(new int[] {1}, new float[] {20});
        freshOnly.add(new int[] {2}, new float[] {0});
        assertArrayEquals(new int[] {2}, freshOnly.prompts(), "partition-memory 0: the fresh batch alone");
    }

    @Test
    void whatItWroteReadsBackAndAShorterMemoryKeepsTheNewest() throws IOException {
        PartitionMemory memory = new PartitionMemory(3);
        for (int b = 0; b < 4; b++) {
            memory.add(new int[] {b, b + 1}, new float[] {b, 20 - b});
        }
        byte[] bytes = bytes(memory);
        PartitionMemory same = new PartitionMemory(3);
        same.add(new int[] {9}, new float[] {9});
        same.read(new DataInputStream(new ByteArrayInputStream(bytes)), 10);
        assertArrayEquals(memory.prompts(), same.prompts(), "what it held before is replaced");
        assertArrayEquals(memory.targets(), same.targets());
        PartitionMemory shorter = new PartitionMemory(1);
        shorter.read(new DataInputStream(new ByteArrayInputStream(bytes)), 10);
        assertArrayEquals(new int[] {2, 3, 3, 4}, shorter.prompts());
    }

    @Test
    void corruptBytesAreRefusedSayingWhy() throws IOException {
        PartitionMemory memory = new PartitionMemory(1);
        memory.add(new int[] {7, 8}, new float[] {1, 2});
        byte[] bytes = bytes(memory);
        IOException outside = assertThrows(IOException.class,
                () -> new PartitionMemory(1).read(new DataInputStream(new ByteArrayInputStream(bytes)), 8));
        assertTrue(outside.getMessage().contains("prompt 8") && outside.getMessage().contains("pool of 8"), outside.getMessage());
        byte[] truncated = Arrays.copyOf(bytes, bytes.length - 4);
        IOException shortRead = assertThrows(IOException.class,
                () -> new PartitionMemory(1).read(new DataInputStream(new ByteArrayInputStream(truncated)), 10));
        assertTrue(shortRead.getMessage().contains("does not fit"), shortRead.getMessage());
    }

    private static byte[] bytes(PartitionMemory memory) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (DataOutputStream data = new DataOutputStream(out)) {
            memory.write(data);
        }
        return out.toByteArray();
    }
}
