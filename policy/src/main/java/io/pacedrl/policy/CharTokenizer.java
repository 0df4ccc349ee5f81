package io.pacedrl.policy;

import java.util.Arrays;

/**
 * Character-level tokenizer over printable ASCII. Ids 0–3 are the special tokens PAD, BOS, EOS
 * and SEP; each character of the alphabet follows in order. A sequence the policy sees is
 * {@code BOS prompt SEP response EOS}. The alphabet is versioned and stored with the weights, so
 * a checkpoint is never read with a different vocabulary.
 */
public final class CharTokenizer {
    public static final int PAD = 0;
    public static final int BOS = 1;
    public static final int EOS = 2;
    public static final int SEP = 3;
    private static final int SPECIALS = 4;

    /** The default vocabulary: space to tilde. */
    public static final CharTokenizer ASCII = new CharTokenizer("ascii-1", printableAscii());

    private final String version;
    private final String alphabet;
    private final int[] idOfChar = new int[128];

    public CharTokenizer(String version, String alphabet) {
        this.version = version;
        this.alphabet = alphabet;
        Arrays.fill(idOfChar, -1);
        for (int i = 0; i < alphabet.length(); i++) {
            char c = alphabet.charAt(i);
            if (c >= 128 || idOfChar[c] >= 0) {
                throw new IllegalArgumentException("alphabet must be distinct ASCII characters, got '" + c + "' at " + i);
            }
            idOfChar[c] = SPECIALS + i;
        }
    }

    /** A character that has no token. */
    public static final class UnknownCharacterException extends IllegalArgumentException {
        public UnknownCharacterException(String message) {
            super(message);
        }
    }

    public String version() {
        return version;
    }

    public String alphabet() {
        return alphabet;
    }

    public int vocabularySize() {
        return SPECIALS + alphabet.length();
    }

    /** The ids of the characters of {@code text}, or an error naming the first unknown one. */
    public int[] encode(String text) {
        int[] ids = new int[text.length()];
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            int id = c < 128 ? idOfChar[c] : -1;
            if (id < 0) {
                throw new UnknownCharacterException(String.format("character '%s' (U+%04X) at index %d of \"%s\" is not in vocabulary %s",
                        Character.isISOControl(c) ? "\\u" + String.format("%04x", (int) c) : String.valueOf(c), (int) c, i, text, version));
            }
            ids[i] = id;
        }
        return ids;
    }

    /** {@code BOS text SEP}: what the policy is given to continue. */
    public int[] encodePrompt(String text) {
        int[] ids = encode(text);
        int[] prompt = new int[ids.length + 2];
        prompt[0] = BOS;
        System.arraycopy(ids, 0, prompt, 1, ids.length);
        prompt[prompt.length - 1] = SEP;
        return prompt;
    }

    /** {@code text EOS}: a complete response. */
    public int[] encodeResponse(String text) {
        int[] ids = encode(text);
        int[] response = Arrays.copyOf(ids, ids.length + 1);
        response[ids.length] = EOS;
        return response;
    }

    /**
     * The text of a sampled response: its characters up to the first EOS. A policy can sample
     * PAD, BOS or SEP too; they become U+FFFD, which no verifier accepts, so the text stays a
     * faithful record of what was sampled. Ids outside the vocabulary are an error.
     */
    public String decode(int[] ids) {
        StringBuilder text = new StringBuilder(ids.length);
        for (int id : ids) {
            if (id == EOS) {
                break;
            }
            if (id < 0 || id >= vocabularySize()) {
                throw new IllegalArgumentException("token " + id + " is not in vocabulary " + version);
            }
            text.append(id < SPECIALS ? '\uFFFD' : alphabet.charAt(id - SPECIALS));
        }
        return text.toString();
    }

    private static String printableAscii() {
        StringBuilder chars = new StringBuilder();
        for (char c = ' '; c <= '~'; c++) {
            chars.append(c);
        }
        return chars.toString();
    }
}
