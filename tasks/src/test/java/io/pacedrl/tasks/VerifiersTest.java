package io.pacedrl.tasks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class VerifiersTest {
    private static final Verifiers VERIFIERS = Verifiers.load();
    private static final TaskPrompt ARITH = new TaskPrompt("a", "numeric", "arith", 2, TaskPrompt.Split.TRAIN,
            "12-94=", "-82", null);
    private static final TaskPrompt COUNTDOWN = new TaskPrompt("c", "countdown", "countdown", 2, TaskPrompt.Split.TRAIN,
            "2 3 4 -> 24", null, "{\"numbers\":[4,3,2],\"target\":24}");

    @ParameterizedTest
    @ValueSource(strings = {"-82", " -82 ", "-082", "- 82", "-82.0", "-82."})
    void numericAnswersMatchWhateverTheFormatting(String response) {
        assertTrue(VERIFIERS.verify(ARITH, response).correct(), response);
    }

    @ParameterizedTest
    @ValueSource(strings = {"82", "-83", "", "-8 2x", "minus 82", "--82", "-82=-82"})
    void otherNumericResponsesAreWrong(String response) {
        Verdict verdict = VERIFIERS.verify(ARITH, response);
        assertFalse(verdict.correct(), response);
        assertEquals(0.0, verdict.reward());
        assertTrue(verdict.details().containsKey("reason"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"2*3*4*2", "4*3", "(4+4)*3", "23*4"})
    void countdownNeedsEveryNumberOnce(String response) {
        Verdict verdict = VERIFIERS.verify(COUNTDOWN, response);
        assertFalse(verdict.correct(), response);
        assertTrue(verdict.details().get("reason").startsWith("numbers used"), verdict.toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"2*3*4", "(4*3)*2", "4*(3*2)", " 4 * ( 3 ) * 2 ", "2*(4*3)"})
    void countdownAcceptsAnyCorrectExpression(String response) {
        assertTrue(VERIFIERS.verify(COUNTDOWN, response).correct(), response);
    }

    @Test
    void countdownUsesExactRationalArithmetic() {
        TaskPrompt prompt = new TaskPrompt("r", "countdown", "countdown", 3, TaskPrompt.Split.TRAIN,
                "1 3 4 6 -> 24", null, "{\"numbers\":[1,3,4,6],\"target\":24}");
        assertTrue(VERIFIERS.verify(prompt, "6/(1-3/4)").correct());
        Verdict almost = VERIFIERS.verify(prompt, "6/(1-4/3)");
        assertFalse(almost.correct());
        assertEquals("-18", almost.details().get("value"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"2*3*", "(2*3*4", "2*3*4)", "2**3*4", "-2+3*4", "2*3*4;", "2 3 4"})
    void malformedExpressionsAreWrongNotErrors(String response) {
        Verdict verdict = VERIFIERS.verify(COUNTDOWN, response);
        assertFalse(verdict.correct());
        assertTrue(verdict.details().get("reason").startsWith("unparseable"), verdict.toString());
    }

    @Test
    void divisionByZeroIsWrong() {
        TaskPrompt prompt = new TaskPrompt("z", "countdown", "countdown", 2, TaskPrompt.Split.TRAIN,
                "2 2 5 -> 5", null, "{\"numbers\":[2,2,5],\"target\":5}");
        assertEquals("division by zero", VERIFIERS.verify(prompt, "5/(2-2)").details().get("reason"));
        assertEquals("unparseable: nested deeper than 64",
                VERIFIERS.verify(prompt, "(".repeat(100) + "5").details().get("reason"));
    }

    @Test
    void unknownKindsAndBrokenSpecsAreErrorsThatSayWhy() {
        TaskPrompt code = new TaskPrompt("x", "code", "code", 0, TaskPrompt.Split.TRAIN, "f", "1", null);
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> VERIFIERS.verify(code, "1"));
        assertEquals("no verifier scores task kind 'code' (known: [countdown, numeric])", unknown.getMessage());
        TaskPrompt broken = new TaskPrompt("b", "countdown", "countdown", 0, TaskPrompt.Split.TRAIN, "t", null, "{\"numbers\":3}");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> VERIFIERS.verify(broken, "3"))
                .getMessage().startsWith("countdown prompt b needs a spec"));
    }
}
