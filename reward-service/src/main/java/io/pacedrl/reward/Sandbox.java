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
 *   <li>no host files: a new mount namespace whose root is an empty, read-only tmpfs holding only
 *       what Python needs ({@code /usr} read-only, the {@code /bin} and {@code /lib} links,
 *       {@code /dev/null}, {@code /dev/zero}, {@code /dev/urandom}, the namespace's own
 *       {@code /proc}) and its own directory, read-write, as {@code /work}: no {@code /etc},
 *       {@code /home}, {@code /root}, {@code /tmp} or {@code /var} of the host to read and print;
 *   <li>CPU time, address space, file size and the number of processes capped with rlimits, so
 *       everything it starts together holds at most {@code processes × memoryBytes} of address
 *       space; wall-clock time capped by killing it (a new PID namespace, so its children die with
 *       it). Run as root, it first drops to user nobody, for whom the process cap holds (root is
 *       exempt from it);
 *   <li>output read up to a cap, the rest discarded.
 * </ul>
 * It rests on Linux user namespaces ({@code unshare --map-root-user}), {@code prlimit},
 * {@code setpriv} and {@code chroot}; {@link #checked} proves each limit on this machine before
 * the sandbox is used, and fails, saying which, when one cannot be enforced.
 */
public final class Sandbox {

    /**
     * What a run may use: {@code processes} counts every process it has at once, the sandbox's own
     * first one (the PID namespace's parent) included, so the code itself may start {@code processes - 2}.
     */
    public record Limits(Duration wallClock, int cpuSeconds, long memoryBytes, long fileBytes, int outputBytes, int processes) {
        public static final Limits DEFAULT = new Limits(Duration.ofSeconds(10), 5, 512L << 20, 1L << 20, 64 << 10, 4);

        /** The most address space everything a run starts can hold together. */
        public long totalMemoryBytes() {
            return processes * memoryBytes;
        }
    }

    /** How a run ended; {@code output} is stdout and stderr together, cut at the cap. */
    public record Outcome(int exitCode, boolean timedOut, boolean outputCut, String output, Duration elapsed) {}

    /** The user a sandbox started by root runs as: nobody, whom the process cap binds. */
    private static final int NOBODY = 65534;

    /**
     * Inside the namespaces: a fresh read-only root with /usr, a few devices, /proc and the work
     * directory (as /work, writable), then the command in it.
     */
    private static final String CONFINE = """
            mount -t tmpfs -o size=64k,mode=755 none "$ROOT" || exit 97
            mkdir "$ROOT/usr" "$ROOT/work" "$ROOT/dev" "$ROOT/proc" "$ROOT/tmp" || exit 97
            mount --rbind /usr "$ROOT/usr" && mount -o remount,bind,ro "$ROOT/usr" || exit 97
            for link in bin lib lib64 sbin; do ln -s "usr/$link" "$ROOT/$link"; done
            for device in null zero urandom; do
              touch "$ROOT/dev/$device" && mount --bind "/dev/$device" "$ROOT/dev/$device" || exit 97
            done
            mount -t proc proc "$ROOT/proc" || exit 97
            mount --bind "$WORK" "$ROOT/work" || exit 97
            mount -o remount,bind,ro "$ROOT" || exit 97
            cd / && exec chroot "$ROOT" /usr/bin/env -u WORK -u ROOT /bin/sh -c 'cd /work && exec "$@"' confine "$@"
            """;

    /** Whether this JVM runs as root, who must drop to nobody for the process cap to bind. */
    private static final boolean RUN_AS_ROOT = runsAsRoot();

    private final Limits limits;

    private static boolean runsAsRoot() {
        try {
            return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }

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
                import os, socket, resource, subprocess
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
                print("host-files", "visible" if any(os.path.exists(p) for p in ("/etc", "/home", "/root", "/var")) else "hidden")
                print("as", resource.getrlimit(resource.RLIMIT_AS)[0])
                print("cpu", resource.getrlimit(resource.RLIMIT_CPU)[0])
                print("nproc", resource.getrlimit(resource.RLIMIT_NPROC)[0])
                children = []
                try:
                    for _ in range(%d):
                        children.append(subprocess.Popen(["sleep", "5"]))
                    print("processes-unbounded")
                except OSError:
                    print("processes-bounded")
                for child in children:
                    child.kill()
                """.formatted(limits.processes());
        Outcome outcome;
        try {
            outcome = sandbox.run(Map.of("probe.py", probe), List.of(python, "-I", "probe.py"));
        } catch (IOException e) {
            throw new IllegalStateException("the sandbox cannot start (needs unshare, prlimit, setpriv, chroot and " + python + "): "
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
            if (!out.contains("host-files hidden")) {
                problems.add("the host's files are visible");
            }
            if (!out.contains("nproc " + limits.processes()) || !out.contains("processes-bounded")) {
                problems.add("the number of processes is not bounded");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException("the sandbox cannot be enforced on this machine: " + String.join("; ", problems)
                    + " (it needs Linux user namespaces: unshare --map-root-user, and python under /usr)");
        }
        return sandbox;
    }

    public Limits limits() {
        return limits;
    }

    /** Writes {@code files} into a fresh directory, runs {@code command} there under the limits, and removes it. */
    public Outcome run(Map<String, String> files, List<String> command) throws IOException {
        Path base = Files.createTempDirectory("paced-sandbox-");
        try {
            Path work = Files.createDirectory(base.resolve("work"));
            Path root = Files.createDirectory(base.resolve("root"));
            for (Map.Entry<String, String> file : files.entrySet()) {
                Files.writeString(work.resolve(file.getKey()), file.getValue());
            }
            List<String> full = new ArrayList<>(List.of("prlimit", "--cpu=" + limits.cpuSeconds(),
                    "--as=" + limits.memoryBytes(), "--fsize=" + limits.fileBytes(), "--nproc=" + limits.processes(), "--core=0"));
            if (RUN_AS_ROOT) {
                for (Path path : List.of(base, work, root)) {
                    Files.setAttribute(path, "unix:uid", NOBODY);
                    Files.setAttribute(path, "unix:gid", NOBODY);
                }
                for (String file : files.keySet()) {
                    Files.setAttribute(work.resolve(file), "unix:uid", NOBODY);
                }
                full.addAll(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups"));
            }
            full.addAll(List.of("unshare", "--net", "--mount", "--pid", "--fork", "--kill-child", "--map-root-user",
                    "/bin/sh", "-c", CONFINE, "confine"));
            full.addAll(command);
            ProcessBuilder builder = new ProcessBuilder(full).redirectErrorStream(true).directory(work.toFile());
            builder.environment().clear();
            builder.environment().put("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
            builder.environment().put("WORK", work.toString());
            builder.environment().put("ROOT", root.toString());
            builder.environment().put("HOME", "/work");
            builder.environment().put("TMPDIR", "/work");
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
            try (Stream<Path> walk = Files.walk(base)) {
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
