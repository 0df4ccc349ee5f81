package io.pacedrl.runner;

import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.policy.Torch;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.tasks.TaskSuite;
import io.pacedrl.topics.Topics;
import io.pacedrl.topics.TopicSpec;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Two runs of equal work, one clean and one with bad records written into its inputs while it runs
 * (scheduled prompts, rollouts, scored rollouts: a fourth each of the {@link BadRecords} kinds),
 * paced to end halfway through the clean run's length. It prints the throughput of both over their
 * steady windows and the dead letters the flooded run wrote, by topic and service.
 */
@Command(name = "flood", mixinStandardHelpOptions = true,
        description = "A run flooded with undecodable records against the same run clean: throughput and dead letters.")
final class FloodBenchmarkCommand implements Callable<Integer> {
    @Mixin
    PlatformOptions platformOptions;

    @Mixin
    TrainingOptions training;

    @Mixin
    SuiteOptions suiteOptions;

    @Mixin
    BenchmarkRunOptions runs;

    @Option(names = "--bad-records", defaultValue = "100000", paramLabel = "N",
            description = "Bad records written into the flooded run's inputs (default: ${DEFAULT-VALUE}).")
    long badRecords;

    @Spec
    CommandSpec spec;

    /** A run's figures: its steady-window throughput, and its dead letters. */
    record Figures(String mode, double windowSeconds, double rollouts, double rolloutsPerSecond, Map<String, Double> cpuSeconds,
            double learnerWaitingSeconds,
            long badRecordsWritten, Map<String, Long> writtenByTopic, double floodSeconds, DeadLetterCounts deadLetters) {}

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        platformOptions.validate();
        if (badRecords < 0) {
            throw new ParameterException(spec.commandLine(), "--bad-records must be ≥ 0, got " + badRecords);
        }
        TrainingConfig config = runs.config(training.config(), spec);
        TaskSuite suite = suiteOptions.suite();
        Torch.configure(1);
        Path weights = training.referenceWeights(out, TrainCommand.warmStart(suite));
        Path runDir = platformOptions.runDir("bench-flood");
        List<Figures> results = new ArrayList<>();
        try (Platform platform = platformOptions.open("bench-flood")) {
            double cleanWindow = 0;
            for (String mode : List.of("clean", "flooded")) {
                String runId = platformOptions.topicPrefix + runDir.getFileName() + "-" + mode;
                TrainingRun.Settings settings = new TrainingRun.Settings(config, false, 1, runId, runDir.resolve(mode), weights,
                        suite.train(), suite.heldOut(), Duration.ofMinutes(5));
                if (mode.equals("clean")) {
                    runs.warmUp(out, platform, settings);
                }
                out.printf("%-8s %s, %d updates of %d × %d%s…%n", mode, config.method(), config.steps(), config.promptsPerStep(),
                        config.groupSize(), mode.equals("clean") ? "" : String.format(", %,d bad records", badRecords));
                out.flush();
                Flood flood = mode.equals("clean") ? null
                        : new Flood(platform, runId + ".", badRecords, Duration.ofMillis((long) (cleanWindow * 500)), config.seed());
                TrainingRun.Result r = TrainingRun.run(platform, settings, progress -> {
                    if (flood != null && progress.version() >= 1) {
                        flood.start();
                    }
                });
                if (flood != null) {
                    flood.finished().join();
                }
                Topics topics = new Topics(runId + ".", new SchemaRegistryClient(platform.schemaRegistryUrl()));
                DeadLetterCounts dead = DeadLetterCounts.read(platform.bootstrapServers(), topics, runId + ".");
                results.add(new Figures(mode, r.windowSeconds(), r.windowRollouts(), r.windowRollouts() / r.windowSeconds(),
                        r.windowCpuSeconds(), PipelineBenchmarkCommand.figures(mode, r).idleSeconds().get(PipelineBenchmarkCommand.LEARNER_WAITING),
                        flood == null ? 0 : flood.written.get(), flood == null ? Map.of() : flood.writtenByTopic(),
                        flood == null ? 0 : flood.seconds, dead));
                cleanWindow = r.windowSeconds();
            }
        }
        print(out, results);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("config", config.asKeys());
        json.put("cores", Runtime.getRuntime().availableProcessors());
        json.put("results", results);
        out.printf("report   %s%n", platformOptions.writeResults("bench-flood", "bench-flood.json", json));
        return 0;
    }

    private static void print(PrintWriter out, List<Figures> results) {
        Figures clean = results.get(0);
        Figures flooded = results.get(1);
        out.printf("%n%-32s %12s %12s%n", "", "clean", "flooded");
        out.printf("%-32s %12s %12s%n", "bad records written", "0", String.format("%,d", flooded.badRecordsWritten()));
        out.printf("%-32s %12s %12s%n", "  over", "", String.format("%.1f s", flooded.floodSeconds()));
        out.printf("%-32s %12.1f %12.1f%n", "window (s)", clean.windowSeconds(), flooded.windowSeconds());
        out.printf("%-32s %12.1f %12.1f%n", "rollouts/s", clean.rolloutsPerSecond(), flooded.rolloutsPerSecond());
        out.printf("%-32s %12s %11.1f%%%n", "throughput against clean", "",
                100 * flooded.rolloutsPerSecond() / clean.rolloutsPerSecond());
        for (String service : clean.cpuSeconds().keySet()) {
            out.printf("%-32s %12.1f %12.1f%n", "  CPU s: " + service, clean.cpuSeconds().get(service),
                    flooded.cpuSeconds().getOrDefault(service, 0.0));
        }
        out.printf("%-32s %12.1f %12.1f%n", "  learner waiting for a batch (s)", clean.learnerWaitingSeconds(),
                flooded.learnerWaitingSeconds());
        out.printf("%-32s %12s %12s%n", "dead letters", String.format("%,d", clean.deadLetters().letters()),
                String.format("%,d", flooded.deadLetters().letters()));
        out.printf("%nflooded run's dead letters by topic and service (bad records written to the topic):%n");
        flooded.deadLetters().byTopic().forEach((topic, services) -> services.forEach((service, n) ->
                out.printf("  %-22s %-20s %,9d of %,d%n", topic, service, n, flooded.writtenByTopic().getOrDefault(topic, 0L))));
        out.printf("  written twice by one service: %,d%n", flooded.deadLetters().repeated());
    }

    /**
     * The bad records, written from another thread at an even pace over {@code over} once started:
     * round robin over the flooded topics and the kinds, keys like the pool's.
     */
    static final class Flood {
        private final Platform platform;
        private final Topics topics;
        private final long total;
        private final Duration over;
        private final long seed;
        private final CompletableFuture<Void> finished = new CompletableFuture<>();
        final AtomicLong written = new AtomicLong();
        private final Map<String, AtomicLong> byTopic = new LinkedHashMap<>();
        private volatile double seconds;
        private boolean started;

        Flood(Platform platform, String prefix, long total, Duration over, long seed) {
            this.platform = platform;
            this.topics = new Topics(prefix, new SchemaRegistryClient(platform.schemaRegistryUrl()));
            this.total = total;
            this.over = over;
            this.seed = seed;
            for (TopicSpec<?, ?> spec : flooded()) {
                byTopic.put(spec.name().substring(prefix.length()), new AtomicLong());
            }
        }

        private List<TopicSpec<?, ?>> flooded() {
            return List.of(topics.scheduledPrompts, topics.rollouts, topics.scoredRollouts);
        }

        synchronized void start() {
            if (!started) {
                started = true;
                Thread thread = new Thread(this::write, "flood");
                thread.setDaemon(true);
                thread.start();
            }
        }

        CompletableFuture<Void> finished() {
            return started ? finished : CompletableFuture.completedFuture(null);
        }

        Map<String, Long> writtenByTopic() {
            Map<String, Long> counts = new LinkedHashMap<>();
            byTopic.forEach((topic, n) -> counts.put(topic, n.get()));
            return counts;
        }

        private void write() {
            try {
                SampleRecords sample = new SampleRecords("flood", System.currentTimeMillis());
                List<byte[]> good = List.of(BadRecords.serialised(topics.scheduledPrompts, sample.scheduledPrompt),
                        BadRecords.serialised(topics.rollouts, sample.rollout),
                        BadRecords.serialised(topics.scoredRollouts, sample.scoredRollout));
                BadRecords bad = new BadRecords(seed, BadRecords.serialised(topics.runEvents, sample.runEvent));
                List<TopicSpec<?, ?>> specs = flooded();
                List<String> names = new ArrayList<>(byTopic.keySet());
                long start = System.nanoTime();
                try (var producer = new KafkaProducer<>(ClientSettings.kafka(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                        platform.bootstrapServers(), ProducerConfig.LINGER_MS_CONFIG, 20)), new StringSerializer(),
                        new ByteArraySerializer())) {
                    for (long n = 0; n < total; n++) {
                        long due = start + (long) (over.toNanos() * (double) n / total);
                        long wait = due - System.nanoTime();
                        if (wait > 1_000_000) {
                            Thread.sleep(wait / 1_000_000);
                        }
                        int t = (int) (n % specs.size());
                        byte[] value = bad.value(BadRecords.kind(n / specs.size()), good.get(t));
                        producer.send(new ProducerRecord<>(specs.get(t).name(), "flood-" + n, value));
                        byTopic.get(names.get(t)).incrementAndGet();
                        written.incrementAndGet();
                    }
                    producer.flush();
                }
                seconds = (System.nanoTime() - start) / 1e9;
                finished.complete(null);
            } catch (Exception e) {
                finished.completeExceptionally(e);
            }
        }
    }
}
