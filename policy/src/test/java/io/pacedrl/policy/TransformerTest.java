package io.pacedrl.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.GradientCollector;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TransformerTest {
    private static final CharTokenizer TOKENIZER = CharTokenizer.ASCII;
    private static final Transformer.Config SMALL = new Transformer.Config(TOKENIZER.vocabularySize(), 32, 2, 4, 24, 0f, true);
    private static NDManager manager;

    @BeforeAll
    static void engine() {
        Torch.configure(1);
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void release() {
        manager.close();
    }

    private static List<int[]> prompts(String... texts) {
        List<int[]> prompts = new ArrayList<>();
        for (String text : texts) {
            prompts.add(TOKENIZER.encodePrompt(text));
        }
        return prompts;
    }

    @Test
    void sampledLogProbsEqualThoseTheScoringPathRecomputes() {
        try (Transformer model = new Transformer(manager, SMALL, TOKENIZER, 11)) {
            List<int[]> prompts = prompts("1+1=", "23*456=", "7 3 9 -> 30", "5-4=", "12+3=");
            for (Transformer.SamplingConfig sampling : List.of(new Transformer.SamplingConfig(1f, 1f, 12),
                    new Transformer.SamplingConfig(0.7f, 0.9f, 30), new Transformer.SamplingConfig(0f, 1f, 8))) {
                List<Transformer.Completion> completions = model.sample(prompts, sampling, 5);
                List<int[]> responses = completions.stream().map(Transformer.Completion::tokens).toList();
                try (NDManager scope = manager.newSubManager()) {
                    TokenLogProbs scored = model.logProbs(scope, prompts, responses, sampling.scoringTemperature(), false);
                    for (int b = 0; b < prompts.size(); b++) {
                        float[] recomputed = scored.row(b);
                        float[] sampled = completions.get(b).logProbs();
                        assertEquals(sampled.length, recomputed.length);
                        for (int t = 0; t < sampled.length; t++) {
                            assertEquals(sampled[t], recomputed[t], 1e-4, "row " + b + " token " + t);
                        }
                    }
                }
            }
        }
    }

    @Test
    void theCacheChangesNothingButSpeed() {
        try (Transformer model = new Transformer(manager, SMALL, TOKENIZER, 3)) {
            List<int[]> prompts = prompts("1+1=", "23*456=", "7 3 9 -> 30");
            Transformer.SamplingConfig sampling = new Transformer.SamplingConfig(1f, 0.95f, 16);
            List<Transformer.Completion> cached = model.sample(prompts, sampling, 9);
            List<Transformer.Completion> recomputed = model.sampleWithoutCache(prompts, sampling, 9);
            for (int b = 0; b < prompts.size(); b++) {
                assertArrayEquals(cached.get(b).tokens(), recomputed.get(b).tokens());
                assertArrayEquals(cached.get(b).logProbs(), recomputed.get(b).logProbs(), 1e-4f);
            }
        }
    }

    @Test
    void aRowsCompletionDoesNotDependOnItsBatch() {
        try (Transformer model = new Transformer(manager, SMALL, TOKENIZER, 3)) {
            Transformer.SamplingConfig sampling = new Transformer.SamplingConfig(1f, 1f, 16);
            Transformer.Completion alone = model.sample(prompts("23*456="), sampling, 9).get(0);
            Transformer.Completion inBatch = model.sample(prompts("23*456=", "a much longer prompt"), sampling, 9).get(0);
            assertArrayEquals(alone.tokens(), inBatch.tokens());
            assertArrayEquals(alone.logProbs(), inBatch.logProbs(), 1e-4f);
        }
    }

    @Test
    void completionsStopAtTheContext() {
        try (Transformer model = new Transformer(manager, SMALL, TOKENIZER, 3)) {
            int[] prompt = TOKENIZER.encodePrompt("x".repeat(SMALL.context() - 4));
            Transformer.Completion completion = model.sample(List.of(prompt), new Transformer.SamplingConfig(1f, 1f, 50), 1).get(0);
            assertTrue(completion.tokens().length <= 3);
            try (NDManager scope = manager.newSubManager()) {
                model.logProbs(scope, List.of(prompt), List.of(completion.tokens()), 1f, false);
            }
            assertThrows(IllegalArgumentException.class,
                    () -> model.sample(List.of(TOKENIZER.encodePrompt("x".repeat(SMALL.context()))),
                            new Transformer.SamplingConfig(1f, 1f, 5), 1));
        }
    }

    @Test
    void gradientsReachEveryParameter() {
        for (boolean tied : new boolean[] {true, false}) {
            Transformer.Config config = new Transformer.Config(SMALL.vocabSize(), 32, 2, 4, 24, 0.1f, tied);
            try (Transformer model = new Transformer(manager, config, TOKENIZER, 5);
                 NDManager scope = manager.newSubManager()) {
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    TokenLogProbs logProbs = model.logProbs(scope, prompts("12+34=", "3 4 -> 7"),
                            List.of(TOKENIZER.encodeResponse("46"), TOKENIZER.encodeResponse("3+4")), 1f, true);
                    collector.backward(logProbs.sequenceSum().sum().neg());
                }
                for (Map.Entry<String, NDArray> parameter : model.parameters().entrySet()) {
                    NDArray gradient = parameter.getValue().getGradient();
                    float norm = gradient.abs().sum().getFloat();
                    assertTrue(norm > 0 && Float.isFinite(norm), parameter.getKey() + " gradient norm " + norm);
                    gradient.close();
                }
                assertEquals(config.parameterCount(), model.parameters().values().stream().mapToLong(p -> p.size()).sum());
            }
        }
    }

    /**
     * Embedding's and gather's backward read the token ids saved in the forward pass. DJL arrays made
     * from Java data borrow its memory, so if logProbs let them go when it returned, a collection
     * before the caller's backward would free that memory and the next allocation would overwrite the
     * ids (a run failed so: "index 140014962720384 is out of bounds for dimension 2").
     */
    @Test
    void backwardAfterACollectionGivesTheSameGradients() throws Exception {
        try (Transformer model = new Transformer(manager, SMALL, TOKENIZER, 5)) {
            List<int[]> prompts = prompts("12+34=", "3 4 -> 7", "5*6=");
            List<int[]> responses = List.of(TOKENIZER.encodeResponse("46"), TOKENIZER.encodeResponse("3+4"),
                    TOKENIZER.encodeResponse("30"));
            float[] undisturbed = tokenEmbeddingGradient(model, prompts, responses, false);
            float[] afterCollection = tokenEmbeddingGradient(model, prompts, responses, true);
            assertArrayEquals(undisturbed, afterCollection);
        }
    }

    private static float[] tokenEmbeddingGradient(Transformer model, List<int[]> prompts, List<int[]> responses,
            boolean collectAndOverwriteFreedMemory) throws InterruptedException {
        NDArray table = model.parameters().get("token_embedding");
        try (NDManager scope = manager.newSubManager()) {
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                TokenLogProbs logProbs = model.logProbs(scope, prompts, responses, 1f, true);
                List<ByteBuffer> reuse = new ArrayList<>();
                if (collectAndOverwriteFreedMemory) {
                    int time = prompts.get(0).length + responses.get(0).length;
                    for (int round = 0; round < 5; round++) {
                        System.gc();
                        Thread.sleep(50);
                        for (int size : new int[] {8 * prompts.size() * time, 8 * prompts.size() * 2 * time}) {
                            for (int i = 0; i < 200; i++) {
                                ByteBuffer buffer = ByteBuffer.allocateDirect(size);
                                while (buffer.hasRemaining()) {
                                    buffer.put((byte) 0x7f);
                                }
                                reuse.add(buffer);
                            }
                        }
                    }
                }
                collector.backward(logProbs.sequenceSum().sum().neg());
            }
            try (NDArray gradient = table.getGradient()) {
                float[] values = gradient.toFloatArray();
                gradient.set(new NDIndex("..."), 0f); // gradients accumulate across backward passes
                return values;
            }
        }
    }

    @Test
    void saveLoadSaveIsByteIdenticalAndCopyFromSwapsWeights() throws Exception {
        try (Transformer model = new Transformer(manager, SMALL, TOKENIZER, 1);
             Transformer other = new Transformer(manager, SMALL, TOKENIZER, 2)) {
            byte[] bytes = model.toBytes();
            try (Transformer loaded = Transformer.fromBytes(manager, bytes)) {
                assertArrayEquals(bytes, loaded.toBytes());
                assertEquals(model.checksum(), loaded.checksum());
            }
            assertNotEquals(model.checksum(), other.checksum());
            List<int[]> prompts = prompts("1+2=");
            Transformer.SamplingConfig greedy = new Transformer.SamplingConfig(0f, 1f, 10);
            other.copyFrom(bytes);
            assertArrayEquals(bytes, other.toBytes());
            assertArrayEquals(model.sample(prompts, greedy, 0).get(0).tokens(), other.sample(prompts, greedy, 0).get(0).tokens());

            java.nio.file.Path file = java.nio.file.Files.createTempFile("weights", ".bin");
            Weights.save(model, file);
            try (Transformer fromFile = Weights.load(manager, file)) {
                assertEquals(model.checksum(), fromFile.checksum());
            }
            java.nio.file.Files.delete(file);
        }
    }

    @Test
    void corruptOrMismatchedWeightsAreRefusedAndLeaveTheModelAsItWas() {
        try (Transformer model = new Transformer(manager, SMALL, TOKENIZER, 1)) {
            String before = model.checksum();
            byte[] bytes = model.toBytes();
            byte[] truncated = java.util.Arrays.copyOf(bytes, bytes.length - 10);
            assertTrue(assertThrows(Weights.FormatException.class, () -> model.copyFrom(truncated))
                    .getMessage().startsWith("truncated or corrupt weights"));
            assertEquals(before, model.checksum());
            Transformer.Config wider = new Transformer.Config(SMALL.vocabSize(), 64, 2, 4, 24, 0f, true);
            try (Transformer big = new Transformer(manager, wider, TOKENIZER, 1)) {
                assertTrue(assertThrows(Weights.FormatException.class, () -> model.copyFrom(big.toBytes()))
                        .getMessage().startsWith("weights are for Config[vocabSize=99, dModel=64"));
            }
            assertEquals("not a paced-rl weights file",
                    assertThrows(Weights.FormatException.class, () -> Transformer.fromBytes(manager, new byte[] {1, 2})).getMessage());
        }
    }
}
