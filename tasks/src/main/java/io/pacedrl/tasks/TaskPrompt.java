package io.pacedrl.tasks;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Objects;

/**
 * One verifiable prompt: what the policy sees ({@link #text}) and what a verifier needs to score
 * a response ({@link #answer} where there is a single correct one, {@link #spec} as JSON where
 * correctness is a rule, as in countdown). It mirrors the Avro {@code Prompt} record without
 * depending on it, so this module stays free of Kafka.
 *
 * @param id         stable id, unique in a pool
 * @param kind       the task kind a verifier declares it scores (numeric, countdown, ...)
 * @param family     the generator family, for reports (arith, countdown, or a dataset's own)
 * @param difficulty level within the family; 0 when unknown
 * @param split      train or held-out
 * @param text       the prompt text given to the policy
 * @param answer     the reference answer, or null
 * @param spec       the task's rule as a JSON object, or null
 */
public record TaskPrompt(String id, String kind, String family, int difficulty, Split split,
                         String text, String answer, String spec) {

    public TaskPrompt {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(family, "family");
        Objects.requireNonNull(split, "split");
        Objects.requireNonNull(text, "text");
        if (answer == null && spec == null) {
            throw new IllegalArgumentException("prompt " + id + " has neither an answer nor a spec");
        }
    }

    /** Which side of the train / held-out division a prompt is on. */
    public enum Split { TRAIN, HELD_OUT, UNKNOWN }

    /** "family/difficulty" ("aggregate/2"): the stratum results are reported by. */
    public String level() {
        return family + "/" + difficulty;
    }

    /** The same prompt on another side of the division. */
    public TaskPrompt withSplit(Split newSplit) {
        return new TaskPrompt(id, kind, family, difficulty, newSplit, text, answer, spec);
    }

    /**
     * A content-derived id: the family and the first 12 hex digits of SHA-256 of the text. The
     * same prompt gets the same id whatever the seed or the order it was generated in, and two
     * pools that share no text share no id.
     */
    public static String contentId(String family, String text) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return family + "-" + HexFormat.of().formatHex(digest, 0, 6);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK always provides SHA-256", e);
        }
    }
}
