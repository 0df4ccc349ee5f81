package io.pacedrl.reward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pacedrl.tasks.RewardVerifier;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.Verdict;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Python code checked by unit tests, run in the {@link Sandbox}. The prompt's spec is
 * {@code {"tests": ["assert add(1, 2) == 3", ...]}}; the response is the code. The reward is the
 * share of tests that pass; the response is correct when all do. The sandbox is checked when the
 * verifier is first used, and the verifier refuses to run without it.
 */
public final class CodeTestVerifier implements RewardVerifier {
    public static final String KIND = "code";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SecureRandom RANDOM = new SecureRandom();
    /**
     * Runs the solution, then each test, each in its own try; prints the count after a marker only
     * the harness knows (passed on its command line and removed before the solution runs), so
     * printing a fake result does not help.
     */
    private static final String HARNESS = """
            import json, sys
            def main(marker=sys.argv.pop()):
                tests = json.load(open("tests.json"))
                scope = {"__name__": "solution"}
                try:
                    exec(compile(open("solution.py").read(), "solution.py", "exec"), scope)
                except BaseException as e:
                    print("solution failed:", type(e).__name__, e)
                    print(marker, 0, len(tests)); return
                passed = 0
                for test in tests:
                    try:
                        exec(compile(test, "test", "exec"), scope); passed += 1
                    except BaseException as e:
                        print("test failed:", test, "->", type(e).__name__, e)
                print(marker, passed, len(tests))
            main()
            """;

    private final Sandbox.Limits limits;
    private final String python;
    private volatile Sandbox sandbox;

    /** The verifier ServiceLoader finds: default limits, {@code python3} from the path. */
    public CodeTestVerifier() {
        this(Sandbox.Limits.DEFAULT, "python3");
    }

    public CodeTestVerifier(Sandbox.Limits limits, String python) {
        this.limits = limits;
        this.python = python;
    }

    @Override
    public String name() {
        return "code";
    }

    @Override
    public String version() {
        return "1";
    }

    @Override
    public Set<String> kinds() {
        return Set.of(KIND);
    }

    /** Checks the sandbox now (instead of at the first response); fails if it cannot be enforced. */
    public CodeTestVerifier ready() {
        sandbox();
        return this;
    }

    private Sandbox sandbox() {
        if (sandbox == null) {
            synchronized (this) {
                if (sandbox == null) {
                    sandbox = Sandbox.checked(limits, python);
                }
            }
        }
        return sandbox;
    }

    @Override
    public Verdict verify(TaskPrompt prompt, String response) {
        List<String> tests = tests(prompt);
        String marker = "RESULT-" + HexFormat.of().formatHex(RANDOM.generateSeed(12));
        Sandbox.Outcome outcome;
        try {
            outcome = sandbox().run(Map.of("harness.py", HARNESS, "solution.py", response,
                    "tests.json", JSON.writeValueAsString(tests)), List.of(python, "-I", "harness.py", marker));
        } catch (IOException e) {
            throw new UncheckedIOException("the sandbox failed to run", e);
        }
        if (outcome.timedOut()) {
            return new Verdict(0, false, Map.of("reason", "timed out after " + limits.wallClock().toSeconds() + " s"));
        }
        Matcher result = Pattern.compile("^" + marker + " (\\d+) (\\d+)$", Pattern.MULTILINE).matcher(outcome.output());
        if (!result.find()) {
            String tail = outcome.output().length() > 400 ? outcome.output().substring(outcome.output().length() - 400)
                    : outcome.output();
            return new Verdict(0, false, Map.of("reason", "the tests did not finish (exit " + outcome.exitCode() + ")",
                    "output", tail));
        }
        int passed = Integer.parseInt(result.group(1));
        int total = Integer.parseInt(result.group(2));
        return new Verdict(passed / (double) total, passed == total, Map.of("passed", passed + "/" + total,
                "millis", Long.toString(outcome.elapsed().toMillis())));
    }

    private static List<String> tests(TaskPrompt prompt) {
        if (prompt.spec() == null) {
            throw new IllegalArgumentException("code prompt " + prompt.id() + " has no spec with tests");
        }
        try {
            JsonNode tests = JSON.readTree(prompt.spec()).path("tests");
            if (!tests.isArray() || tests.isEmpty()) {
                throw new IllegalArgumentException("code prompt " + prompt.id() + ": spec needs a non-empty \"tests\" list");
            }
            List<String> list = new ArrayList<>();
            tests.forEach(t -> list.add(t.asText()));
            return list;
        } catch (IOException e) {
            throw new IllegalArgumentException("code prompt " + prompt.id() + ": spec is not JSON: " + e.getMessage(), e);
        }
    }
}
