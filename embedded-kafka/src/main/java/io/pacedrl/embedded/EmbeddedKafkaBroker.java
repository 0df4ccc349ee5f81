package io.pacedrl.embedded;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.metadata.storage.Formatter;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real single-node Kafka broker in KRaft mode (one process acting as broker and controller)
 * running inside this JVM: the same server a cluster runs, reachable by any Kafka client, bound to
 * free ports on the loopback address only, with its log and metadata in a directory of the caller's.
 * Started again on the same directory, it carries on with the topics and offsets it had.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EmbeddedKafkaBroker.class);
    private static final String HOST = "127.0.0.1";
    private static final int NODE_ID = 1;
    private static final int START_ATTEMPTS = 3;

    /**
     * Broker settings a one-node cluster needs: internal topics default to replication factor 3 and
     * consumer groups and transactions hang without these; topics come only from the catalogue.
     */
    static final Map<String, String> SINGLE_NODE_CONFIG = Map.ofEntries(
            Map.entry("offsets.topic.replication.factor", "1"),
            Map.entry("offsets.topic.num.partitions", "4"),
            Map.entry("transaction.state.log.replication.factor", "1"),
            Map.entry("transaction.state.log.min.isr", "1"),
            Map.entry("transaction.state.log.num.partitions", "4"),
            Map.entry("share.coordinator.state.topic.replication.factor", "1"),
            Map.entry("share.coordinator.state.topic.min.isr", "1"),
            Map.entry("group.initial.rebalance.delay.ms", "0"),
            Map.entry("auto.create.topics.enable", "false"),
            // a small log cleaner: compacted topics here are small
            Map.entry("log.cleaner.dedupe.buffer.size", "2097152"),
            // A deleted topic's files are closed and removed only by a task that first runs 30 s after
            // start-up, then after a minute's delay; a broker closed sooner never closes them, so a
            // process that runs many brokers (the tests, compare) would leak a file handle per partition.
            Map.entry("log.initial.task.delay.ms", "500"),
            Map.entry("log.segment.delete.delay.ms", "500"));

    private final KafkaRaftServer server;
    private final String bootstrapServers;
    private final Path dataDir;
    private final boolean deleteOnClose;
    private final int[] ports;
    private final Map<String, String> plainUsers;
    private boolean closed;

    private EmbeddedKafkaBroker(KafkaRaftServer server, int[] ports, Path dataDir, boolean deleteOnClose, Map<String, String> plainUsers) {
        this.server = server;
        this.ports = ports;
        this.plainUsers = plainUsers;
        this.bootstrapServers = HOST + ":" + ports[0];
        this.dataDir = dataDir;
        this.deleteOnClose = deleteOnClose;
    }

    /**
     * Starts the broker on {@code dataDir}, formatting it first if it is new. With
     * {@code deleteOnClose} the directory is removed at close (tests); otherwise it stays (runs).
     */
    public static EmbeddedKafkaBroker start(Path dataDir, boolean deleteOnClose) throws Exception {
        return start(dataDir, deleteOnClose, null, Map.of());
    }

    /**
     * The same broker with SASL/PLAIN on its client listener, as a managed cluster has: only clients
     * that log in as one of {@code users} (name → password) are served. The broker talks to itself
     * on a second, plaintext listener that clients are not told about.
     */
    public static EmbeddedKafkaBroker startWithSaslPlain(Path dataDir, boolean deleteOnClose, Map<String, String> users)
            throws Exception {
        if (users.isEmpty()) {
            throw new IllegalArgumentException("SASL/PLAIN needs at least one user");
        }
        return start(dataDir, deleteOnClose, null, Map.copyOf(users));
    }

    /**
     * Stops this broker and starts it again on its directory and its ports, as an operator restarts
     * one: clients reconnect to the address they have. Its data is kept whatever it was started with.
     */
    public EmbeddedKafkaBroker restart() throws Exception {
        synchronized (this) {
            closed = true;
            server.shutdown();
            server.awaitShutdown();
        }
        return start(dataDir, deleteOnClose, ports, plainUsers);
    }

    /** {@code fixedPorts}: the broker's, the controller's and the internal listener's port, or null for free ones. */
    private static EmbeddedKafkaBroker start(Path dataDir, boolean deleteOnClose, int[] fixedPorts, Map<String, String> plainUsers)
            throws Exception {
        long started = System.nanoTime();
        Path logDir = Files.createDirectories(dataDir).resolve("log");
        for (int attempt = 1; ; attempt++) {
            // Static quorum voters need the controller's port before start; a port another process
            // takes between choosing and binding fails the start, which is retried on new ports.
            int[] ports = fixedPorts != null ? fixedPorts : freeLoopbackPorts(3);
            KafkaConfig config = new KafkaConfig(config(logDir, ports, plainUsers), false);
            format(logDir);
            KafkaRaftServer server = new KafkaRaftServer(config, Time.SYSTEM);
            try {
                server.startup();
            } catch (RuntimeException e) {
                server.shutdown();
                server.awaitShutdown();
                if (attempt == START_ATTEMPTS) {
                    throw new IllegalStateException("the embedded Kafka broker did not start in " + dataDir, e);
                }
                log.warn("embedded broker start failed ({}); retrying{}", e.toString(), fixedPorts == null ? " on other ports" : "");
                continue;
            }
            EmbeddedKafkaBroker broker = new EmbeddedKafkaBroker(server, ports, dataDir, deleteOnClose, plainUsers);
            log.info("Kafka broker (KRaft, single node) ready at {} in {} ms; data in {}", broker.bootstrapServers,
                    Duration.ofNanos(System.nanoTime() - started).toMillis(), dataDir);
            return broker;
        }
    }

    /** ports: the client listener's, the controller's, and (with SASL users) the internal listener's. */
    private static Properties config(Path logDir, int[] ports, Map<String, String> plainUsers) {
        Properties props = new Properties();
        props.put("process.roles", "broker,controller");
        props.put("node.id", Integer.toString(NODE_ID));
        props.put("controller.quorum.voters", NODE_ID + "@" + HOST + ":" + ports[1]);
        props.put("controller.listener.names", "CONTROLLER");
        if (plainUsers.isEmpty()) {
            props.put("listeners", "PLAINTEXT://" + HOST + ":" + ports[0] + ",CONTROLLER://" + HOST + ":" + ports[1]);
            props.put("advertised.listeners", "PLAINTEXT://" + HOST + ":" + ports[0]);
            props.put("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
            props.put("inter.broker.listener.name", "PLAINTEXT");
        } else {
            props.put("listeners", "CLIENT://" + HOST + ":" + ports[0] + ",CONTROLLER://" + HOST + ":" + ports[1]
                    + ",INTERNAL://" + HOST + ":" + ports[2]);
            props.put("advertised.listeners", "CLIENT://" + HOST + ":" + ports[0] + ",INTERNAL://" + HOST + ":" + ports[2]);
            props.put("listener.security.protocol.map", "CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT");
            props.put("inter.broker.listener.name", "INTERNAL");
            props.put("sasl.enabled.mechanisms", "PLAIN");
            StringBuilder jaas = new StringBuilder("org.apache.kafka.common.security.plain.PlainLoginModule required");
            plainUsers.forEach((user, password) -> jaas.append(" user_").append(user).append("=\"").append(password).append('"'));
            props.put("listener.name.client.plain.sasl.jaas.config", jaas.append(';').toString());
        }
        props.put("log.dirs", logDir.toString());
        props.putAll(SINGLE_NODE_CONFIG);
        return props;
    }

    /** Formats a new log directory (as kafka-storage.sh format does); a formatted one keeps its cluster. */
    private static void format(Path logDir) throws Exception {
        if (Files.exists(logDir.resolve("meta.properties"))) {
            return;
        }
        ByteArrayOutputStream output = new ByteArrayOutputStream();
        new Formatter()
                .setPrintStream(new PrintStream(output, true, StandardCharsets.UTF_8))
                .setNodeId(NODE_ID)
                .setClusterId(Uuid.randomUuid().toString())
                .setDirectories(List.of(logDir.toString()))
                .setMetadataLogDirectory(logDir.toString())
                .setControllerListenerName("CONTROLLER")
                .setReleaseVersion(MetadataVersion.latestProduction())
                .run();
        log.debug("format {}: {}", logDir, output.toString(StandardCharsets.UTF_8).strip());
    }

    /**
     * Distinct free ports: each socket stays open until all are chosen, since the system may hand a
     * just-closed port out again (two listeners on one port once stopped a broker's start in CI).
     */
    private static int[] freeLoopbackPorts(int count) throws IOException {
        ServerSocket[] sockets = new ServerSocket[count];
        try {
            int[] ports = new int[count];
            for (int i = 0; i < count; i++) {
                sockets[i] = new ServerSocket(0, 1, InetAddress.getByName(HOST));
                ports[i] = sockets[i].getLocalPort();
            }
            return ports;
        } finally {
            for (ServerSocket socket : sockets) {
                if (socket != null) {
                    socket.close();
                }
            }
        }
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    public Path dataDir() {
        return dataDir;
    }

    /** Stops the broker (and deletes its data if asked to at start); a second call does nothing. */
    @Override
    public synchronized void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        server.shutdown();
        server.awaitShutdown();
        if (deleteOnClose) {
            deleteRecursively(dataDir);
        }
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(path);
            }
        }
    }
}
