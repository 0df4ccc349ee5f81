package io.pacedrl.reward;

import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.tasks.Plugins;
import io.pacedrl.tasks.RewardVerifier;
import io.pacedrl.topics.ClusterOptions;
import io.pacedrl.topics.MetricsOptions;
import io.pacedrl.topics.PluginOptions;
import io.pacedrl.topics.ServiceLifecycle;
import io.pacedrl.topics.ServiceMeters;
import io.pacedrl.topics.TopicCreator;
import io.pacedrl.topics.Topics;
import io.pacedrl.topics.TransactionalProducers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.ToLongFunction;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The reward service: each verifier it runs is its own consumer group over the rollouts, so a new
 * verifier (a new jar, or this service started again with its name) joins a running pipeline
 * without touching anything else, and a slow verifier never holds up another. Beside them runs the
 * audit group, which dead-letters what no verifier can take.
 */
public final class RewardService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(RewardService.class);

    /**
     * @param instanceId    this process among the service's instances: its transactional producers and its static
     *                      group membership (a process restarted with the same id takes its partitions back at
     *                      once instead of after the dead one's session timeout)
     * @param verifyTimeout longest a verification may take before its rollout is dead-lettered
     * @param threads       verifications run in parallel per verifier
     */
    public record Options(String bootstrapServers, String schemaRegistryUrl, String topicPrefix, String instanceId,
            Duration verifyTimeout, int threads) {

        public Options {
            Topics.checkPrefix(topicPrefix);
            SchemaRegistryClient.parseUrl(schemaRegistryUrl);
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be ≥ 1, got " + threads);
            }
            if (verifyTimeout.isNegative() || verifyTimeout.isZero()) {
                throw new IllegalArgumentException("the verification timeout must be positive, got " + verifyTimeout);
            }
        }

        public static Options of(String bootstrapServers, String schemaRegistryUrl, String topicPrefix) {
            return new Options(bootstrapServers, schemaRegistryUrl, topicPrefix, UUID.randomUUID().toString().substring(0, 8),
                    Duration.ofSeconds(30), 2);
        }

        public Options withInstanceId(String id) {
            return new Options(bootstrapServers, schemaRegistryUrl, topicPrefix, id, verifyTimeout, threads);
        }
    }

    private final List<ConsumeProduceLoop> members;
    private final List<Thread> threads;
    private final List<ExecutorService> executors;
    private final ServiceMeters meters;

    private RewardService(List<ConsumeProduceLoop> members, List<Thread> threads, List<ExecutorService> executors, ServiceMeters meters) {
        this.members = members;
        this.meters = meters;
        this.threads = threads;
        this.executors = executors;
    }

    /** Every verifier on the class path and in the loaded plug-ins, by name. */
    public static Map<String, RewardVerifier> available() {
        Map<String, RewardVerifier> byName = new LinkedHashMap<>();
        Plugins.verifiers().forEach(v -> byName.put(v.name(), v));
        return byName;
    }

    /**
     * Starts a consumer group member for each of {@code verifiers} and one of the audit group, which
     * knows the kinds of every verifier on the class path.
     */
    public static RewardService start(Options options, List<RewardVerifier> verifiers) {
        return start(options, verifiers, Set.of());
    }

    /**
     * As above, with {@code externalKinds} scored by verifiers outside this process (a consumer in
     * another language, say): the audit group leaves their rollouts to them instead of dead-lettering
     * them as kinds no verifier knows.
     */
    public static RewardService start(Options options, List<RewardVerifier> verifiers, Set<String> externalKinds) {
        SchemaRegistryClient registry = new SchemaRegistryClient(options.schemaRegistryUrl());
        Topics topics = new Topics(options.topicPrefix(), registry);
        try (Admin admin = Admin.create(ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers())))) {
            new TopicCreator(admin, Duration.ofSeconds(60)).ensure(topics.all());
        }
        for (RewardVerifier verifier : verifiers) {
            if (verifier instanceof CodeTestVerifier code) {
                code.ready(); // refuse to start if the sandbox cannot be enforced here
            }
        }
        List<ConsumeProduceLoop> members = new ArrayList<>();
        List<ExecutorService> executors = new ArrayList<>();
        ServiceMeters meters = new ServiceMeters("reward-service", options.topicPrefix(), options.instanceId());
        for (RewardVerifier verifier : verifiers) {
            ExecutorService executor = Executors.newFixedThreadPool(options.threads(), r -> {
                Thread t = new Thread(r, "verify-" + verifier.name());
                t.setDaemon(true);
                return t;
            });
            executors.add(executor);
            members.add(new VerifierWorker(topics, verifier, consumer(options, verifier.name()),
                    producer(options, topics, verifier.name()), executor, options.verifyTimeout(),
                    meters.timer(ServiceMeters.VERIFIER_LATENCY, "verifier", verifier.name())));
        }
        Set<String> known = new HashSet<>();
        available().values().forEach(v -> known.addAll(v.kinds()));
        verifiers.forEach(v -> known.addAll(v.kinds()));
        known.addAll(externalKinds);
        members.add(new AuditWorker(topics, known, consumer(options, "audit"), producer(options, topics, "audit")));
        List<Thread> threads = new ArrayList<>();
        for (ConsumeProduceLoop member : members) {
            member.bindTo(meters, groupId(options.topicPrefix(), member instanceof VerifierWorker w ? w.verifier().name() : "audit"));
            Thread thread = new Thread(member, member.service);
            thread.start();
            threads.add(thread);
        }
        log.info("reward-service {} started: verifiers {}, audit knows kinds {}", options.instanceId(),
                verifiers.stream().map(RewardVerifier::name).toList(), known.stream().sorted().toList());
        RewardService service = new RewardService(members, threads, executors, meters);
        meters.healthCheck(() -> service.failure().map(Throwable::getMessage));
        return service;
    }

    /** The consumer group of the verifier (or "audit") under {@code topicPrefix}: the name Kafka's group tools show. */
    public static String groupId(String topicPrefix, String verifier) {
        return topicPrefix + "reward-" + verifier;
    }

    /** Rollouts scored so far by each verifier this process runs (committed). */
    public Map<String, Long> scored() {
        return perVerifier(m -> m.written.get());
    }

    /** Dead letters written so far by each verifier this process runs (committed). */
    public Map<String, Long> deadLettered() {
        return perVerifier(m -> m.deadLettered.get());
    }

    private Map<String, Long> perVerifier(ToLongFunction<ConsumeProduceLoop> count) {
        return members.stream().filter(m -> m instanceof VerifierWorker).collect(Collectors.toMap(
                m -> ((VerifierWorker) m).verifier().name(), count::applyAsLong, (a, b) -> a, LinkedHashMap::new));
    }

    /**
     * Why a member (a verifier's or the audit group's) stopped on its own, if one did: its rollouts
     * go unscored until the service is restarted, so whoever runs it should stop and say so.
     */
    public Optional<Throwable> failure() {
        return members.stream().filter(m -> m.failure != null).findFirst()
                .map(m -> new IllegalStateException(m.service + " stopped: " + m.failure, m.failure));
    }

    private static KafkaConsumer<String, byte[]> consumer(Options options, String member) {
        return new KafkaConsumer<>(ClientSettings.kafka(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, groupId(options.topicPrefix(), member),
                ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, groupId(options.topicPrefix(), member) + "-" + options.instanceId(),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000)),
                new StringDeserializer(), new ByteArrayDeserializer());
    }

    private static KafkaProducer<String, Object> producer(Options options, Topics topics, String member) {
        return new KafkaProducer<>(ClientSettings.kafka(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers(),
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, groupId(options.topicPrefix(), member) + "-" + options.instanceId(),
                ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, TransactionalProducers.MAX_IN_FLIGHT,
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.LINGER_MS_CONFIG, 5,
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG, topics.deadLetters.maxMessageBytes())),
                new StringSerializer(), topics.valueSerializer());
    }

    @Override
    public void close() {
        members.forEach(ConsumeProduceLoop::stop);
        try {
            for (Thread thread : threads) {
                thread.join(30_000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            executors.forEach(ExecutorService::shutdownNow);
            meters.close();
        }
    }

    /** The service on the command line. */
    @Command(name = "reward-service", mixinStandardHelpOptions = true,
            description = "Score rollouts: one consumer group per verifier, plus the audit group that dead-letters what none can take.")
    public static final class Main implements Callable<Integer> {
        @Mixin
        ClusterOptions cluster;

        @Mixin
        MetricsOptions metrics;

        @Mixin
        PluginOptions plugins;

        @Option(names = "--verifier", paramLabel = "NAME",
                description = "A verifier to run (repeatable). Default: every verifier on the class path and in --plugins.")
        List<String> names = new ArrayList<>();

        @Option(names = "--external-kind", paramLabel = "KIND", description = "A task kind scored by a verifier outside this "
                + "process (another language's consumer): the audit group does not dead-letter its rollouts. Repeatable.")
        Set<String> externalKinds = new HashSet<>();

        @Option(names = "--timeout-ms", defaultValue = "30000", paramLabel = "MS",
                description = "Longest a verification may take (default: ${DEFAULT-VALUE}).")
        long timeoutMs;

        @Option(names = "--threads", defaultValue = "2", paramLabel = "N",
                description = "Parallel verifications per verifier (default: ${DEFAULT-VALUE}).")
        int threads;

        @Option(names = "--instance-id", paramLabel = "ID",
                description = "This instance among the service's: give a restarted process its old id and it takes its "
                        + "partitions back at once. Two live processes must not share one. Default: random.")
        String instanceId;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            List<RewardVerifier> chosen = new ArrayList<>();
            Options options;
            try {
                cluster.validate();
                plugins.load();
                Map<String, RewardVerifier> available = available();
                for (String name : names.isEmpty() ? available.keySet() : names) {
                    RewardVerifier verifier = available.get(name);
                    if (verifier == null) {
                        throw new IllegalArgumentException("--verifier " + name + ": no such verifier on the class path or in --plugins "
                                + "(available: " + String.join(", ", available.keySet()) + ")");
                    }
                    chosen.add(verifier);
                }
                options = new Options(cluster.bootstrapServers, cluster.schemaRegistryUrl, cluster.topicPrefix,
                        instanceId == null ? UUID.randomUUID().toString().substring(0, 8) : instanceId,
                        Duration.ofMillis(timeoutMs), threads);
                cluster.requireReachable();
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            RewardService service = start(options, chosen, externalKinds);
            return ServiceLifecycle.runUntilShutdown(service,
                    "reward-service running: " + chosen.stream().map(RewardVerifier::name).toList(), service::failure, metrics);
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }
}
