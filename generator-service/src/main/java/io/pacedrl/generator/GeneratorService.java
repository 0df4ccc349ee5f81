package io.pacedrl.generator;

import ai.djl.ndarray.NDManager;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.CharTokenizer;
import io.pacedrl.policy.GradMode;
import io.pacedrl.policy.Torch;
import io.pacedrl.policy.Transformer;
import io.pacedrl.policy.Weights;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.RecordDecodingException;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.FinishReason;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.Rollout;
import io.pacedrl.schemas.ScheduledPrompt;
import io.pacedrl.topics.DeadLetters;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.ClusterOptions;
import io.pacedrl.topics.ServiceConfigOptions;
import io.pacedrl.topics.MetricsOptions;
import io.pacedrl.topics.ServiceLifecycle;
import io.pacedrl.topics.ServiceMeters;
import io.pacedrl.topics.TopicCreator;
import io.pacedrl.topics.Topics;
import io.pacedrl.topics.TransactionalProducers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.WakeupException;
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
 * The generator service: a member of the generators' consumer group over the scheduled prompts.
 * It samples G responses for each prompt, batched across prompts, with the newest policy it holds,
 * and produces one rollout per response with its behaviour log-probs and the policy version. New
 * weights are taken from model-updates between batches, copied into the live model, and only once
 * a version is whole and its checksum matches. A batch's rollouts and the group's offsets commit in
 * one transaction, so a crash neither loses nor duplicates a group.
 */
public final class GeneratorService implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GeneratorService.class);
    public static final String CORRUPT_UPDATE = "CORRUPT_MODEL_UPDATE";
    public static final String UNUSABLE_PROMPT = "UNUSABLE_PROMPT";

    /**
     * @param modelId      which policy's updates to follow (the learner's model id)
     * @param batchPrompts most scheduled prompts sampled together (each G rows)
     * @param threads      PyTorch intra-op threads
     */
    public record Options(String bootstrapServers, String schemaRegistryUrl, String topicPrefix, String generatorId,
            String modelId, Transformer.SamplingConfig sampling, int batchPrompts, int threads) {

        public Options {
            Topics.checkPrefix(topicPrefix);
            SchemaRegistryClient.parseUrl(schemaRegistryUrl);
            if (batchPrompts < 1) {
                throw new IllegalArgumentException("batch-prompts must be ≥ 1, got " + batchPrompts);
            }
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be ≥ 1, got " + threads);
            }
        }

        public static Options of(String bootstrapServers, String schemaRegistryUrl, String topicPrefix, String modelId) {
            return new Options(bootstrapServers, schemaRegistryUrl, topicPrefix, "generator-" + UUID.randomUUID().toString()
                    .substring(0, 8), modelId, new Transformer.SamplingConfig(1f, 1f, 24), 16, 1);
        }
    }

    /** Scheduled prompts fetched per poll: many sampling batches' worth. */
    private static final int POLL_RECORDS = 500;

    private final Options options;
    private final Topics topics;
    private final KafkaConsumer<String, byte[]> prompts;
    private final KafkaConsumer<String, byte[]> updates;
    private final KafkaProducer<String, Object> producer;
    private final ModelUpdateChunks.Assembler assembler;
    private final Thread thread;
    private final CountDownLatch stopped = new CountDownLatch(1);
    /** Why sampling stopped on its own, or null. */
    private volatile RuntimeException failure;
    private volatile boolean running = true;
    private volatile long policyVersion = -1;
    private final AtomicLong rollouts = new AtomicLong();
    private final AtomicLong tokens = new AtomicLong();
    private final AtomicLong rejectedUpdates = new AtomicLong();
    private final ServiceMeters meters;
    /** Polled records with nothing to sample, not yet committed, and since when (System.nanoTime()). */
    private final List<Polled> held = new ArrayList<>();
    private long heldSince;

    private GeneratorService(Options options) {
        this.options = options;
        this.topics = new Topics(options.topicPrefix(), new SchemaRegistryClient(options.schemaRegistryUrl()));
        try (Admin admin = Admin.create(ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers())))) {
            new TopicCreator(admin, Duration.ofSeconds(60)).ensure(topics.all());
        }
        prompts = new KafkaConsumer<>(ClientSettings.kafka(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, options.topicPrefix() + "generator",
                // Static membership: a generator restarted under its id takes its partitions back at once.
                ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, options.topicPrefix() + options.generatorId(),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false, ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                // Many more than one sampling batch: bad records are passed over inside what was fetched.
                ConsumerConfig.MAX_POLL_RECORDS_CONFIG, POLL_RECORDS)),
                new StringDeserializer(), new ByteArrayDeserializer());
        // Every generator reads every update: no group, the one partition from the start.
        updates = new KafkaConsumer<>(ClientSettings.kafka(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers(),
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed", ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, topics.modelUpdates.maxMessageBytes())),
                new StringDeserializer(), new ByteArrayDeserializer());
        producer = new KafkaProducer<>(ClientSettings.kafka(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers(),
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, options.topicPrefix() + options.generatorId(),
                ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, TransactionalProducers.MAX_IN_FLIGHT,
                ProducerConfig.LINGER_MS_CONFIG, 5,
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG, topics.deadLetters.maxMessageBytes())),
                new StringSerializer(), topics.valueSerializer());
        assembler = new ModelUpdateChunks.Assembler(options.modelId());
        thread = new Thread(this::run, options.generatorId());
        meters = new ServiceMeters("generator", options.topicPrefix(), options.generatorId());
        meters.healthCheck(() -> failure().map(e -> options.generatorId() + " stopped sampling: " + e.getMessage()));
        meters.counted(ServiceMeters.ROLLOUTS_GENERATED, rollouts, AtomicLong::get);
        meters.gauge(ServiceMeters.GENERATOR_POLICY_VERSION, () -> policyVersion);
        meters.bind(prompts, options.topicPrefix() + "generator");
        meters.bind(updates, "-");
        meters.bind(producer);
    }

    /** Starts a generator; it produces nothing until the first version of the policy arrives. */
    public static GeneratorService start(Options options) {
        Torch.configure(options.threads());
        GeneratorService service = new GeneratorService(options);
        service.thread.start();
        log.info("{} started: following model {}, {} prompts per batch, {}", options.generatorId(), options.modelId(),
                options.batchPrompts(), options.sampling());
        return service;
    }

    /** The policy version it samples with now (-1 before the first arrives). */
    public long policyVersion() {
        return policyVersion;
    }

    public long rollouts() {
        return rollouts.get();
    }

    public long tokens() {
        return tokens.get();
    }

    /** Why sampling stopped on its own, if it did: no more rollouts come from this generator. */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure);
    }

    public long rejectedUpdates() {
        return rejectedUpdates.get();
    }

    private void run() {
        TopicPartition updatePartition = new TopicPartition(topics.modelUpdates.name(), 0);
        try (NDManager manager = NDManager.newBaseManager(); GradMode noGrad = GradMode.off()) {
            producer.initTransactions();
            updates.assign(List.of(updatePartition));
            updates.seekToBeginning(List.of(updatePartition));
            Transformer policy = null;
            boolean subscribed = false;
            while (running) {
                List<DeadLetter> problems = new ArrayList<>();
                policy = takeUpdates(manager, policy, problems, policy == null ? Duration.ofMillis(200) : Duration.ZERO);
                if (!problems.isEmpty()) {
                    commit(List.copyOf(problems.stream().map(d -> new ProducerRecord<String, Object>(topics.deadLetters.name(),
                            d.getSourceTopic(), d)).toList()), Map.of());
                }
                if (policy == null) {
                    continue; // nothing to sample with yet
                }
                if (!subscribed) {
                    prompts.subscribe(List.of(topics.scheduledPrompts.name()));
                    subscribed = true;
                }
                ConsumerRecords<String, byte[]> polled = prompts.poll(Duration.ofMillis(200));
                if (!polled.isEmpty() || !held.isEmpty()) {
                    generate(manager, policy, polled);
                }
            }
        } catch (WakeupException e) {
            // closing
        } catch (RuntimeException e) {
            failure = e;
            log.error("{} stopped", options.generatorId(), e);
        } finally {
            // A static member leaves its group only when asked; a crashed one keeps its partitions for its restart.
            prompts.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
            updates.close();
            producer.close(Duration.ofSeconds(5));
            stopped.countDown();
        }
    }

    /**
     * Reads what model-updates has, and takes the newest whole, verified version: into the live model
     * (its parameter arrays overwritten in place), or as the first model. A corrupt version is
     * reported and the model kept.
     */
    private Transformer takeUpdates(NDManager manager, Transformer policy, List<DeadLetter> problems, Duration wait) {
        for (ConsumerRecord<String, byte[]> record : updates.poll(wait)) {
            ModelUpdate chunk;
            try {
                chunk = topics.modelUpdates.valueSerde().deserializer().deserialize(record.topic(), record.value());
            } catch (RecordDecodingException e) {
                if (e.isTransient()) {
                    throw e;
                }
                problems.add(deadLetter(record, e.reason().name(), e.getMessage()));
                continue;
            }
            if (chunk == null) {
                continue;
            }
            try {
                Optional<ModelUpdateChunks.Version> version = assembler.add(chunk);
                if (version.isPresent()) {
                    byte[] weights = version.get().weights();
                    if (policy == null) {
                        policy = Transformer.fromBytes(manager, weights);
                    } else {
                        policy.copyFrom(weights);
                    }
                    policyVersion = version.get().version();
                    log.info("{} now samples with version {} of {}", options.generatorId(), policyVersion, options.modelId());
                }
            } catch (ModelUpdateChunks.CorruptUpdateException | Weights.FormatException e) {
                rejectedUpdates.incrementAndGet();
                log.warn("{} keeps version {}: {}", options.generatorId(), policyVersion, e.getMessage());
                problems.add(deadLetter(record, CORRUPT_UPDATE, e.getMessage()));
            }
        }
        return policy;
    }

    /** A polled record: the prompt to sample and its tokens, or why it cannot be (its dead letter). */
    private record Polled(ConsumerRecord<String, byte[]> record, ScheduledPrompt prompt, int[] tokens, DeadLetter deadLetter) {}

    /**
     * Samples every usable prompt polled, {@code batchPrompts} at a time, each batch committed with
     * its offsets and the dead letters of the bad records among it; a failed commit rewinds to the
     * batch's first record and leaves the rest for the next poll. Polled records with nothing to
     * sample (only dead letters) are held for the next batch's transaction, or for {@link DeadLetters#HOLD}.
     */
    private void generate(NDManager manager, Transformer policy, ConsumerRecords<String, byte[]> polled) {
        long received = System.nanoTime();
        long holdingSince = held.isEmpty() ? received : heldSince;
        List<Polled> all = new ArrayList<>(held);
        held.clear();
        polled.forEach(record -> all.add(decode(policy, record, received)));
        List<Polled> chunk = new ArrayList<>();
        int usable = 0;
        for (int i = 0; i < all.size(); i++) {
            Polled next = all.get(i);
            if (next.prompt() != null && usable == options.batchPrompts()) {
                if (!sample(manager, policy, chunk)) {
                    rewind(all.subList(i - chunk.size(), all.size()));
                    return;
                }
                chunk = new ArrayList<>();
                usable = 0;
                holdingSince = received;
            }
            chunk.add(next);
            usable += next.prompt() == null ? 0 : 1;
        }
        if (usable == 0 && received - holdingSince < DeadLetters.HOLD.toNanos()) {
            held.addAll(chunk);
            heldSince = holdingSince;
            return;
        }
        if (!sample(manager, policy, chunk)) {
            rewind(chunk);
        }
    }

    private Polled decode(Transformer policy, ConsumerRecord<String, byte[]> record, long receivedAtNanos) {
        ScheduledPrompt prompt;
        try {
            prompt = topics.scheduledPrompts.decode(record.value(), receivedAtNanos);
        } catch (RecordDecodingException e) {
            if (e.isTransient()) {
                throw e;
            }
            return new Polled(record, null, null, deadLetter(record, e.reason().name(), e.getMessage()));
        }
        try {
            if (prompt.getGroupSize() < 1 || prompt.getGroupSize() > 1024) {
                throw new IllegalArgumentException("group size " + prompt.getGroupSize() + " is not in [1, 1024]");
            }
            int[] tokens = policy.tokenizer().encodePrompt(prompt.getPrompt().getText());
            if (tokens.length >= policy.config().context()) {
                throw new IllegalArgumentException("prompt of " + tokens.length + " tokens fills the context of "
                        + policy.config().context());
            }
            return new Polled(record, prompt, tokens, null);
        } catch (IllegalArgumentException e) {
            return new Polled(record, null, null, deadLetter(record, UNUSABLE_PROMPT, e.getMessage()));
        }
    }

    /** Every partition back to its first record among {@code unprocessed}: they are read again. */
    private void rewind(List<Polled> unprocessed) {
        Map<TopicPartition, Long> first = new LinkedHashMap<>();
        for (Polled p : unprocessed) {
            first.merge(new TopicPartition(p.record().topic(), p.record().partition()), p.record().offset(), Math::min);
        }
        first.forEach(prompts::seek);
    }

    /** Samples G responses for every prompt of the chunk in one call and commits them with its offsets; false if the commit failed. */
    private boolean sample(NDManager manager, Transformer policy, List<Polled> chunk) {
        List<ProducerRecord<String, Object>> out = new ArrayList<>();
        List<ScheduledPrompt> scheduled = new ArrayList<>();
        List<int[]> rows = new ArrayList<>();
        CharTokenizer tokenizer = policy.tokenizer();
        for (Polled p : chunk) {
            if (p.deadLetter() != null) {
                out.add(new ProducerRecord<>(topics.deadLetters.name(), p.record().topic(), p.deadLetter()));
                continue;
            }
            scheduled.add(p.prompt());
            for (int i = 0; i < p.prompt().getGroupSize(); i++) {
                rows.add(p.tokens());
            }
        }
        // Never sample with a policy older than the one the scheduler saw: in lock-step (look-ahead 1)
        // the update a batch waits for is published just before the batch is scheduled.
        long needed = scheduled.stream().mapToLong(ScheduledPrompt::getLearnerVersion).max().orElse(-1);
        List<DeadLetter> problems = new ArrayList<>();
        takeUpdates(manager, policy, problems, Duration.ZERO); // the newest version, between batches of one poll too
        while (running && policyVersion < needed) {
            takeUpdates(manager, policy, problems, Duration.ofMillis(100));
        }
        problems.forEach(d -> out.add(new ProducerRecord<>(topics.deadLetters.name(), d.getSourceTopic(), d)));
        long started = System.currentTimeMillis();
        List<Transformer.Completion> completions = rows.isEmpty() ? List.of()
                : policy.sample(rows, options.sampling(), seed(chunk.get(0).record()));
        long finished = System.currentTimeMillis();
        int row = 0;
        long sampledTokens = 0;
        for (ScheduledPrompt prompt : scheduled) {
            int[] promptTokens = rows.get(row);
            for (int i = 0; i < prompt.getGroupSize(); i++, row++) {
                Transformer.Completion completion = completions.get(row);
                sampledTokens += completion.tokens().length;
                Rollout rollout = Rollout.newBuilder().setRolloutId(prompt.getScheduleId() + "/" + i)
                        .setScheduleId(prompt.getScheduleId()).setPrompt(prompt.getPrompt()).setGroupIndex(i)
                        .setGroupSize(prompt.getGroupSize()).setPromptTokens(boxed(promptTokens))
                        .setResponseTokens(boxed(completion.tokens())).setResponseText(tokenizer.decode(completion.tokens()))
                        .setBehaviourLogProbs(boxed(completion.logProbs()))
                        .setFinishReason(completion.finish() == Transformer.Finish.EOS ? FinishReason.EOS : FinishReason.LENGTH)
                        .setPolicyVersion(policyVersion).setGeneratorId(options.generatorId())
                        .setTemperature(options.sampling().temperature()).setTopP(options.sampling().topP())
                        .setStartedAtMs(started).setFinishedAtMs(finished).build();
                out.add(new ProducerRecord<>(topics.rollouts.name(), prompt.getPrompt().getId(), rollout));
            }
        }
        if (!commit(out, ServiceLifecycle.nextOffsets(chunk.stream().map(Polled::record).toList()))) {
            return false;
        }
        rollouts.addAndGet(rows.size());
        tokens.addAndGet(sampledTokens);
        return true;
    }

    /** A different random stream per batch and generator; the batch's first scheduling names it. */
    private long seed(ConsumerRecord<String, byte[]> first) {
        return (options.generatorId().hashCode() * 1_000_003L + first.partition()) * 1_000_003L + first.offset();
    }

    private boolean commit(List<ProducerRecord<String, Object>> out, Map<TopicPartition, OffsetAndMetadata> offsets) {
        try {
            producer.beginTransaction();
            out.forEach(producer::send);
            if (!offsets.isEmpty()) {
                producer.sendOffsetsToTransaction(offsets, prompts.groupMetadata());
            }
            producer.commitTransaction();
            return true;
        } catch (ProducerFencedException e) {
            throw e;
        } catch (KafkaException e) {
            log.warn("{}: transaction failed, the batch will be generated again: {}", options.generatorId(), e.toString());
            producer.abortTransaction();
            return false;
        }
    }

    private DeadLetter deadLetter(ConsumerRecord<String, byte[]> record, String type, String reason) {
        return DeadLetters.of(record, type, reason, "generator-service/" + options.generatorId(), System.currentTimeMillis());
    }

    private static List<Integer> boxed(int[] values) {
        return Arrays.stream(values).boxed().toList();
    }

    private static List<Float> boxed(float[] values) {
        List<Float> list = new ArrayList<>(values.length);
        for (float v : values) {
            list.add(v);
        }
        return list;
    }

    @Override
    public void close() {
        running = false;
        prompts.wakeup();
        updates.wakeup();
        try {
            stopped.await();
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        meters.close();
    }

    /** The service on the command line. */
    @Command(name = "generator-service", mixinStandardHelpOptions = true,
            description = "Sample G rollouts per scheduled prompt with the newest policy from model-updates.")
    public static final class Main implements Callable<Integer> {
        @Mixin
        ClusterOptions cluster;

        @Mixin
        MetricsOptions metrics;

        @Option(names = "--model-id", defaultValue = "policy", paramLabel = "ID",
                description = "The policy whose updates to follow (default: ${DEFAULT-VALUE}).")
        String modelId;

        @Mixin
        ServiceConfigOptions run;

        @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus mass (default: ${DEFAULT-VALUE}). The learner "
                + "scores with the whole distribution and dead-letters rollouts sampled with less: for experiments only.")
        float topP;

        @Option(names = "--batch-prompts", defaultValue = "16",
                description = "Scheduled prompts sampled together, G rows each (default: ${DEFAULT-VALUE}).")
        int batchPrompts;

        @Option(names = "--threads", defaultValue = "1", description = "PyTorch threads (default: ${DEFAULT-VALUE}).")
        int threads;

        @Option(names = "--generator-id", paramLabel = "ID", defaultValue = "${env:PACED_RL_GENERATOR_ID}",
                description = "Its id: static membership in the generators' group, its transactions, its rollouts; give a "
                        + "restarted generator its old one. Default: generator-<random>. Env: PACED_RL_GENERATOR_ID.")
        String generatorId;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            Options options;
            try {
                cluster.validate();
                // Temperature and length come from the run's training keys, as the learner reads them.
                TrainingConfig config = TrainingConfig.load(run.configFile, run.set);
                Options defaults = Options.of(cluster.bootstrapServers, cluster.schemaRegistryUrl, cluster.topicPrefix, modelId);
                options = new Options(cluster.bootstrapServers, cluster.schemaRegistryUrl, cluster.topicPrefix,
                        generatorId == null ? defaults.generatorId() : generatorId, modelId,
                        new Transformer.SamplingConfig((float) config.temperature(), topP, config.maxNewTokens()), batchPrompts, threads);
                cluster.requireReachable();
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
            }
            GeneratorService generator = start(options);
            return ServiceLifecycle.runUntilShutdown(generator, options.generatorId() + " running", generator::failure, metrics);
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }
}
