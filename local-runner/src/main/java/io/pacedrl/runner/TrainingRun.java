package io.pacedrl.runner;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import io.pacedrl.difficulty.BatchScheduler;
import io.pacedrl.difficulty.DifficultyStream;
import io.pacedrl.embedded.CommittedRecords;
import io.pacedrl.generator.GeneratorService;
import io.pacedrl.learner.LearnerService;
import io.pacedrl.learning.MetricNames;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.Transformer;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.reward.RewardService;
import io.pacedrl.schemas.RunEvent;
import io.pacedrl.tasks.RewardVerifier;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.topics.RunEvents;
import io.pacedrl.topics.Topics;
import java.io.BufferedWriter;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A whole training run on one cluster: the pool loaded onto its topic, then every service started
 * against the run's topics (difficulty stream, generators, reward service, learner), watched
 * through the learner's run events until the final evaluation, and stopped. In lock-step mode the
 * scheduler's look-ahead is 1, so generators wait for every update: the same services and work,
 * synchronous.
 */
final class TrainingRun {

    /**
     * @param config     the training keys (every service reads the same)
     * @param lockStep   run synchronously (look-ahead 1)
     * @param generators generator instances
     * @param runId      the run's id; its topics are prefixed with it
     * @param weights    π_ref
     * @param stall      give up when the learner publishes nothing for this long
     * @param externalKinds task kinds scored by verifiers outside this process
     */
    record Settings(TrainingConfig config, boolean lockStep, int generators, String runId, Path runDir, Path weights,
            List<TaskPrompt> pool, List<TaskPrompt> heldOut, Duration stall, Set<String> externalKinds) {

        /** A run whose every kind is scored in this process. */
        Settings(TrainingConfig config, boolean lockStep, int generators, String runId, Path runDir, Path weights,
                List<TaskPrompt> pool, List<TaskPrompt> heldOut, Duration stall) {
            this(config, lockStep, generators, runId, runDir, weights, pool, heldOut, stall, Set.of());
        }

        TrainingConfig effectiveConfig() {
            return lockStep ? config.with(Map.of("look-ahead", 1)) : config;
        }
    }

    /** What the run's progress bar shows after each update. */
    record Progress(long version, long steps, double rolloutsConsumed, double heldOutPassAt1, double probeSpearman) {}

    /**
     * The run's record. {@code seconds} runs from version 0's publication to the final evaluation.
     * The steady window runs from the metrics of update {@code windowFrom} (the first, or a resumed
     * run's first in this process) to the last's (start-up and the final evaluation left out; a run
     * of one update has none): its wall seconds, the rollouts the learner consumed in it, and the CPU
     * seconds each service's threads used in it, and {@code schedulerCpuSeconds}, the CPU seconds
     * the difficulty stream's scheduler task used in the same window (its counter, read when the
     * threads' are). {@code generatedRollouts} counts every rollout the
     * generators wrote; {@code commit} is the code's (null in records written before it was kept).
     */
    record Result(String runId, boolean lockStep, TrainingConfig config, double seconds, List<Map<String, Object>> metrics,
            List<Map<String, Object>> evaluations, Map<String, Object> finalEvaluation, double windowSeconds,
            double windowRollouts, long windowFrom, Map<String, Double> windowCpuSeconds, double schedulerCpuSeconds, long generatedRollouts,
            DeadLetterCounts deadLetters, int cores, String commit, List<Restart> restarts) {

        Result {
            restarts = restarts == null ? List.of() : List.copyOf(restarts); // none in records written before restarts were kept
        }
    }

    /** A learner restarted by {@code train --resume} (or on its own) took the run up again at {@code version}, at {@code atMs}. */
    record Restart(long version, long atMs) {}

    /** The run directory's file of the learner's events, one JSON object a line, written as they come. */
    static final String EVENTS_FILE = "metrics.jsonl";

    /** The learner's model id: what generators follow on model-updates. */
    static final String MODEL_ID = "policy";

    private TrainingRun() {}

    /** A new run, from its pool to its end. */
    static Result run(Platform platform, Settings settings, Consumer<Progress> progress) throws Exception {
        return run(platform, settings, -1, progress, (topics, queries) -> { });
    }

    /**
     * Runs it to its end: a new run ({@code resumedAt} -1) from its pool, or one resumed after
     * version {@code resumedAt}, whose pool must be the one on its topic.
     */
    static Result run(Platform platform, Settings settings, long resumedAt, Consumer<Progress> progress,
            BiConsumer<Topics, URI> streamStarted) throws Exception {
        TrainingConfig config = settings.effectiveConfig();
        String prefix = settings.runId() + ".";
        Topics topics = new Topics(prefix, new SchemaRegistryClient(platform.schemaRegistryUrl()));
        platform.ensureTopics(topics.all());
        if (resumedAt < 0) {
            PoolLoader.load(platform.bootstrapServers(), topics, new PromptPool(settings.pool(), settings.heldOut()).all());
        } else {
            checkPool(platform, topics, settings);
        }

        List<AutoCloseable> services = new ArrayList<>();
        List<GeneratorService> generators = new ArrayList<>();
        try {
            DifficultyStream stream = DifficultyStream.start(new DifficultyStream.Options(platform.bootstrapServers(),
                    platform.schemaRegistryUrl(), prefix, prefix + "difficulty-stream", settings.runDir().resolve("state"), "127.0.0.1", 0, 1,
                    settings.runId(), DifficultyStream.staticMember(prefix + "difficulty-stream-0")), config);
            services.add(stream);
            streamStarted.accept(topics, stream.queryUrl());
            services.add(RewardService.start(RewardService.Options.of(platform.bootstrapServers(), platform.schemaRegistryUrl(), prefix)
                    .withInstanceId("0"),
                    verifiersFor(settings.pool(), settings.externalKinds()), settings.externalKinds()));
            for (int g = 0; g < settings.generators(); g++) {
                GeneratorService generator = GeneratorService.start(new GeneratorService.Options(platform.bootstrapServers(),
                        platform.schemaRegistryUrl(), prefix, "generator-" + g, MODEL_ID, new Transformer.SamplingConfig(
                        (float) config.temperature(), 1f, config.maxNewTokens()), 16, 1));
                generators.add(generator);
                services.add(generator);
            }
            LearnerService learner = LearnerService.start(new LearnerService.Options(platform.bootstrapServers(),
                    platform.schemaRegistryUrl(), prefix, MODEL_ID, settings.runId(), settings.runDir().resolve("checkpoints"),
                    settings.weights(), 1, Duration.ofMinutes(2)), config);
            services.add(learner);

            long windowFrom = Math.max(1, resumedAt + 1);
            HttpClient queries = HttpClient.newHttpClient();
            Watch watch = watch(platform, topics, settings, learner, windowFrom, () -> schedulerCpuSeconds(queries, stream), progress);
            long generated = generators.stream().mapToLong(GeneratorService::rollouts).sum();
            DeadLetterCounts dead = DeadLetterCounts.read(platform.bootstrapServers(), topics, prefix);
            return new Result(settings.runId(), settings.lockStep(), config, watch.seconds(), watch.metrics(), watch.evaluations(),
                    watch.finalEvaluation(), watch.windowSeconds(), watch.windowRollouts(), windowFrom, watch.windowCpu(), watch.schedulerCpu(),
                    generated, dead, Runtime.getRuntime().availableProcessors(), BuildInfo.commit(), watch.restarts());
        } finally {
            for (int i = services.size() - 1; i >= 0; i--) {
                services.get(i).close();
            }
        }
    }

    /** A resumed run's pool, as its topic holds it, must be the one this command would load. */
    private static void checkPool(Platform platform, Topics topics, Settings settings) {
        Set<String> expected = new HashSet<>();
        settings.pool().forEach(p -> expected.add(p.id()));
        settings.heldOut().forEach(p -> expected.add(p.id()));
        Set<String> onTopic = new HashSet<>();
        CommittedRecords.read(platform.bootstrapServers(), topics.prompts.name(), topics.prompts.valueSerde().deserializer(),
                read -> read.size() >= expected.size(), Duration.ofSeconds(30)).forEach(p -> onTopic.add(p.getId()));
        if (!onTopic.equals(expected)) {
            throw new IllegalStateException("run '" + settings.runId() + "' has " + onTopic.size() + " prompts on its topic, this command's "
                    + "pool " + expected.size() + (onTopic.size() == expected.size() ? " others" : "")
                    + "; resume it with the suite or dataset it started with");
        }
    }

    /** The verifiers of the pool's task kinds, but those scored outside this process. */
    private static List<RewardVerifier> verifiersFor(List<TaskPrompt> pool, Set<String> externalKinds) {
        Set<String> kinds = new HashSet<>();
        pool.forEach(p -> kinds.add(p.kind()));
        kinds.removeAll(externalKinds);
        return RewardService.available().values().stream().filter(v -> v.kinds().stream().anyMatch(kinds::contains)).toList();
    }

    private record Watch(double seconds, List<Map<String, Object>> metrics, List<Map<String, Object>> evaluations,
            Map<String, Object> finalEvaluation, double windowSeconds, double windowRollouts, Map<String, Double> windowCpu,
            double schedulerCpu, List<Restart> restarts) {}

    /**
     * Follows the learner's run events, from the run's first, until its final evaluation, reporting
     * progress after each. The steady window (CPU, throughput) opens at the metrics of update
     * {@code windowFrom}: this process's first, for a resumed run. The scheduler task's counter,
     * which counts from the run's start (loading the pool included), is read with the threads' CPU so
     * that scheduling + replay and the pipeline's CPU cover the same window.
     */
    private static Watch watch(Platform platform, Topics topics, Settings settings, LearnerService learner, long windowFrom,
            DoubleSupplier schedulerCpu, Consumer<Progress> progress) throws Exception {
        List<Map<String, Object>> metrics = new ArrayList<>();
        List<Map<String, Object>> evaluations = new ArrayList<>();
        List<Restart> restarts = new ArrayList<>();
        Map<String, Object> last = null;
        long started = -1;
        long finished = -1;
        double heldOut = Double.NaN;
        double spearman = Double.NaN;
        double consumed = 0;
        long lastNews = System.nanoTime();
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        Map<Long, String> names = new TreeMap<>();
        Map<Long, Long> windowStartCpu = null;
        Map<Long, Long> windowEndCpu = null;
        long windowStart = 0;
        long windowEnd = 0;
        double windowStartScheduler = Double.NaN;
        double windowEndScheduler = Double.NaN;
        double windowStartRollouts = 0;
        double windowEndRollouts = 0;
        ObjectWriter json = new ObjectMapper().writer();
        // The learner's events as they come, one JSON object a line: a run that fails keeps its record.
        // Rewritten whole by a resumed run, which reads the events from the start again.
        try (var events = new KafkaConsumer<>(ClientSettings.kafka(Map.<String, Object>of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                platform.bootstrapServers(), ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed")),
                new StringDeserializer(), topics.runEvents.valueSerde().deserializer());
                BufferedWriter lines = Files.newBufferedWriter(settings.runDir().resolve(EVENTS_FILE))) {
            List<TopicPartition> partitions = List.of(new TopicPartition(topics.runEvents.name(), 0));
            events.assign(partitions);
            events.seekToBeginning(partitions);
            while (last == null) {
                if (learner.failure().isPresent()) {
                    throw new IllegalStateException("the learner failed: " + learner.failure().get().getMessage(), learner.failure().get());
                }
                if (System.nanoTime() - lastNews > settings.stall().toNanos()) {
                    throw new IllegalStateException("no update for " + settings.stall().toSeconds() + " s; the learner is at version "
                            + learner.version() + " (logs and state in " + settings.runDir() + ")");
                }
                for (ConsumerRecord<String, RunEvent> record : events.poll(Duration.ofMillis(200))) {
                    RunEvent event = record.value();
                    if (!event.getSource().equals(RunEvents.LEARNER) || !event.getRunId().equals(settings.runId())) {
                        continue;
                    }
                    lastNews = System.nanoTime();
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("version", event.getLearnerVersion());
                    row.put("timeMs", event.getTimestampMs());
                    row.putAll(new TreeMap<>(event.getMetrics()));
                    Map<String, Object> line = new LinkedHashMap<>(Map.of("type", event.getType()));
                    line.putAll(row);
                    line.putAll(event.getAttributes());
                    lines.write(json.writeValueAsString(line));
                    lines.newLine();
                    lines.flush();
                    switch (event.getType()) {
                        case RunEvents.LIFECYCLE -> {
                            if ("resumed".equals(event.getAttributes().get("state"))) {
                                restarts.add(new Restart(event.getLearnerVersion(), event.getTimestampMs()));
                            } else {
                                started = event.getTimestampMs();
                            }
                        }
                        case RunEvents.METRICS -> {
                            metrics.add(row);
                            consumed = event.getMetrics().getOrDefault(MetricNames.ROLLOUTS_CONSUMED, consumed);
                            if (event.getLearnerVersion() == windowFrom) {
                                names.putAll(threadNames());
                                windowStartCpu = cpuByThread(threads);
                                windowStartScheduler = schedulerCpu.getAsDouble();
                                windowStart = System.nanoTime();
                                windowStartRollouts = consumed;
                            }
                            // The window ends at the last update: steps, or the one that spends the rollout budget.
                            if (event.getLearnerVersion() > windowFrom) {
                                names.putAll(threadNames());
                                windowEndCpu = cpuByThread(threads);
                                windowEndScheduler = schedulerCpu.getAsDouble();
                                windowEnd = System.nanoTime();
                                windowEndRollouts = consumed;
                            }
                        }
                        case RunEvents.EVAL -> {
                            evaluations.add(row);
                            heldOut = event.getMetrics().get(MetricNames.PASS_AT_1);
                            spearman = event.getMetrics().getOrDefault(MetricNames.PROBE_SPEARMAN, Double.NaN);
                        }
                        case RunEvents.FINAL -> {
                            last = row;
                            finished = event.getTimestampMs();
                        }
                        default -> { }
                    }
                    progress.accept(new Progress(event.getLearnerVersion(), settings.config().steps(), consumed, heldOut, spearman));
                }
            }
        }
        learner.finished().get(1, TimeUnit.MINUTES);
        Map<String, Double> windowCpu = windowStartCpu == null || windowEndCpu == null ? Map.of()
                : cpuByService(windowStartCpu, windowEndCpu, names);
        return new Watch((finished - started) / 1000.0, metrics, evaluations, last, (windowEnd - windowStart) / 1e9,
                windowEndRollouts - windowStartRollouts, windowCpu, windowEndScheduler - windowStartScheduler, restarts);
    }

    /** The scheduler task's CPU time so far in the run (its counter, read over the stream's queries); NaN if unread. */
    private static double schedulerCpuSeconds(HttpClient queries, DifficultyStream stream) {
        try {
            HttpResponse<String> response = queries.send(HttpRequest.newBuilder(stream.queryUrl().resolve("/scheduler"))
                    .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            JsonNode counters = new ObjectMapper().readTree(response.body()).path("counters");
            return counters.has(BatchScheduler.SCHEDULER_CPU_MICROS) ? counters.path(BatchScheduler.SCHEDULER_CPU_MICROS).asLong() / 1e6
                    : Double.NaN;
        } catch (IOException e) {
            return Double.NaN;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Double.NaN;
        }
    }

    private static Map<Long, String> threadNames() {
        Map<Long, String> names = new TreeMap<>();
        for (Thread thread : Thread.getAllStackTraces().keySet()) {
            names.put(thread.getId(), thread.getName());
        }
        return names;
    }

    private static Map<Long, Long> cpuByThread(ThreadMXBean threads) {
        Map<Long, Long> cpu = new TreeMap<>();
        for (long id : threads.getAllThreadIds()) {
            long nanos = threads.getThreadCpuTime(id);
            if (nanos >= 0) {
                cpu.put(id, nanos);
            }
        }
        return cpu;
    }

    /** CPU seconds over the run by the service whose threads used them (by thread name). */
    private static Map<String, Double> cpuByService(Map<Long, Long> start, Map<Long, Long> end, Map<Long, String> names) {
        Map<String, Double> byService = new LinkedHashMap<>();
        for (String service : List.of("learner", "learner-publisher", "generator", "reward-service", "difficulty-stream",
                "broker and other")) {
            byService.put(service, 0.0);
        }
        end.forEach((id, nanos) -> {
            String name = names.getOrDefault(id, "");
            String service = name.equals("learner-publisher") ? "learner-publisher"
                    : name.startsWith("learner") ? "learner"
                    : name.startsWith("generator") ? "generator"
                    : name.startsWith("reward-service") || name.startsWith("verify-") ? "reward-service"
                    : name.contains("StreamThread") ? "difficulty-stream" : "broker and other";
            byService.merge(service, (nanos - start.getOrDefault(id, 0L)) / 1e9, Double::sum);
        });
        return byService;
    }
}
