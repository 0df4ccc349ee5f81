package io.pacedrl.embedded;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The embedded default's Kafka platform, what compose/ runs as containers: a KRaft broker in this
 * JVM and a Confluent-protocol schema registry over it, both on free loopback ports.
 */
public final class LocalKafka implements AutoCloseable {
    private final EmbeddedKafkaBroker broker;
    private final SchemaRegistryServer registry;

    private LocalKafka(EmbeddedKafkaBroker broker, SchemaRegistryServer registry) {
        this.broker = broker;
        this.registry = registry;
    }

    /** Starts a broker with its data under {@code dataDir} and a registry storing schemas in it. */
    public static LocalKafka start(Path dataDir, boolean deleteOnClose) throws Exception {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dataDir, deleteOnClose);
        try {
            return new LocalKafka(broker, SchemaRegistryServer.start(broker.bootstrapServers(),
                    SchemaRegistryServer.DEFAULT_TOPIC, "127.0.0.1", 0));
        } catch (Exception e) {
            broker.close();
            throw e;
        }
    }

    public String bootstrapServers() {
        return broker.bootstrapServers();
    }

    public String schemaRegistryUrl() {
        return registry.url();
    }

    public EmbeddedKafkaBroker broker() {
        return broker;
    }

    @Override
    public void close() throws IOException {
        try {
            registry.close();
        } finally {
            broker.close();
        }
    }
}
