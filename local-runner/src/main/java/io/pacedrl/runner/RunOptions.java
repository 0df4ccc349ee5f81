package io.pacedrl.runner;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import picocli.CommandLine.Option;

/** Where a command writes its files: the run directory, and its JSON results in it. */
public final class RunOptions {
    @Option(names = "--run-dir", paramLabel = "DIR",
            description = "Directory for the run's files (broker data, results, plots). Default: runs/<command>-<time>.")
    Path runDir;

    /** The run directory (given, or runs/&lt;command&gt;-&lt;time&gt;), created if it does not exist. */
    Path runDir(String commandName) throws IOException {
        return runDir(commandName, LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    }

    /** The run directory (given, or runs/&lt;command&gt;-&lt;id&gt;), created if it does not exist. */
    Path runDir(String commandName, String id) throws IOException {
        if (runDir == null) {
            runDir = Path.of("runs", commandName + "-" + id);
        }
        return Files.createDirectories(runDir);
    }

    /** The run directory (given, or runs/&lt;name&gt;), not created. */
    Path runDirOrNamed(String name) {
        return runDir != null ? runDir : Path.of("runs", name);
    }

    /** Writes a command's results as indented JSON into the run directory and returns the file. */
    Path writeResults(String commandName, String fileName, Object results) throws IOException {
        Path file = runDir(commandName).resolve(fileName);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(file.toFile(), results);
        return file;
    }
}
