package io.pacedrl.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.Verdict;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The sandbox contains what untrusted code tries, and the code verifier scores by unit tests inside it. */
class SandboxTest {
    static final Sandbox.Limits LIMITS = new Sandbox.Limits(Duration.ofSeconds(4), 2, 256L << 20, 1L << 20, 4096, 4);
    static Sandbox sandbox;

    @BeforeAll
    static void check() {
        sandbox = Sandbox.checked(LIMITS, "python3");
    }

    static Sandbox.Outcome python(String code) throws Exception {
        return sandbox.run(Map.of("main.py", code), List.of("python3", "-I", "main.py"));
    }

    @Test
    void anInfiniteLoopIsStoppedByTheCpuLimitOrTheClock() throws Exception {
        Sandbox.Outcome outcome = python("while True: pass");
        assertNotEquals(0, outcome.exitCode());
        assertTrue(outcome.elapsed().compareTo(Duration.ofSeconds(6)) < 0, outcome.elapsed().toString());
        Sandbox.Outcome sleeper = python("import time\ntime.sleep(60)"); // no CPU used: the wall clock stops it
        assertTrue(sleeper.timedOut());
        assertTrue(sleeper.elapsed().compareTo(Duration.ofSeconds(10)) < 0, sleeper.elapsed().toString());
    }

    @Test
    void aMemoryHogCannotGetMoreThanItsLimit() throws Exception {
        Sandbox.Outcome outcome = python("x = bytearray(1024 * 1024 * 1024)\nprint('got it')");
        assertNotEquals(0, outcome.exitCode());
        assertTrue(outcome.output().contains("MemoryError"), outcome.output());
        assertFalse(outcome.output().contains("got it"));
    }

    @Test
    void noSocketReachesAnything() throws Exception {
        Sandbox.Outcome outcome = python("""
                import socket
                for host in ("1.1.1.1", "127.0.0.1"):
                    try:
                        socket.create_connection((host, 80), timeout=2); print("connected", host)
                    except OSError as e:
                        print("refused", host, e.errno)
                """);
        assertFalse(outcome.output().contains("connected"), outcome.output());
        assertTrue(outcome.output().contains("refused 1.1.1.1"), outcome.output());
    }

    @Test
    void writesOutsideItsDirectoryFailAndItsDirectoryIsGoneAfterwards() throws Exception {
        Set<Path> before = sandboxDirectories();
        Path outside = Files.createTempDirectory("outside-");
        Sandbox.Outcome outcome = python("""
                import os
                for target in ("%s/escaped", "/tmp/escaped-sandbox", os.path.join(os.path.dirname(os.getcwd()), "escaped")):
                    try:
                        open(target, "w").write("x"); print("wrote", target)
                    except OSError as e:
                        print("blocked", target, e.strerror)
                open("mine", "w").write("x"); print("wrote inside", os.getcwd())
                """.formatted(outside));
        assertFalse(outcome.output().contains("wrote /"), outcome.output());
        assertTrue(outcome.output().contains("Read-only file system"), outcome.output());
        assertTrue(outcome.output().contains("wrote inside"), outcome.output());
        assertFalse(Files.exists(outside.resolve("escaped")));
        assertTrue(outcome.output().contains("wrote inside /work"), outcome.output());
        assertEquals(before, sandboxDirectories(), "the sandbox's directory is removed");
    }

    static Set<Path> sandboxDirectories() throws Exception {
        try (Stream<Path> all = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return all.filter(p -> p.getFileName().toString().startsWith("paced-sandbox-")).collect(Collectors.toSet());
        }
    }

    /** Only what Python needs is there: none of the host's files to read and print into a rollout. */
    @Test
    void theHostsFilesAreNotThereToRead() throws Exception {
        Sandbox.Outcome outcome = python("""
                import os
                print("root", sorted(os.listdir("/")))
                for path in ("/etc/passwd", "/etc/hostname", "/root/.bashrc", "%s"):
                    try:
                        print("read", path, len(open(path, "rb").read()))
                    except OSError as e:
                        print("cannot read", path, e.strerror)
                print("environment", sorted(os.environ))
                """.formatted(Path.of("pom.xml").toAbsolutePath()));
        assertEquals(0, outcome.exitCode(), outcome.output());
        assertTrue(outcome.output().contains("root ['bin', 'dev', 'lib', 'lib64', 'proc', 'sbin', 'tmp', 'usr', 'work']"),
                outcome.output());
        assertTrue(outcome.output().lines().noneMatch(line -> line.startsWith("read ")), outcome.output());
        assertTrue(outcome.output().contains("cannot read /etc/passwd No such file or directory"), outcome.output());
        assertFalse(outcome.output().contains("'WORK'") || outcome.output().contains("'ROOT'"), "no host path in its environment: "
                + outcome.output());
    }

    /**
     * A fork bomb meets the process cap, and every process it started ends with the run. Its processes
     * are found by their command line (a fork keeps it), not by the host's process count, which
     * anything else on the machine moves while the test runs.
     */
    @Test
    void aForkBombIsBoundedAndEndsWithTheRun() throws Exception {
        CompletableFuture<Sandbox.Outcome> run = CompletableFuture.supplyAsync(() -> {
            try {
                return sandbox.run(Map.of("bomb.py", """
                        import os
                        refused = 0
                        while True:
                            try:
                                if os.fork() == 0:
                                    continue
                            except OSError:
                                refused += 1
                                if refused == 1:
                                    print("fork refused", flush=True)
                        """), List.of("python3", "-I", "bomb.py"));
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
        long mostSeen = 0;
        while (!run.isDone()) {
            mostSeen = Math.max(mostSeen, bombProcesses());
            Thread.sleep(20);
        }
        Sandbox.Outcome outcome = run.get();
        assertTrue(outcome.timedOut() || outcome.exitCode() != 0, outcome.toString());
        assertTrue(outcome.output().contains("fork refused"), outcome.output());
        assertTrue(outcome.elapsed().compareTo(Duration.ofSeconds(10)) < 0, outcome.elapsed().toString());
        assertTrue(mostSeen > 0, "the bomb's processes are visible to this check while it runs");
        assertTrue(mostSeen <= LIMITS.processes() + 1, mostSeen + " processes of the bomb at once");
        Thread.sleep(500);
        assertEquals(0, bombProcesses(), "no process of the bomb is left");
    }

    private static long bombProcesses() {
        return ProcessHandle.allProcesses().filter(p -> p.info().commandLine().orElse("").contains("bomb.py")).count();
    }

    /** Processes each near the memory cap: no more than the process cap of them exist, so their total is bounded. */
    @Test
    void manyProcessesNearTheMemoryCapStayWithinTheTotal() throws Exception {
        Sandbox.Outcome outcome = python("""
                import subprocess
                hog = "x = bytearray(%d); import time; time.sleep(1); print('held')"
                children = []
                for i in range(10):
                    try:
                        children.append(subprocess.Popen(["python3", "-I", "-c", hog], stdout=subprocess.PIPE))
                    except OSError as e:
                        print("refused at", i, e.strerror)
                        break
                print("held", sum(child.communicate()[0].count(b"held") for child in children))
                """.formatted(LIMITS.memoryBytes() * 3 / 4));
        // Four processes: the sandbox's own first process, the code, and two children.
        assertTrue(outcome.output().contains("refused at 2 Resource temporarily unavailable"), outcome.output());
        assertTrue(outcome.output().contains("held 2"), "two children of at most " + LIMITS.memoryBytes() + " bytes each, "
                + LIMITS.totalMemoryBytes() + " in all: " + outcome.output());
    }

    @Test
    void outputIsCutAtTheCapAndBigFilesAreRefused() throws Exception {
        Sandbox.Outcome flood = python("print('y' * 100000)");
        assertTrue(flood.outputCut());
        assertEquals(LIMITS.outputBytes(), flood.output().length());
        Sandbox.Outcome big = python("""
                import os
                try:
                    with open('big', 'wb') as f:
                        f.write(b'0' * (4 << 20))
                    print('wrote all')
                except OSError as e:
                    print('refused', e.strerror)
                print('size', os.path.getsize('big'))
                """);
        assertTrue(big.output().contains("refused File too large"), big.output());
        assertTrue(big.output().contains("size " + LIMITS.fileBytes()), big.output());
    }

    static TaskPrompt code(String tests) {
        return new TaskPrompt("code-1", "code", "code", 1, TaskPrompt.Split.TRAIN, "write add(a, b)", null, tests);
    }

    @Test
    void theCodeVerifierScoresTheShareOfTestsThatPass() {
        CodeTestVerifier verifier = new CodeTestVerifier(LIMITS, "python3").ready();
        TaskPrompt prompt = code("{\"tests\": [\"assert add(1, 2) == 3\", \"assert add(-1, 1) == 0\", \"assert add(2, 2) == 4\"]}");
        Verdict right = verifier.verify(prompt, "def add(a, b):\n    return a + b\n");
        assertEquals(1.0, right.reward());
        assertTrue(right.correct());
        Verdict partly = verifier.verify(prompt, "def add(a, b):\n    return 3 if a == 1 else 0\n");
        assertEquals(2 / 3.0, partly.reward(), 1e-12);
        assertFalse(partly.correct());
        Verdict cheat = verifier.verify(prompt, "print('RESULT-0 3 3')\nimport os\nos._exit(0)\n");
        assertEquals(0.0, cheat.reward(), "a faked result line or an early exit scores nothing");
        Verdict loop = verifier.verify(prompt, "while True:\n    pass\n");
        assertEquals(0.0, loop.reward());
        assertFalse(loop.correct());
        Verdict bomb = verifier.verify(prompt, "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n");
        assertEquals(0.0, bomb.reward());
        assertTrue(bomb.details().get("reason").startsWith("timed out") || bomb.details().get("reason").startsWith("the tests did not"),
                bomb.details().toString());
        Verdict snoop = verifier.verify(prompt, "print(open('/etc/passwd').read())\ndef add(a, b):\n    return a + b\n");
        assertEquals(0.0, snoop.reward(), "the solution stops at the read, so no test passes");
        assertEquals("0/3", snoop.details().get("passed"), snoop.details().toString());
    }
}
