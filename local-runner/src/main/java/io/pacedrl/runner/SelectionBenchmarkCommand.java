package io.pacedrl.runner;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pacedrl.difficulty.DifficultyStream;
import io.pacedrl.learner.LearnerService;
import io.pacedrl.learning.PartitionFunction;
import io.pacedrl.learning.PolicyLearner;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.CharTokenizer;
import io.pacedrl.policy.Torch;
import io.pacedrl.policy.Transformer;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.BatchScheduled;
import io.pacedrl.schemas.ModelUpdate;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.ScheduledGroup;
import io.pacedrl.schemas.SchedulerDecision;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.PoolEmbeddings;
import io.pacedrl.topics.Topics;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import me.tongfei.progressbar.ProgressBar;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * What choosing batches by p̂ costs per learner version as the pool grows. For each pool size, a
 * real difficulty stream (PACED-RL with replay, lock-step) is given the pool and its embeddings
 * once, then plays a learner and its generators: version v's Z_φ and policy go out, the scheduler
 * scores its candidates and sends batch v, its B × G scored rollouts come back. Per version it
 * measures the stream threads' CPU time, the wall time from publishing the version to the batch's
 * decision and to the groups being back, the records the stream wrote (every topic it writes,
 * internal ones included) and of those its store writes (changelog records). The figures are set
 * against a learner step of the default model, measured here too.
 */
@Command(name = "selection", mixinStandardHelpOptions = true,
        description = "Scheduling and replay cost per learner version at pools of 4k, 100k and 1M prompts on a real broker, "
                + "against a learner step of the default model.")
final class SelectionBenchmarkCommand implements Callable<Integer> {
    @Mixin
    PlatformOptions platformOptions;

    @Option(names = "--pools", split = ",", defaultValue = "4000,100000,1000000", paramLabel = "N,...",
            description = "Pool sizes (default: ${DEFAULT-VALUE}).")
    List<Integer> pools;

    @Option(names = "--versions", defaultValue = "12", paramLabel = "N", description = "Learner versions per pool (default: ${DEFAULT-VALUE}).")
    int versions;

    @Option(names = "--warm-up", defaultValue = "2", paramLabel = "N",
            description = "First versions left out of the figures: the first batch waits for the pool to load (default: ${DEFAULT-VALUE}).")
    int warmUp;

    @Option(names = "--learner-steps", defaultValue = "3", paramLabel = "N",
            description = "Timed updates of the default model on a default batch; 0 skips (default: ${DEFAULT-VALUE}).")
    int learnerSteps;

    @Spec
    CommandSpec spec;

    /** One pool size's figures: medians over the versions after the warm-up. */
    record Row(int pool, double loadSeconds, double cpuMs, double decisionMs, double wallMs, double recordsWritten,
            double storeWrites, double candidates, List<Map<String, Object>> versions) {}

    private final TrainingConfig config = TrainingConfig.defaults().with(Map.of("method", "paced", "look-ahead", 1,
            "group-timeout-seconds", 3600));

    @Override
    public Integer call() throws Exception {
        if (pools.isEmpty() || pools.stream().anyMatch(n -> n < config.promptsPerStep() * 2) || versions <= warmUp || warmUp < 1
                || learnerSteps < 0) {
            throw new ParameterException(spec.commandLine(), "every pool needs ≥ 2 batches of prompts, --versions > --warm-up ≥ 1, "
                    + "--learner-steps ≥ 0");
        }
        Torch.configure(1);
        PrintWriter out = spec.commandLine().getOut();
        Map<String, Object> figures = new LinkedHashMap<>();
        double stepSeconds = Double.NaN;
        if (learnerSteps > 0) {
            stepSeconds = learnerStep();
            out.printf("learner step of the default model (B %d × G %d, %d Z_φ fit steps): %.3f s median of %d%n",
                    config.promptsPerStep(), config.groupSize(), config.partitionFitSteps(), stepSeconds, learnerSteps);
            out.flush();
            figures.put("learnerStepSeconds", stepSeconds);
        }
        List<Row> rows = new ArrayList<>();
        Path runDir = platformOptions.runDir("bench-selection");
        try (Platform platform = platformOptions.open("bench-selection")) {
            for (int pool : pools) {
                Row row = measure(platform, runDir, pool, out);
                rows.add(row);
                out.printf("pool %,d: loaded in %.1f s; per version %.1f ms CPU, %.0f ms to the decision, %.0f ms to the groups' "
                        + "return, %.0f records written, %.0f store writes, %.0f candidates scored%n", pool, row.loadSeconds(),
                        row.cpuMs(), row.decisionMs(), row.wallMs(), row.recordsWritten(), row.storeWrites(), row.candidates());
                out.flush();
            }
        }
        out.println();
        out.println("| pool | records written / version | store writes / version | candidates scored | stream CPU / version "
                + "| share of a learner step | version → decision | version → groups back |");
        out.println("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (Row row : rows) {
            out.printf("| %,d | %.0f | %.0f | %.0f | %.1f ms | %.2f %% | %.0f ms | %.0f ms |%n", row.pool(), row.recordsWritten(),
                    row.storeWrites(), row.candidates(), row.cpuMs(), 100 * row.cpuMs() / 1000 / stepSeconds, row.decisionMs(),
                    row.wallMs());
        }
        figures.put("config", config.asKeys());
        figures.put("pools", rows);
        out.printf("figures %s%n", platformOptions.writeResults("bench-selection", "bench-selection.json", figures));
        return 0;
    }

    /** The default model's update on a default batch (fresh, off-policy trajectories of the longest responses), median seconds. */
    private double learnerStep() {
        SplittableRandom random = new SplittableRandom(5);
        byte[] weights;
        try (NDManager manager = NDManager.newBaseManager();
                Transformer model = new Transformer(manager, Transformer.Config.defaults(CharTokenizer.ASCII.vocabularySize()),
                        CharTokenizer.ASCII, 3)) {
            weights = model.toBytes();
        }
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 256; i++) {
            texts.add("What is " + random.nextInt(100) + " + " + random.nextInt(100) + "?");
        }
        double[] seconds = new double[learnerSteps];
        try (PolicyLearner learner = new PolicyLearner(config, weights, texts)) {
            for (int step = 0; step <= learnerSteps; step++) {
                List<PolicyLearner.Group> groups = new ArrayList<>();
                List<PolicyLearner.Trajectory> fresh = new ArrayList<>();
                for (int g = 0; g < config.promptsPerStep(); g++) {
                    int prompt = random.nextInt(texts.size());
                    List<PolicyLearner.Trajectory> group = new ArrayList<>();
                    for (int i = 0; i < config.groupSize(); i++) {
                        int[] response = new int[config.maxNewTokens()];
                        float[] behaviour = new float[response.length];
                        for (int t = 0; t < response.length; t++) {
                            response[t] = 3 + random.nextInt(60);
                            behaviour[t] = -2f;
                        }
                        boolean correct = random.nextInt(3) == 0;
                        group.add(new PolicyLearner.Trajectory(g + "/" + i, prompt, learner.promptTokens(prompt), response, behaviour,
                                correct ? 1 : 0, correct));
                    }
                    groups.add(new PolicyLearner.Group(prompt, group));
                    fresh.addAll(group);
                }
                long start = System.nanoTime();
                learner.update(step + 1, groups, fresh, List.of(), false);
                if (step > 0) { // the first warms up the engine
                    seconds[step - 1] = (System.nanoTime() - start) / 1e9;
                }
            }
        }
        return median(seconds);
    }

    private Row measure(Platform platform, Path runDir, int pool, PrintWriter out) throws Exception {
        String prefix = platformOptions.topicPrefix + runDir.getFileName() + ".p" + pool + ".";
        Topics topics = new Topics(prefix, new SchemaRegistryClient(platform.schemaRegistryUrl()));
        platform.ensureTopics(topics.all());
        int width = Transformer.Config.defaults(CharTokenizer.ASCII.vocabularySize()).dModel();
        Map<String, Object> producerConfig = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, platform.bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.LINGER_MS_CONFIG, 20, ProducerConfig.BATCH_SIZE_CONFIG, 512 * 1024,
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG, topics.modelUpdates.maxMessageBytes());
        SampleRecords sample = new SampleRecords("bench", System.currentTimeMillis());
        try (KafkaProducer<String, Object> producer = new KafkaProducer<>(ClientSettings.kafka(producerConfig), new StringSerializer(), topics.valueSerializer());
                ProgressBar progress = ProgressBars.create("pool " + pool, pool)) {
            SplittableRandom random = new SplittableRandom(pool);
            long now = System.currentTimeMillis();
            for (int i = 0; i < pool; i++) {
                Prompt prompt = prompt(i);
                float[] embedding = new float[width];
                for (int d = 0; d < width; d++) {
                    embedding[d] = (float) random.nextGaussian();
                }
                producer.send(new ProducerRecord<>(topics.prompts.name(), prompt.getId(), prompt));
                producer.send(new ProducerRecord<>(topics.promptEmbeddings.name(), prompt.getId(),
                        PoolEmbeddings.of(prompt.getId(), embedding, "bench", now)));
                if (i % 1000 == 0) {
                    progress.stepTo(i);
                }
            }
            for (var marker : PoolEmbeddings.endMarkers(topics.promptEmbeddings, "bench", now)) {
                producer.send(new ProducerRecord<>(marker.topic(), marker.partition(), marker.key(), marker.value()));
            }
            producer.flush();
            progress.stepTo(pool);
        }

        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        DifficultyStream.Options defaults = DifficultyStream.Options.of(platform.bootstrapServers(), platform.schemaRegistryUrl(), prefix,
                runDir.resolve("state-" + pool));
        List<Map<String, Object>> perVersion = new ArrayList<>();
        double loadSeconds;
        long started = System.nanoTime();
        try (DifficultyStream app = DifficultyStream.start(defaults, config);
                Admin admin = Admin.create(ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, platform.bootstrapServers())));
                KafkaProducer<String, Object> producer = new KafkaProducer<>(ClientSettings.kafka(producerConfig), new StringSerializer(), topics.valueSerializer());
                KafkaConsumer<String, SchedulerDecision> decisions = new KafkaConsumer<>(ClientSettings.kafka(Map.of(
                        ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, platform.bootstrapServers(),
                        ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed", ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest")),
                        new StringDeserializer(), topics.schedulerDecisions.valueSerde().deserializer());
                NDManager manager = NDManager.newBaseManager();
                ProgressBar progress = ProgressBars.create("versions at pool " + pool, versions)) {
            app.awaitRunning(Duration.ofMinutes(2));
            decisions.assign(List.of(new TopicPartition(topics.schedulerDecisions.name(), 0)));
            Set<String> outputs = Set.of(topics.scheduledPrompts.name(), topics.replay.name(), topics.schedulerDecisions.name(),
                    topics.runEvents.name(), topics.deadLetters.name());
            String internal = defaults.applicationId() + "-";
            loadSeconds = Double.NaN;
            for (long version = 0; version < versions; version++) {
                Map<String, Long> offsetsBefore = endOffsets(admin, prefix, outputs, internal);
                long cpuBefore = streamCpu(threads);
                long t0 = System.nanoTime();
                byte[] partition;
                try (PartitionFunction z = new PartitionFunction(manager, width, new PartitionFunction.Config(config.partitionHidden(), 0f,
                        config.initialPHat() / config.beta()), 1000 + version)) {
                    partition = z.toBytes();
                }
                for (ModelUpdate chunk : ModelUpdateChunks.split("policy" + LearnerService.PARTITION_SUFFIX, version, PartitionFunction.FORMAT,
                        partition, version, List.of(), List.of(), System.currentTimeMillis())) {
                    producer.send(new ProducerRecord<>(topics.modelUpdates.name(), ModelUpdateChunks.key(chunk.getModelId(), 0), chunk));
                }
                ModelUpdate policy = ModelUpdate.newBuilder(sample.modelUpdate).setModelId("policy").setVersion(version).build();
                producer.send(new ProducerRecord<>(topics.modelUpdates.name(), "policy/0", policy));
                producer.flush();
                BatchScheduled batch = awaitBatch(decisions, version);
                long t1 = System.nanoTime();
                if (version == 0) {
                    loadSeconds = (t1 - started) / 1e9;
                }
                for (ScheduledGroup group : batch.getGroups()) {
                    for (int i = 0; i < config.groupSize(); i++) {
                        ScoredRollout rollout = ScoredRollout.newBuilder(sample.scoredRollout).build();
                        boolean correct = Math.floorMod((group.getScheduleId() + i).hashCode(), 3) == 0;
                        rollout.getRollout().setPrompt(prompt(Integer.parseInt(group.getPromptId().substring("arith-".length()))));
                        rollout.getRollout().setScheduleId(group.getScheduleId());
                        rollout.getRollout().setRolloutId(group.getScheduleId() + "/" + i);
                        rollout.getRollout().setGroupIndex(i);
                        rollout.getRollout().setGroupSize(config.groupSize());
                        rollout.getRollout().setPolicyVersion(version);
                        rollout.setReward(correct ? 1 : 0);
                        rollout.setCorrect(correct);
                        producer.send(new ProducerRecord<>(topics.scoredRollouts.name(), group.getPromptId(), rollout));
                    }
                }
                producer.flush();
                awaitNothingInFlight(app.queryUrl());
                long t2 = System.nanoTime();
                long cpu = streamCpu(threads) - cpuBefore;
                Map<String, Long> offsetsAfter = endOffsets(admin, prefix, outputs, internal);
                long written = 0;
                long storeWrites = 0;
                for (Map.Entry<String, Long> topic : offsetsAfter.entrySet()) {
                    long delta = topic.getValue() - offsetsBefore.getOrDefault(topic.getKey(), 0L);
                    written += delta;
                    storeWrites += topic.getKey().endsWith("-changelog") ? delta : 0;
                }
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("version", version);
                row.put("cpuMs", cpu / 1e6);
                row.put("decisionMs", (t1 - t0) / 1e6);
                row.put("wallMs", (t2 - t0) / 1e6);
                row.put("recordsWritten", written);
                row.put("storeWrites", storeWrites);
                row.put("candidates", batch.getCandidates());
                perVersion.add(row);
                progress.step();
            }
        }
        try (Admin admin = Admin.create(ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, platform.bootstrapServers())))) {
            // The pool and its changelogs take gigabytes at a million prompts: gone once measured.
            Set<String> mine = admin.listTopics().names().get().stream().filter(t -> t.startsWith(prefix)).collect(Collectors.toSet());
            admin.deleteTopics(mine).all().get();
        }
        List<Map<String, Object>> measured = perVersion.subList(warmUp, perVersion.size());
        return new Row(pool, loadSeconds, median(measured, "cpuMs"), median(measured, "decisionMs"), median(measured, "wallMs"),
                median(measured, "recordsWritten"), median(measured, "storeWrites"), median(measured, "candidates"), perVersion);
    }

    /** The decision scheduling batch {@code batch}, read committed from scheduler-decisions. */
    private static BatchScheduled awaitBatch(KafkaConsumer<String, SchedulerDecision> decisions, long batch) {
        long deadline = System.nanoTime() + Duration.ofMinutes(20).toNanos();
        while (System.nanoTime() < deadline) {
            for (var record : decisions.poll(Duration.ofMillis(5))) {
                if (record.value().getDecision() instanceof BatchScheduled scheduled && scheduled.getBatchId() == batch) {
                    return scheduled;
                }
            }
        }
        throw new IllegalStateException("batch " + batch + " was not scheduled within 20 minutes");
    }

    private static void awaitNothingInFlight(URI queries) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        ObjectMapper json = new ObjectMapper();
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (System.nanoTime() < deadline) {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(queries.resolve("/scheduler")).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() == 200 && json.readTree(response.body()).path("inFlight").asLong() == 0) {
                return;
            }
            Thread.sleep(5);
        }
        throw new IllegalStateException("the batch's groups did not reach the scheduler within 2 minutes");
    }

    /** CPU time of the difficulty stream's threads so far, nanoseconds. */
    private static long streamCpu(ThreadMXBean threads) {
        long total = 0;
        for (var info : threads.getThreadInfo(threads.getAllThreadIds())) {
            if (info != null && info.getThreadName().contains("StreamThread")) {
                total += Math.max(0, threads.getThreadCpuTime(info.getThreadId()));
            }
        }
        return total;
    }

    /** End offsets summed per topic, over the topics the stream writes: its outputs and its internal topics. */
    private static Map<String, Long> endOffsets(Admin admin, String prefix, Set<String> outputs, String internal) throws Exception {
        Set<String> names = admin.listTopics().names().get().stream().filter(t -> outputs.contains(t) || t.startsWith(internal))
                .collect(Collectors.toSet());
        Map<TopicPartition, OffsetSpec> request = new LinkedHashMap<>();
        for (TopicDescription topic : admin.describeTopics(names).allTopicNames().get().values()) {
            topic.partitions().forEach(p -> request.put(new TopicPartition(topic.name(), p.partition()), OffsetSpec.latest()));
        }
        Map<String, Long> sums = new LinkedHashMap<>();
        admin.listOffsets(request).all().get().forEach((partition, info) -> sums.merge(partition.topic(), info.offset(), Long::sum));
        return sums;
    }

    private static Prompt prompt(int i) {
        return Prompt.newBuilder().setId(String.format("arith-%07d", i)).setKind("numeric").setFamily("arith").setDifficulty(1 + i % 4)
                .setSplit(PromptSplit.TRAIN).setText("What is " + (i % 97) + " + " + (i % 89) + "?")
                .setAnswer(Integer.toString(i % 97 + i % 89)).build();
    }

    private static double median(List<Map<String, Object>> rows, String key) {
        return median(rows.stream().mapToDouble(r -> ((Number) r.get(key)).doubleValue()).toArray());
    }

    private static double median(double[] values) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted.length % 2 == 1 ? sorted[sorted.length / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
    }
}
