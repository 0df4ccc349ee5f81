package io.pacedrl.runner;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One {@code paced-rl} command in its own JVM, as an operator runs a service: started, killed with
 * SIGKILL (no shutdown hook runs), started again with the same arguments, its output appended to
 * one log file.
 */
final class ServiceProcess implements AutoCloseable {
    private final String name;
    private final List<String> command;
    private final Path log;
    private Process process;
    private int exitedOnItsOwn;

    /** {@code args}: the command and its options, after {@code paced-rl}; {@code jvmOptions} go before the main class. */
    ServiceProcess(String name, List<String> jvmOptions, List<String> args, Path log) {
        this.name = name;
        this.log = log;
        List<String> full = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx2g"));
        full.addAll(jvmOptions);
        full.addAll(List.of("-cp", System.getProperty("java.class.path"), PacedRl.class.getName()));
        full.addAll(args);
        this.command = List.copyOf(full);
    }

    String name() {
        return name;
    }

    Path log() {
        return log;
    }

    synchronized void start() throws IOException {
        process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
    }

    /** Runs it to its end (a one-shot command such as {@code pool}); fails, pointing at its log, unless it exits with 0. */
    void runToEnd(Duration timeout) throws IOException, InterruptedException {
        start();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly().waitFor();
            throw new IllegalStateException(name + " did not finish within " + timeout.toSeconds() + " s; see " + log);
        }
        if (process.exitValue() != 0) {
            throw new IllegalStateException(name + " exited with " + process.exitValue() + "; see " + log);
        }
    }

    /** SIGKILL, then the same command again. */
    synchronized void killAndRestart() throws IOException, InterruptedException {
        kill();
        start();
    }

    synchronized void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    /** Starts it again if it has exited by itself (as a supervisor restarts a failed service); true if it had. */
    synchronized boolean restartIfExited() throws IOException {
        if (process.isAlive()) {
            return false;
        }
        exitedOnItsOwn++;
        start();
        return true;
    }

    /** How often it exited without being killed and was started again. */
    synchronized int exitedOnItsOwn() {
        return exitedOnItsOwn;
    }

    /** Asks it to stop (SIGTERM: its shutdown hook closes it cleanly), then kills it if it has not within 30 s. */
    @Override
    public synchronized void close() throws InterruptedException {
        if (process == null) {
            return;
        }
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
    }
}
