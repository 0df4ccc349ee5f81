package io.pacedrl.embedded;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node Kafka broker in KRaft mode (one combined broker + controller) running inside
 * this JVM, listening on a free loopback port, its log and metadata in a directory of the caller's.
 * It is the same broker a cluster runs, reachable by any Kafka client.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedKafkaBroker.class);

    /**
     * Broker settings a one-node cluster needs: internal topics default to replication factor 3 and
     * consumer groups and transactions hang without these; topics come only from the catalogue.
     */
    static final Map<String, Object> SINGLE_NODE_CONFIG = Map.of(
            "offsets.topic.replication.factor", "1",
            "offsets.topic.num.partitions", "4",
            "transaction.state.log.replication.factor", "1",
            "transaction.state.log.min.isr", "1",
            "transaction.state.log.num.partitions", "4",
            "share.coordinator.state.topic.replication.factor", "1",
            "share.coordinator.state.topic.min.isr", "1",
            "group.initial.rebalance.delay.ms", "0",
            "auto.create.topics.enable", "false");

    private final KafkaClusterTestKit cluster;
    private final Path dataDir;
    private boolean closed;

    private EmbeddedKafkaBroker(KafkaClusterTestKit cluster, Path dataDir) {
        this.cluster = cluster;
        this.dataDir = dataDir;
    }

    /**
     * Formats {@code dataDir} and starts the broker there. With {@code deleteOnClose} the directory
     * is removed at close (tests); otherwise it stays for inspection (runs).
     */
    public static EmbeddedKafkaBroker start(Path dataDir, boolean deleteOnClose) throws Exception {
        long started = System.nanoTime();
        Files.createDirectories(dataDir);
        TestKitNodes nodes = new TestKitNodes.Builder()
                .setCombined(true)
                .setNumBrokerNodes(1)
                .setNumControllerNodes(1)
                // The kit otherwise formats with the newest, unreleased metadata version.
                .setBootstrapMetadataVersion(MetadataVersion.latestProduction())
                .setBaseDirectory(dataDir)
                .build();
        KafkaClusterTestKit.Builder builder = new KafkaClusterTestKit.Builder(nodes).setDeleteOnClose(deleteOnClose);
        SINGLE_NODE_CONFIG.forEach(builder::setConfigProp);
        KafkaClusterTestKit cluster = builder.build();
        try {
            formatQuietly(cluster);
            cluster.startup();
            cluster.waitForReadyBrokers();
        } catch (Exception | Error e) {
            cluster.close();
            throw e;
        }
        EmbeddedKafkaBroker broker = new EmbeddedKafkaBroker(cluster, dataDir);
        log.info("Kafka broker (KRaft, single node) ready at {} in {} ms; data in {}", broker.bootstrapServers(),
                Duration.ofNanos(System.nanoTime() - started).toMillis(), dataDir);
        return broker;
    }

    /** The kit's formatter prints its bootstrap records to System.out; keep them in the debug log instead. */
    private static void formatQuietly(KafkaClusterTestKit cluster) throws Exception {
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            cluster.format();
        } finally {
            System.setOut(stdout);
            log.debug("format: {}", captured.toString(StandardCharsets.UTF_8));
        }
    }

    public String bootstrapServers() {
        return cluster.bootstrapServers();
    }

    public Path dataDir() {
        return dataDir;
    }

    /** Stops the broker; a second call does nothing (closing the test kit twice fails). */
    @Override
    public synchronized void close() throws Exception {
        if (!closed) {
            closed = true;
            cluster.close();
        }
    }
}
