package io.pacedrl.difficulty;

import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.Torch;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.topics.ClusterOptions;
import io.pacedrl.topics.ServiceConfigOptions;
import io.pacedrl.topics.MetricsOptions;
import io.pacedrl.topics.ServiceLifecycle;
import io.pacedrl.topics.ServiceMeters;
import io.pacedrl.topics.TopicCreator;
import io.pacedrl.topics.Topics;
import io.pacedrl.topics.TransactionalProducers;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.Callable;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The difficulty-stream service: the Kafka Streams app that keeps per-prompt accuracy and log Z
 * state, schedules prompts, keeps the replay buffer, and answers queries over HTTP.
 */
public final class DifficultyStream implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(DifficultyStream.class);

    /**
     * Where the app runs and how it is reached. {@code applicationId} names its consumer group, its
     * internal topics and its state directory; instances with the same id share the work.
     */
    public record Options(String bootstrapServers, String schemaRegistryUrl, String topicPrefix, String applicationId,
            Path stateDir, String httpHost, int httpPort, int threads, String runId, Map<String, Object> streamsOverrides) {

        public Options {
            Topics.checkPrefix(topicPrefix);
            SchemaRegistryClient.parseUrl(schemaRegistryUrl);
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be ≥ 1, got " + threads);
            }
            if (httpPort < 0 || httpPort > 65535) {
                throw new IllegalArgumentException("http port must be in [0, 65535], got " + httpPort);
            }
            streamsOverrides = Map.copyOf(streamsOverrides);
        }

        /** One instance on a cluster: application id from the prefix, HTTP on a free loopback port. */
        public static Options of(String bootstrapServers, String schemaRegistryUrl, String topicPrefix, Path stateDir) {
            return new Options(bootstrapServers, schemaRegistryUrl, topicPrefix, topicPrefix + "difficulty-stream", stateDir,
                    "127.0.0.1", 0, 1, ServiceConfigOptions.defaultRunId(topicPrefix), Map.of());
        }
    }

    private final KafkaStreams streams;
    private final ServiceMeters meters;
    private final DifficultyQueries queries;

    private DifficultyStream(KafkaStreams streams, DifficultyQueries queries, ServiceMeters meters) {
        this.streams = streams;
        this.queries = queries;
        this.meters = meters;
    }

    /** Creates the catalogue's topics where missing, then starts the app and its query server. */
    public static DifficultyStream start(Options options, TrainingConfig config) throws Exception {
        SchemaRegistryClient registry = new SchemaRegistryClient(options.schemaRegistryUrl());
        Topics topics = new Topics(options.topicPrefix(), registry);
        Map<String, Object> adminConfig = ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers()));
        Optional<String> instanceId = Optional.ofNullable(options.streamsOverrides()
                .get(StreamsConfig.consumerPrefix(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG))).map(Object::toString);
        try (Admin admin = Admin.create(adminConfig)) {
            new TopicCreator(admin, Duration.ofSeconds(60)).ensure(topics.all());
            if (instanceId.isPresent()) {
                // Members a replaced thread of an earlier run of this instance left: this process will not rejoin as them.
                StaticMembers.remove(admin, options.applicationId(), StaticMembers.strays(instanceId.get(), options.threads(),
                        StaticMembers.of(admin, options.applicationId())));
            }
        }
        if (config.method().estimatesAccuracy()) {
            // p̂ is computed here with Z_φ: one PyTorch thread, as every service that shares the cores.
            Torch.configure(1);
        }
        BatchScheduler.Settings settings = BatchScheduler.Settings.of(config, topics.promptEmbeddings.partitions());
        DifficultyQueries queries = new DifficultyQueries(options.httpHost(), options.httpPort(), settings);
        try {
            KafkaStreams streams = new KafkaStreams(DifficultyTopology.build(topics, registry, config, options.runId(),
                    topics.promptEmbeddings.partitions()),
                    streamsConfig(options, queries.hostInfo().host() + ":" + queries.hostInfo().port(), settings));
            // A thread that dies (the registry unreachable, say) is replaced and resumes from the last commit.
            // Its replacement is a new static member; the dead one's is removed, not left to time out.
            streams.setUncaughtExceptionHandler(e -> {
                log.error("stream thread failed; replacing it", e);
                Thread failed = Thread.currentThread();
                instanceId.flatMap(id -> StaticMembers.ofThread(id, failed.getName())).ifPresent(member ->
                        StaticMembers.removeWhenEnded(failed, adminConfig, options.applicationId(), member));
                return StreamThreadExceptionResponse.REPLACE_THREAD;
            });
            streams.start();
            queries.serve(streams);
            log.info("difficulty-stream {} started: strategy {}, B {}, G {}, look-ahead {}; queries on {}",
                    options.applicationId(), BatchScheduler.Strategy.of(config.method()).key(), config.promptsPerStep(),
                    config.groupSize(), config.lookAhead(), queries.url());
            ServiceMeters meters = new ServiceMeters("difficulty-stream", options.topicPrefix(), options.applicationId());
            // Kafka Streams' own metrics are not bound: twice in CI a chaos campaign stalled with the stream silent from
            // its broker's restart on, and this binder's polling of streams.metrics() was the new part running in it then.
            DifficultyStream app = new DifficultyStream(streams, queries, meters);
            meters.healthCheck(() -> app.failure().map(IllegalStateException::getMessage));
            return app;
        } catch (RuntimeException e) {
            queries.close();
            throw e;
        }
    }

    /**
     * The Streams configuration: exactly-once, RocksDB state under the state directory, queries
     * advertised, and a commit interval that suits how the scheduler waits.
     */
    static Properties streamsConfig(Options options, String applicationServer, BatchScheduler.Settings settings) {
        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, options.applicationId());
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers());
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        // Each commit is a transaction over every task, and a group's result reaches the scheduler only once
        // the commit after it is done. The scheduler asks for a commit as soon as it decides anything, so
        // what the generators and the learner wait for never waits for the interval; group results do. Where a
        // decision waits on them, commit as often as exactly-once does by default (100 ms); elsewhere once a
        // second: fewer transactions, and a group's rollouts, rewritten as they arrive, reach the store once.
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, settings.waitsOnGroups() ? 100 : 1000);
        props.put(StreamsConfig.STATE_DIR_CONFIG, options.stateDir().toString());
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, options.threads());
        props.put(StreamsConfig.APPLICATION_SERVER_CONFIG, applicationServer);
        // The classic rebalance protocol reaches RUNNING in ~3 s here against ~9 s for the newer one.
        props.put(StreamsConfig.GROUP_PROTOCOL_CONFIG, "classic");
        props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        // Larger polls and producer batches: scored rollouts/s on two cores went from ~30k to 40–47k.
        props.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_POLL_RECORDS_CONFIG), 5000);
        props.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.INTERCEPTOR_CLASSES_CONFIG), PollClock.class.getName());
        props.put(StreamsConfig.producerPrefix(ProducerConfig.BATCH_SIZE_CONFIG), 256 * 1024);
        props.put(StreamsConfig.producerPrefix(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION), TransactionalProducers.MAX_IN_FLIGHT);
        props.putAll(options.streamsOverrides());
        return ClientSettings.kafka(props);
    }

    /**
     * Streams settings for static membership as {@code instanceId}: after a crash the instance
     * rejoins with its old assignment at once, instead of the group waiting out the dead member's
     * session (about 45 s of no scheduling).
     */
    public static Map<String, Object> staticMember(String instanceId) {
        return Map.of(StreamsConfig.consumerPrefix(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG), instanceId);
    }

    /** Waits until the app is processing, or fails if it stops or {@code timeout} passes. */
    public void awaitRunning(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (streams.state() != KafkaStreams.State.RUNNING) {
            if (!streams.state().isRunningOrRebalancing() || System.nanoTime() > deadline) {
                throw new IllegalStateException("difficulty-stream is " + streams.state() + " after " + timeout);
            }
            Thread.sleep(50);
        }
    }

    /** Why it stopped processing, if it did: Kafka Streams is neither running nor rebalancing. */
    public Optional<IllegalStateException> failure() {
        return streams.state().isRunningOrRebalancing() ? Optional.empty()
                : Optional.of(new IllegalStateException("difficulty-stream is " + streams.state()));
    }

    /** Base URL of the interactive queries. */
    public URI queryUrl() {
        return queries.url();
    }

    public KafkaStreams streams() {
        return streams;
    }

    @Override
    public void close() {
        try {
            // Leave the group, so that a restarted or remaining instance takes the tasks over at once
            // rather than after the session timeout.
            streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                    .withTimeout(Duration.ofSeconds(30)));
        } finally {
            queries.close();
            meters.close();
        }
    }

    /** The service on the command line. */
    @Command(name = "difficulty-stream", mixinStandardHelpOptions = true,
            description = "Run the difficulty-stream service: per-prompt p̂ and accuracy state, the schedule, replay, queries.")
    public static final class Main implements Callable<Integer> {
        @Mixin
        ClusterOptions cluster;

        @Mixin
        MetricsOptions metrics;

        @Option(names = "--application-id", paramLabel = "ID",
                description = "Streams application id; instances with the same id share the work. Default: <prefix>difficulty-stream.")
        String applicationId;

        @Option(names = "--state-dir", defaultValue = "state", paramLabel = "DIR", description = "RocksDB state. Default: ${DEFAULT-VALUE}.")
        Path stateDir;

        @Option(names = "--http-host", defaultValue = "127.0.0.1", paramLabel = "HOST",
                description = "Address the queries listen on and are advertised under. Default: ${DEFAULT-VALUE}.")
        String httpHost;

        @Option(names = "--http-port", defaultValue = "7070", paramLabel = "PORT", description = "Default: ${DEFAULT-VALUE}.")
        int httpPort;

        @Option(names = "--threads", defaultValue = "1", paramLabel = "N", description = "Stream threads. Default: ${DEFAULT-VALUE}.")
        int threads;

        @Option(names = "--instance-id", paramLabel = "ID", description = "Static membership: this instance's id in the group, unique "
                + "per instance and kept across restarts, so a restarted instance takes its tasks back at once instead of after the "
                + "session timeout. Default: none (dynamic membership).")
        String instanceId;

        @Mixin
        ServiceConfigOptions run;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            TrainingConfig config;
            Options options;
            try {
                cluster.validate();
                config = TrainingConfig.load(run.configFile, run.set);
                Options defaults = Options.of(cluster.bootstrapServers, cluster.schemaRegistryUrl, cluster.topicPrefix, stateDir);
                options = new Options(cluster.bootstrapServers, cluster.schemaRegistryUrl, cluster.topicPrefix,
                        applicationId == null ? defaults.applicationId() : applicationId, Files.createDirectories(stateDir),
                        httpHost, httpPort, threads, run.runId(cluster.topicPrefix),
                        instanceId == null ? Map.of() : staticMember(instanceId));
                cluster.requireReachable();
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            DifficultyStream app = start(options, config);
            // Ctrl-C closes the app cleanly (state flushed, transaction ended) before the JVM exits.
            return ServiceLifecycle.runUntilShutdown(app, "difficulty-stream running; queries on " + app.queryUrl(), app::failure,
                    metrics);
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }
}
