package io.pacedrl.registry;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * The client settings of this process's cluster, as Kafka's tools take them (a properties file and
 * {@code -X key=value}): security ({@code security.protocol}, {@code sasl.*}, {@code ssl.*}),
 * timeouts, anything a Kafka client accepts, plus the registry's own keys in Confluent's names
 * ({@code basic.auth.user.info}, {@code schema.registry.ssl.truststore.*}). Process-wide because a
 * process talks to one cluster: every producer, consumer, admin and Streams client this code
 * creates is configured through {@link #kafka}, and every registry client reads {@link #registry}.
 * A command sets them once at start-up; nothing set means plain clients.
 */
public final class ClientSettings {
    /** Keys that configure the registry client, not Kafka's. */
    public static final String USER_INFO = "basic.auth.user.info";
    public static final String CREDENTIALS_SOURCE = "basic.auth.credentials.source";
    public static final String REGISTRY_PREFIX = "schema.registry.";

    private static volatile Map<String, String> kafka = Map.of();
    private static volatile Map<String, String> registry = Map.of();

    private ClientSettings() {}

    /**
     * Uses {@code properties} from now on (replacing what was set): the registry's keys for registry
     * clients, the rest for Kafka clients.
     */
    public static void use(Map<String, String> properties) {
        Map<String, String> forKafka = new TreeMap<>();
        Map<String, String> forRegistry = new TreeMap<>();
        properties.forEach((key, value) -> (isRegistryKey(key) ? forRegistry : forKafka).put(key, value));
        String source = forRegistry.get(CREDENTIALS_SOURCE);
        if (source != null && !source.equals("USER_INFO")) {
            throw new IllegalArgumentException(CREDENTIALS_SOURCE + "=" + source + " is not supported; use USER_INFO with "
                    + USER_INFO + "=USER:PASSWORD");
        }
        String userInfo = forRegistry.get(USER_INFO);
        if (userInfo != null && !userInfo.contains(":")) {
            throw new IllegalArgumentException(USER_INFO + " must be USER:PASSWORD");
        }
        kafka = Map.copyOf(forKafka);
        registry = Map.copyOf(forRegistry);
    }

    /** Reads a Java properties file of client settings (Kafka's {@code --command-config}); fails naming the file. */
    public static Map<String, String> read(Path file) {
        Properties properties = new Properties();
        try (InputStream in = Files.newInputStream(file)) {
            properties.load(in);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read client settings from " + file + ": " + e, e);
        }
        Map<String, String> read = new LinkedHashMap<>();
        properties.stringPropertyNames().forEach(key -> read.put(key, properties.getProperty(key)));
        return read;
    }

    private static boolean isRegistryKey(String key) {
        return key.startsWith(REGISTRY_PREFIX) || key.startsWith("basic.auth.");
    }

    /** A Kafka client's configuration: {@code base} with this process's client settings over it. */
    public static Map<String, Object> kafka(Map<String, ?> base) {
        Map<String, Object> config = new LinkedHashMap<>(base);
        config.putAll(kafka);
        return config;
    }

    /** The same, for the clients configured by {@link Properties} (Kafka Streams). */
    public static Properties kafka(Properties base) {
        Properties config = new Properties();
        config.putAll(base);
        config.putAll(kafka);
        return config;
    }

    /** The value of the HTTP Authorization header for the registry, if basic auth is set. */
    static Optional<String> registryAuthorization() {
        String userInfo = registry.get(USER_INFO);
        return userInfo == null ? Optional.empty()
                : Optional.of("Basic " + Base64.getEncoder().encodeToString(userInfo.getBytes(StandardCharsets.UTF_8)));
    }

    /** The TLS context for an https registry: its truststore if one is set, else the JVM's default. */
    static SSLContext registrySslContext() {
        String location = registry.get(REGISTRY_PREFIX + "ssl.truststore.location");
        try {
            if (location == null) {
                return SSLContext.getDefault();
            }
            String password = registry.getOrDefault(REGISTRY_PREFIX + "ssl.truststore.password", "");
            KeyStore store = KeyStore.getInstance(registry.getOrDefault(REGISTRY_PREFIX + "ssl.truststore.type", "PKCS12"));
            try (InputStream in = Files.newInputStream(Path.of(location))) {
                store.load(in, password.toCharArray());
            }
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(store);
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, trust.getTrustManagers(), null);
            return context;
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot use the registry truststore " + location + ": " + e.getMessage(), e);
        }
    }
}
