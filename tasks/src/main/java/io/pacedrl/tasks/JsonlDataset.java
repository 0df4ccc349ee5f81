package io.pacedrl.tasks;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads a user dataset: one JSON object per line with {@code id}, {@code kind}, {@code text} and
 * an {@code answer} and/or a {@code spec} object; optional {@code family} (defaults to the
 * kind), {@code difficulty} (integer ≥ 0) and {@code split} ({@code train} or {@code held_out}).
 * Blank lines are skipped. Anything else is an error that names the file and line.
 */
public final class JsonlDataset {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> FIELDS = Set.of("id", "kind", "family", "difficulty", "split", "text", "answer", "spec");

    private JsonlDataset() {}

    /** A line of a dataset that cannot be read as a prompt. */
    public static final class FormatException extends RuntimeException {
        public FormatException(String message) {
            super(message);
        }
    }

    public static List<TaskPrompt> read(Path file) {
        try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            List<TaskPrompt> prompts = new ArrayList<>();
            Map<String, Integer> lineOfId = new HashMap<>();
            String line;
            int number = 0;
            while ((line = reader.readLine()) != null) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                String where = file + ":" + number;
                TaskPrompt prompt = parse(line, where);
                Integer first = lineOfId.putIfAbsent(prompt.id(), number);
                if (first != null) {
                    throw new FormatException(where + ": duplicate id '" + prompt.id() + "' (first on line " + first + ")");
                }
                prompts.add(prompt);
            }
            if (prompts.isEmpty()) {
                throw new FormatException(file + ": no prompts");
            }
            return prompts;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read dataset " + file + ": " + e.getMessage(), e);
        }
    }

    private static TaskPrompt parse(String line, String where) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            String problem = e.getOriginalMessage().split("[:\\n]", 2)[0];
            throw new FormatException(where + ": not JSON at column " + e.getLocation().getColumnNr() + ": " + problem);
        }
        if (node == null || !node.isObject()) {
            throw new FormatException(where + ": expected a JSON object");
        }
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                throw new FormatException(where + ": unknown field '" + name + "' (expected " + FIELDS.stream().sorted().toList() + ")");
            }
        }
        String id = requiredText(node, "id", where);
        String kind = requiredText(node, "kind", where);
        String text = requiredText(node, "text", where);
        String family = node.has("family") ? requiredText(node, "family", where) : kind;
        int difficulty = 0;
        if (node.has("difficulty")) {
            JsonNode value = node.get("difficulty");
            if (!value.isInt() || value.intValue() < 0) {
                throw new FormatException(where + ": 'difficulty' must be an integer ≥ 0, got " + value);
            }
            difficulty = value.intValue();
        }
        TaskPrompt.Split split = TaskPrompt.Split.UNKNOWN;
        if (node.has("split")) {
            String value = requiredText(node, "split", where).toUpperCase(Locale.ROOT).replace('-', '_');
            if (!value.equals("TRAIN") && !value.equals("HELD_OUT")) {
                throw new FormatException(where + ": 'split' must be train or held_out, got " + node.get("split"));
            }
            split = TaskPrompt.Split.valueOf(value);
        }
        String answer = null;
        if (node.hasNonNull("answer")) {
            JsonNode value = node.get("answer");
            if (!value.isTextual() && !value.isNumber()) {
                throw new FormatException(where + ": 'answer' must be a string or a number, got " + value);
            }
            answer = value.asText();
        }
        String spec = null;
        if (node.hasNonNull("spec")) {
            if (!node.get("spec").isObject()) {
                throw new FormatException(where + ": 'spec' must be a JSON object, got " + node.get("spec"));
            }
            spec = node.get("spec").toString();
        }
        if (answer == null && spec == null) {
            throw new FormatException(where + ": prompt '" + id + "' needs an 'answer' or a 'spec'");
        }
        return new TaskPrompt(id, kind, family, difficulty, split, text, answer, spec);
    }

    private static String requiredText(JsonNode node, String field, String where) {
        JsonNode value = node.get(field);
        if (value == null || value.isNull()) {
            throw new FormatException(where + ": missing '" + field + "'");
        }
        if (!value.isTextual() || value.asText().isBlank()) {
            throw new FormatException(where + ": '" + field + "' must be a non-empty string, got " + value);
        }
        return value.asText();
    }
}
