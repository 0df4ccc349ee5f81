package io.pacedrl.topics;

import io.pacedrl.tasks.Plugins;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --plugins DIR}: verifier jars to load ({@link Plugins}), for every command that scores responses. */
public final class PluginOptions {
    @Option(names = "--plugins", paramLabel = "DIR", defaultValue = "${env:PACED_RL_PLUGINS}",
            description = "A directory of verifier jars (each listing its verifiers in META-INF/services/io.pacedrl.tasks.RewardVerifier). "
                    + "Env: PACED_RL_PLUGINS.")
    Path dir;

    /** Loads the directory's jars, if one was given; fails naming it if it holds none. */
    public void load() {
        if (dir != null) {
            Plugins.load(dir);
        }
    }
}
