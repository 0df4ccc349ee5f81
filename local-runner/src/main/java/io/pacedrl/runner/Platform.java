package io.pacedrl.runner;

import io.pacedrl.embedded.LocalKafka;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.topics.HangingTransactions;
import io.pacedrl.topics.TopicCreator;
import io.pacedrl.topics.Topics;
import io.pacedrl.topics.TopicSpec;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

/**
 * The Kafka cluster and schema registry a command works against: the embedded ones, started in this
 * process with their data in the run directory, or a user's own, given by address. Nothing else
 * changes between the two.
 */
public final class Platform implements AutoCloseable {
    static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(60);

    private final String bootstrapServers;
    private final String schemaRegistryUrl;
    private final LocalKafka embedded;

    private Platform(String bootstrapServers, String schemaRegistryUrl, LocalKafka embedded) {
        this.bootstrapServers = bootstrapServers;
        this.schemaRegistryUrl = schemaRegistryUrl;
        this.embedded = embedded;
    }

    /** A user's cluster and registry; both addresses are needed. */
    public static Platform external(String bootstrapServers, String schemaRegistryUrl) {
        return new Platform(bootstrapServers, schemaRegistryUrl, null);
    }

    /** Starts a KRaft broker with its data in {@code dataDir} and a registry over it. */
    public static Platform embedded(Path dataDir) throws Exception {
        LocalKafka kafka = LocalKafka.start(dataDir, false);
        return new Platform(kafka.bootstrapServers(), kafka.schemaRegistryUrl(), kafka);
    }

    public String bootstrapServers() {
        return bootstrapServers;
    }

    public String schemaRegistryUrl() {
        return schemaRegistryUrl;
    }

    /** Creates the catalogue topics that are missing and checks those that exist (see {@link TopicCreator}). */
    public List<TopicCreator.Outcome> ensureTopics(Collection<TopicSpec<?, ?>> topics) {
        try (Admin admin = Admin.create(ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers)))) {
            return new TopicCreator(admin, ADMIN_TIMEOUT).ensure(topics);
        }
    }

    /** Deletes every topic whose name starts with {@code prefix}: a finished run's, its Streams app's internal ones included. */
    public void deleteTopicsWithPrefix(String prefix) throws Exception {
        try (Admin admin = Admin.create(ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers)))) {
            List<String> names = admin.listTopics().names().get(ADMIN_TIMEOUT.toSeconds(), TimeUnit.SECONDS).stream()
                    .filter(name -> name.startsWith(prefix)).toList();
            admin.deleteTopics(names).all().get(ADMIN_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        }
    }

    /**
     * The topic prefixes ({@code <prefix><run id>.}) of the runs recorded on this cluster under
     * {@code prefix}: those with a model-versions topic.
     */
    public List<String> recordedRuns(String prefix) throws Exception {
        String suffix = new Topics(new SchemaRegistryClient(schemaRegistryUrl)).modelVersions.name();
        try (Admin admin = Admin.create(ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers)))) {
            return admin.listTopics().names().get(ADMIN_TIMEOUT.toSeconds(), TimeUnit.SECONDS).stream()
                    .filter(name -> name.startsWith(prefix) && name.endsWith("." + suffix))
                    .map(name -> name.substring(0, name.length() - suffix.length())).sorted().toList();
        }
    }

    /**
     * Ends the hanging transactions (see {@link HangingTransactions}) on the topics whose names start
     * with {@code prefix} (a run's, its Streams app's internal ones included) and on the consumer
     * offsets topic, for a run about to resume, whose producers are all gone: each as its coordinator
     * decided it, an undecided one aborted. It first waits (up to a minute) for the coordinators to
     * finish the commits and aborts they were in the middle of when the cluster stopped.
     */
    public List<HangingTransactions.Ended> endHangingTransactions(String prefix) throws InterruptedException {
        Map<String, Object> config = ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers));
        try (Admin admin = Admin.create(config)) {
            long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
            while (HangingTransactions.completing(admin) && System.nanoTime() < deadline) {
                Thread.sleep(200);
            }
            return HangingTransactions.end(admin, config, HangingTransactions.findInRun(admin, config, prefix, Duration.ZERO), true);
        }
    }

    public boolean isEmbedded() {
        return embedded != null;
    }

    @Override
    public void close() throws IOException {
        if (embedded != null) {
            embedded.close();
        }
    }
}
