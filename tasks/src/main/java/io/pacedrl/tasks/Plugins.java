package io.pacedrl.tasks;

import java.io.IOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Stream;

/**
 * Verifier plug-ins: the jars of a directory, added to what {@link ServiceLoader} searches for
 * {@link RewardVerifier}s ({@code java -jar} takes no class path of its own). Process-wide because
 * a class is loaded once per JVM: every service that scores (the reward service, the learner's
 * held-out evaluation) then finds the same verifiers.
 */
public final class Plugins {
    private static volatile ClassLoader loader = Plugins.class.getClassLoader();

    private Plugins() {}

    /** Adds the jars of {@code dir} (each with its META-INF/services entry); fails naming the directory if it holds none. */
    public static synchronized List<Path> load(Path dir) {
        List<Path> found;
        try (Stream<Path> files = Files.list(dir)) {
            found = files.filter(f -> f.getFileName().toString().endsWith(".jar")).sorted().toList();
        } catch (IOException e) {
            throw new IllegalArgumentException("--plugins " + dir + ": cannot list it (" + e + ")", e);
        }
        if (found.isEmpty()) {
            throw new IllegalArgumentException("--plugins " + dir + " holds no .jar file");
        }
        List<URL> urls = new ArrayList<>();
        for (Path jar : found) {
            try {
                urls.add(jar.toUri().toURL());
            } catch (MalformedURLException e) {
                throw new IllegalArgumentException("--plugins: " + jar + " is not a usable path", e);
            }
        }
        loader = new URLClassLoader(urls.toArray(URL[]::new), loader);
        return found;
    }

    /** Every verifier the class path and the loaded plug-ins provide. */
    public static List<RewardVerifier> verifiers() {
        return ServiceLoader.load(RewardVerifier.class, loader).stream().map(ServiceLoader.Provider::get).toList();
    }
}
