package io.pacedrl.runner;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/** What this build is: the project's version and the commit it was made from (git.properties, written by the build). */
public final class BuildInfo implements IVersionProvider {
    private static final Properties GIT = load();

    private static Properties load() {
        Properties git = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream("git.properties")) {
            if (in != null) {
                git.load(in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the build's git.properties", e);
        }
        return git;
    }

    /** The commit this build was made from, "-dirty" if its tree had changes; "unknown" outside a git checkout. */
    static String commit() {
        String id = GIT.getProperty("git.commit.id.full", "");
        if (id.isBlank()) {
            return "unknown";
        }
        return id + ("true".equals(GIT.getProperty("git.dirty")) ? "-dirty" : "");
    }

    static String version() {
        return GIT.getProperty("git.build.version", "unknown");
    }

    @Override
    public String[] getVersion() {
        return new String[] {"paced-rl " + version() + " (commit " + commit() + ", " + GIT.getProperty("git.commit.time", "time unknown")
                + "; Java " + Runtime.version() + ")"};
    }
}
