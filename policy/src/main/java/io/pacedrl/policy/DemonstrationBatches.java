package io.pacedrl.policy;

import io.pacedrl.tasks.TaskFamily;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Turns a stream of demonstrations into training batches of similar length: it draws a window of
 * {@code window} batches' worth of examples, sorts them by length, cuts them into batches and
 * hands those out in a seeded random order. Padding is computed like real tokens, so batching
 * short sequences with short ones does more useful work per second without changing what is
 * learned from.
 */
public final class DemonstrationBatches implements Iterator<DemonstrationBatches.Batch> {

    /** Encoded prompts and responses, and the tokens the forward pass actually computes on. */
    public record Batch(List<int[]> prompts, List<int[]> responses) {
        /** Input positions that are real tokens (prompt + response − 1 per row). */
        public long tokens() {
            long tokens = 0;
            for (int i = 0; i < prompts.size(); i++) {
                tokens += prompts.get(i).length + responses.get(i).length - 1;
            }
            return tokens;
        }

        /** The longest row's input length: the padded width of the batch. */
        public int width() {
            int width = 0;
            for (int i = 0; i < prompts.size(); i++) {
                width = Math.max(width, prompts.get(i).length + responses.get(i).length - 1);
            }
            return width;
        }
    }

    private final Iterator<TaskFamily.Example> examples;
    private final CharTokenizer tokenizer;
    private final int batchSize;
    private final int window;
    private final SplittableRandom random;
    private final Deque<Batch> ready = new ArrayDeque<>();

    public DemonstrationBatches(Iterator<TaskFamily.Example> examples, CharTokenizer tokenizer, int batchSize,
                                int window, long seed) {
        this.examples = examples;
        this.tokenizer = tokenizer;
        this.batchSize = batchSize;
        this.window = window;
        this.random = new SplittableRandom(seed);
    }

    @Override
    public boolean hasNext() {
        return true;
    }

    @Override
    public Batch next() {
        if (ready.isEmpty()) {
            refill();
        }
        return ready.removeFirst();
    }

    private void refill() {
        List<int[][]> pairs = new ArrayList<>(batchSize * window);
        for (int i = 0; i < batchSize * window; i++) {
            TaskFamily.Example example = examples.next();
            pairs.add(new int[][] {tokenizer.encodePrompt(example.prompt().text()), tokenizer.encodeResponse(example.solution())});
        }
        pairs.sort(Comparator.comparingInt(pair -> pair[0].length + pair[1].length));
        List<Batch> batches = new ArrayList<>(window);
        for (int start = 0; start < pairs.size(); start += batchSize) {
            List<int[][]> slice = pairs.subList(start, start + batchSize);
            batches.add(new Batch(slice.stream().map(pair -> pair[0]).toList(), slice.stream().map(pair -> pair[1]).toList()));
        }
        for (int i = batches.size() - 1; i > 0; i--) {
            Collections.swap(batches, i, random.nextInt(i + 1));
        }
        ready.addAll(batches);
    }
}
