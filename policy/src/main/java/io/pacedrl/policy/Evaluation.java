package io.pacedrl.policy;

import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.Verifiers;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Samples responses to prompts and scores them with the verifiers: per-prompt accuracy (the
 * share of n samples judged correct) and the pass@1 it averages to.
 */
public final class Evaluation {
    private Evaluation() {}

    /**
     * How many of each prompt's samples were correct, and how many different correct answers
     * (ignoring whitespace) they held.
     */
    public record Result(List<TaskPrompt> prompts, int samplesPerPrompt, int[] correct, int[] distinctCorrect) {

        /** Mean accuracy over prompts and samples: pass@1 estimated from n samples each. */
        public double passAt1() {
            long total = 0;
            for (int c : correct) {
                total += c;
            }
            return total / (double) (prompts.size() * samplesPerPrompt);
        }

        /** Prompts by how many of their samples were correct: index c counts prompts with c of n. */
        public int[] histogram() {
            int[] counts = new int[samplesPerPrompt + 1];
            for (int c : correct) {
                counts[c]++;
            }
            return counts;
        }

        /** pass@1 over the prompts of one family and level. */
        public double passAt1(String family, int difficulty) {
            long total = 0;
            long samples = 0;
            for (int i = 0; i < prompts.size(); i++) {
                if (prompts.get(i).family().equals(family) && prompts.get(i).difficulty() == difficulty) {
                    total += correct[i];
                    samples += samplesPerPrompt;
                }
            }
            return samples == 0 ? Double.NaN : total / (double) samples;
        }
    }

    /**
     * Samples {@code samplesPerPrompt} responses per prompt in batches of {@code batchSize}
     * prompts' worth of rows and counts the correct ones.
     */
    public static Result run(Transformer model, List<TaskPrompt> prompts, int samplesPerPrompt,
                             Transformer.SamplingConfig sampling, int batchSize, long seed, Verifiers verifiers) {
        CharTokenizer tokenizer = model.tokenizer();
        int[] correct = new int[prompts.size()];
        List<Set<String>> answers = new ArrayList<>();
        prompts.forEach(prompt -> answers.add(new HashSet<>()));
        int promptsPerBatch = Math.max(1, batchSize / samplesPerPrompt);
        for (int start = 0; start < prompts.size(); start += promptsPerBatch) {
            int end = Math.min(prompts.size(), start + promptsPerBatch);
            List<int[]> rows = new ArrayList<>();
            for (int i = start; i < end; i++) {
                int[] encoded = tokenizer.encodePrompt(prompts.get(i).text());
                for (int s = 0; s < samplesPerPrompt; s++) {
                    rows.add(encoded);
                }
            }
            List<Transformer.Completion> completions = model.sample(rows, sampling, seed + start);
            for (int r = 0; r < completions.size(); r++) {
                int i = start + r / samplesPerPrompt;
                String response = tokenizer.decode(completions.get(r).tokens());
                if (verifiers.verify(prompts.get(i), response).correct()) {
                    correct[i]++;
                    answers.get(i).add(response.replaceAll("\\s+", ""));
                }
            }
        }
        return new Result(List.copyOf(prompts), samplesPerPrompt, correct,
                answers.stream().mapToInt(Set::size).toArray());
    }
}
