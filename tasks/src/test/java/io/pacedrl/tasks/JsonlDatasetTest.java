package io.pacedrl.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class JsonlDatasetTest {
    @TempDir
    Path dir;

    @Test
    void readsPromptsWithDefaults() throws IOException {
        Path file = write("""
                {"id": "p1", "kind": "numeric", "text": "2+2=", "answer": 4}

                {"id": "p2", "kind": "countdown", "family": "cd", "difficulty": 2, "split": "held_out", "text": "1 2 -> 3", "spec": {"numbers": [1, 2], "target": 3}}
                """);
        List<TaskPrompt> prompts = JsonlDataset.read(file);
        assertEquals(new TaskPrompt("p1", "numeric", "numeric", 0, TaskPrompt.Split.UNKNOWN, "2+2=", "4", null), prompts.get(0));
        assertEquals(new TaskPrompt("p2", "countdown", "cd", 2, TaskPrompt.Split.HELD_OUT, "1 2 -> 3", null,
                "{\"numbers\":[1,2],\"target\":3}"), prompts.get(1));
        assertEquals(true, Verifiers.load().verify(prompts.get(1), "2+1").correct());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "{\"id\": \"p\", \"kind\": \"numeric\", \"text\": \"t\"}                    | prompt 'p' needs an 'answer' or a 'spec'",
            "{\"id\": \"p\", \"kind\": \"numeric\", \"text\": \"t\", \"answer\": 1      | not JSON at column 56: Unexpected end-of-input",
            "[1, 2]                                                                    | expected a JSON object",
            "{\"kind\": \"numeric\", \"text\": \"t\", \"answer\": \"1\"}                | missing 'id'",
            "{\"id\": 3, \"kind\": \"numeric\", \"text\": \"t\", \"answer\": \"1\"}     | 'id' must be a non-empty string, got 3",
            "{\"id\": \"p\", \"kind\": \"numeric\", \"text\": \"t\", \"answr\": \"1\"}  | unknown field 'answr'",
            "{\"id\": \"p\", \"kind\": \"c\", \"text\": \"t\", \"spec\": \"x\"}         | 'spec' must be a JSON object, got \"x\"",
            "{\"id\": \"p\", \"kind\": \"c\", \"text\": \"t\", \"answer\": 1, \"difficulty\": -1} | 'difficulty' must be an integer ≥ 0, got -1",
            "{\"id\": \"p\", \"kind\": \"c\", \"text\": \"t\", \"answer\": 1, \"split\": \"test\"} | 'split' must be train or held_out, got \"test\"",
    })
    void malformedLinesAreErrorsNamingTheLine(String badLine, String reason) throws IOException {
        Path file = write("{\"id\": \"ok\", \"kind\": \"numeric\", \"text\": \"1+1=\", \"answer\": \"2\"}\n" + badLine + "\n");
        JsonlDataset.FormatException error = assertThrows(JsonlDataset.FormatException.class, () -> JsonlDataset.read(file));
        assertEquals(file + ":2: " + reason, error.getMessage().substring(0, Math.min(error.getMessage().length(), (file + ":2: " + reason).length())));
    }

    @Test
    void duplicateIdsNameBothLines() throws IOException {
        Path file = write("""
                {"id": "p", "kind": "numeric", "text": "1+1=", "answer": "2"}
                {"id": "q", "kind": "numeric", "text": "1+2=", "answer": "3"}
                {"id": "p", "kind": "numeric", "text": "1+3=", "answer": "4"}
                """);
        JsonlDataset.FormatException error = assertThrows(JsonlDataset.FormatException.class, () -> JsonlDataset.read(file));
        assertEquals(file + ":3: duplicate id 'p' (first on line 1)", error.getMessage());
    }

    @Test
    void anEmptyFileIsAnError() throws IOException {
        Path file = write("\n\n");
        assertEquals(file + ": no prompts",
                assertThrows(JsonlDataset.FormatException.class, () -> JsonlDataset.read(file)).getMessage());
    }

    private Path write(String text) throws IOException {
        return Files.writeString(dir.resolve("data.jsonl"), text);
    }
}
