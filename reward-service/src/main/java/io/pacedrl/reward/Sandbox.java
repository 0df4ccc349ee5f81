package io.pacedrl.reward;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Runs untrusted code in a subprocess that can do little harm and cannot run for ever:
 * <ul>
 *   <li>no network: a new, empty network namespace (only a down loopback);
 *   <li>no writes outside its own temporary directory: a new mount namespace in which every mount
 *       is remounted read-only, then the directory bound back read-write;
 *   <li>CPU time, address space and file size capped with rlimits; wall-clock time capped by
 *       killing it (a new PID namespace, so its children die with it);
 *   <li>output read up to a cap, the rest discarded.
 * </ul>
 * It rests on Linux user namespaces ({@code unshare --map-root-user}) and {@code prlimit}; {@link
 * #checked} proves each limit on this machine before the sandbox is used, and fails, saying which,
 * when one cannot be enforced.
 */
public final class Sandbox {

    /** What a run may use. */
    public record Limits(Duration wallClock, int cpuSeconds, long memoryBytes, long fileBytes, int outputBytes) {
        public static final Limits DEFAULT = new Limits(Duration.ofSeconds(10), 5, 512L << 20, 1L << 20, 64 << 10);
    }

    /** How a run ended; {@code output} is stdout and stderr together, cut at the cap. */
    public record Outcome(int exitCode, boolean timedOut, boolean outputCut, String output, Duration elapsed) {}

    /** Inside the namespaces: every mount read-only, the work directory writable again, then the command. */
    private static final String CONFINE = """
            for m in $(awk '{print $2}' /proc/self/mounts | sort -r); do mount -o remount,bind,ro "$m" 2>/dev/null; done
            mount --bind "$WORK" "$WORK" && mount -o remount,bind,rw "$WORK" || exit 97
            cd "$WORK" && exec "$@"
            """;

    private final Limits limits;

    private Sandbox(Limits limits) {
        this.limits = limits;
    }

    /**
     * A sandbox whose limits have been seen to hold here: a probe tries to reach the network, write
     * outside its directory, write inside it, and reads back its own rlimits. Fails naming the limit
     * that does not hold (or the tool that is missing).
     */
    public static Sandbox checked(Limits limits, String python) {
        Sandbox sandbox = new Sandbox(limits);
        String probe = """
                import os, socket, resource
                try:
                    socket.create_connection(("1.1.1.1", 53), timeout=2); print("network-open")
                except OSError:
                    print("network-closed")
                for target in ("/tmp/paced-sandbox-probe", os.path.join(os.path.dirname(os.getcwd()), "paced-sandbox-probe")):
                    try:
                        open(target, "w").write("x"); os.remove(target); print("outside-writable")
                    except OSError:
                        print("outside-closed")
                open("inside", "w").write("x"); print("inside-writable")
                print("as", resource.getrlimit(resource.RLIMIT_AS)[0])
                print("cpu", resource.getrlimit(resource.RLIMIT_CPU)[0])
                """;
        Outcome outcome;
        try {
            outcome = sandbox.run(Map.of("probe.py", probe), List.of(python, "-I", "probe.py"));
        } catch (IOException e) {
            throw new IllegalStateException("the sandbox cannot start (needs unshare, prlimit and " + python + "): "
                    + e.getMessage(), e);
        }
        List<String> problems = new ArrayList<>();
        String out = outcome.output();
        if (outcome.exitCode() != 0) {
            problems.add("the probe failed (exit " + outcome.exitCode() + "): " + out.strip());
        } else {
            if (!out.contains("network-closed")) {
                problems.add("the network is reachable");
            }
            if (out.contains("outside-writable") || !out.contains("outside-closed")) {
                problems.add("files outside its directory are writable");
            }
            if (!out.contains("inside-writable")) {
                problems.add("its own directory is not writable");
            }
            if (!out.contains("as " + limits.memoryBytes())) {
                problems.add("the memory limit is not applied");
            }
            if (!out.contains("cpu " + limits.cpuSeconds())) {
                problems.add("the CPU limit is not applied");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException("the sandbox cannot be enforced on this machine: " + String.join("; ", problems)
                    + " (it needs Linux user namespaces: unshare --map-root-user)");
        }
        return sandbox;
    }

    public Limits limits() {
        return limits;
    }

    /** Writes {@code files} into a fresh directory, runs {@code command} there under the limits, and removes it. */
    public Outcome run(Map<String, String> files, List<String> command) throws IOException {
        Path work = Files.createTempDirectory("paced-sandbox-");
        try {
            for (Map.Entry<String, String> file : files.entrySet()) {
                Files.writeString(work.resolve(file.getKey()), file.getValue());
            }
            List<String> full = new ArrayList<>(List.of("prlimit", "--cpu=" + limits.cpuSeconds(),
                    "--as=" + limits.memoryBytes(), "--fsize=" + limits.fileBytes(), "--core=0",
                    "unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--map-root-user",
                    "/bin/sh", "-c", CONFINE, "confine"));
            full.addAll(command);
            ProcessBuilder builder = new ProcessBuilder(full).redirectErrorStream(true).directory(work.toFile());
            builder.environment().clear();
            builder.environment().put("PATH", "/usr/local/bin:/usr/bin:/bin");
            builder.environment().put("WORK", work.toString());
            builder.environment().put("HOME", work.toString());
            long start = System.nanoTime();
            Process process = builder.start();
            process.getOutputStream().close();
            CappedReader reader = new CappedReader(process.getInputStream(), limits.outputBytes());
            Thread drain = new Thread(reader, "sandbox-output");
            drain.setDaemon(true);
            drain.start();
            boolean finished;
            try {
                finished = process.waitFor(limits.wallClock().toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                finished = false;
            }
            if (!finished) {
                process.descendants().forEach(ProcessHandle::destroyForcibly);
                process.destroyForcibly();
            }
            try {
                process.waitFor(5, TimeUnit.SECONDS);
                drain.join(2_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return new Outcome(finished ? process.exitValue() : -1, !finished, reader.cut(), reader.text(),
                    Duration.ofNanos(System.nanoTime() - start));
        } finally {
            try (Stream<Path> walk = Files.walk(work)) {
                walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** Reads a stream to its end, keeping at most {@code cap} bytes. */
    private static final class CappedReader implements Runnable {
        private final InputStream in;
        private final int cap;
        private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
        private volatile boolean cut;

        CappedReader(InputStream in, int cap) {
            this.in = in;
            this.cap = cap;
        }

        @Override
        public void run() {
            byte[] buffer = new byte[8192];
            try (in) {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    int room = cap - kept.size();
                    if (n > room) {
                        cut = true;
                    }
                    kept.write(buffer, 0, Math.max(0, Math.min(n, room)));
                }
            } catch (IOException e) {
                // the process was killed: keep what was read
            }
        }

        boolean cut() {
            return cut;
        }

        synchronized String text() {
            return kept.toString(StandardCharsets.UTF_8);
        }
    }
}
