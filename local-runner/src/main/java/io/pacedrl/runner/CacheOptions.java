package io.pacedrl.runner;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where warm starts are cached, shared by the commands that train or load one. */
public final class CacheOptions {
    @Option(names = "--cache-dir", paramLabel = "DIR", description = "Where warm starts are cached (default: ~/.cache/paced-rl).")
    Path cacheDir = Path.of(System.getProperty("user.home"), ".cache", "paced-rl");
}
