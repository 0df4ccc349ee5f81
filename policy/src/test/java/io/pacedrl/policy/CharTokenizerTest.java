package io.pacedrl.policy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class CharTokenizerTest {
    private static final CharTokenizer TOKENIZER = CharTokenizer.ASCII;

    @Test
    void encodesPromptsAndResponsesWithTheSpecialTokens() {
        assertEquals(99, TOKENIZER.vocabularySize());
        int[] prompt = TOKENIZER.encodePrompt("1+2=");
        assertEquals(CharTokenizer.BOS, prompt[0]);
        assertEquals(CharTokenizer.SEP, prompt[prompt.length - 1]);
        assertEquals(6, prompt.length);
        int[] response = TOKENIZER.encodeResponse("(3*4)-5");
        assertEquals(CharTokenizer.EOS, response[response.length - 1]);
        assertEquals("(3*4)-5", TOKENIZER.decode(response));
        assertArrayEquals(TOKENIZER.encode(" ~"), new int[] {4, 98});
    }

    @Test
    void unknownCharactersAreClearErrors() {
        CharTokenizer.UnknownCharacterException error = assertThrows(CharTokenizer.UnknownCharacterException.class,
                () -> TOKENIZER.encode("12×3"));
        assertEquals("character '×' (U+00D7) at index 2 of \"12×3\" is not in vocabulary ascii-1", error.getMessage());
        assertEquals("character '\\u000a' (U+000A) at index 1 of \"1\n\" is not in vocabulary ascii-1",
                assertThrows(CharTokenizer.UnknownCharacterException.class, () -> TOKENIZER.encode("1\n")).getMessage());
    }

    @Test
    void decodingStopsAtEosAndMarksOtherSpecialTokens() {
        int[] ids = {TOKENIZER.encode("4")[0], CharTokenizer.SEP, TOKENIZER.encode("2")[0], CharTokenizer.EOS, TOKENIZER.encode("9")[0]};
        assertEquals("4\uFFFD2", TOKENIZER.decode(ids));
        assertThrows(IllegalArgumentException.class, () -> TOKENIZER.decode(new int[] {99}));
    }
}
