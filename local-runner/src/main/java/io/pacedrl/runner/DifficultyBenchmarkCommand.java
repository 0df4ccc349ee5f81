package io.pacedrl.runner;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pacedrl.difficulty.DifficultyStream;
import io.pacedrl.learning.TrainingConfig;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.topics.Topics;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ProgressBar;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The difficulty-stream's throughput: scored rollouts processed per second by the running app
 * (real broker, exactly-once, RocksDB stores, through both sub-topologies). What scheduling costs
 * per version at large pools is {@code bench scheduling}.
 */
@Command(name = "difficulty", mixinStandardHelpOptions = true,
        description = "Scored rollouts/s through the difficulty-stream app on a real broker.")
final class DifficultyBenchmarkCommand implements Callable<Integer> {
    @Mixin
    PlatformOptions platformOptions;

    @Option(names = "--pool-size", defaultValue = "20000", paramLabel = "N", description = "Prompts in the app's pool (default: ${DEFAULT-VALUE}).")
    int poolSize;

    @Option(names = "--groups", defaultValue = "125000", paramLabel = "N", description = "Scored groups fed to the app (default: ${DEFAULT-VALUE}).")
    int groups;

    @Option(names = "--group-size", defaultValue = "8", paramLabel = "G", description = "Rollouts per group (default: ${DEFAULT-VALUE}).")
    int groupSize;

    @Option(names = "--threads", defaultValue = "1", paramLabel = "N", description = "Stream threads (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--streams-property", paramLabel = "KEY=VALUE",
            description = "A Kafka Streams config for the app (repeatable), e.g. commit.interval.ms=200.")
    Map<String, String> streamsProperties = new LinkedHashMap<>();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (poolSize < 1 || groups < 1 || groupSize < 2 || threads < 1) {
            throw new ParameterException(spec.commandLine(), "sizes must be ≥ 1 and --group-size ≥ 2");
        }
        PrintWriter out = spec.commandLine().getOut();
        Map<String, Object> figures = new LinkedHashMap<>();

        Path runDir = platformOptions.runDir("bench-difficulty");
        try (Platform platform = platformOptions.open("bench-difficulty")) {
            // Topics and application id of its own per run, so consecutive runs on one cluster do not mix.
            String prefix = platformOptions.topicPrefix + runDir.getFileName() + ".";
            Topics topics = new Topics(prefix, new SchemaRegistryClient(platform.schemaRegistryUrl()));
            platform.ensureTopics(topics.all());
            long records = feed(platform.bootstrapServers(), topics);
            out.printf("rewards: %,d prompts, %,d groups × %d scored rollouts produced on %s; %d stream thread(s)%n",
                    poolSize, groups, groupSize, platform.bootstrapServers(), threads);
            out.flush();

            // A uniform method: this measures the rollouts' path, which every method shares.
            TrainingConfig config = TrainingConfig.defaults().with(Map.of("group-size", groupSize, "method", "grpo"));
            DifficultyStream.Options defaults = DifficultyStream.Options.of(platform.bootstrapServers(),
                    platform.schemaRegistryUrl(), prefix, runDir.resolve("state"));
            DifficultyStream.Options options = new DifficultyStream.Options(defaults.bootstrapServers(),
                    defaults.schemaRegistryUrl(), prefix, defaults.applicationId(), defaults.stateDir(), defaults.httpHost(),
                    0, threads, defaults.runId(), Map.copyOf(streamsProperties));
            long started = System.nanoTime();
            try (DifficultyStream app = DifficultyStream.start(options, config)) {
                app.awaitRunning(Duration.ofMinutes(2));
                long running = System.nanoTime();
                long[] warm = {0, 0}; // when a fifth of the groups were through, and how many exactly
                long done = awaitGroups(app.queryUrl(), Duration.ofMinutes(10), warm);
                long finished = System.nanoTime();
                if (done < groups) {
                    out.printf("  only %,d of %,d groups were processed within 10 minutes%n", done, groups);
                    return 1;
                }
                double seconds = (finished - running) / 1e9;
                long rollouts = (long) groups * groupSize;
                out.printf("  start-up to RUNNING              %8.1f s%n", (running - started) / 1e9);
                out.printf("  scored rollouts, whole run       %,8.0f /s (%,d in %.1f s from a cold JVM)%n",
                        rollouts / seconds, rollouts, seconds);
                out.printf("  all input records                %,8.0f /s (pool and rollouts: %,d)%n", records / seconds, records);
                if (warm[1] < groups) { // unless the very first look already saw every group
                    double steady = (groups - warm[1]) * (double) groupSize / ((finished - warm[0]) / 1e9);
                    out.printf("  scored rollouts, steady state    %,8.0f /s (target ≥ 50,000/s; after the first fifth, once the JIT has warmed up)%n", steady);
                    figures.put("steadyScoredRolloutsPerSecond", Math.round(steady));
                }
                figures.put("poolSize", poolSize);
                figures.put("groups", groups);
                figures.put("groupSize", groupSize);
                figures.put("threads", threads);
                figures.put("streamsProperties", streamsProperties);
                figures.put("startupSeconds", (running - started) / 1e9);
                figures.put("processingSeconds", seconds);
                figures.put("scoredRolloutsPerSecond", Math.round(rollouts / seconds));
                figures.put("inputRecordsPerSecond", Math.round(records / seconds));
            }
        }
        out.printf("figures %s%n", platformOptions.writeResults("bench-difficulty", "bench-difficulty.json", figures));
        return 0;
    }

    /** Produces the pool, version 0 and the scored groups; returns the records fed to the app. */
    private long feed(String bootstrapServers, Topics topics) throws Exception {
        long records = 0;
        SplittableRandom random = new SplittableRandom(7);
        // One producer for everything: its sends to a partition keep their order.
        try (var producer = new KafkaProducer<>(ClientSettings.kafka(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.LINGER_MS_CONFIG, 5, ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024)),
                new StringSerializer(), topics.valueSerializer());
             ProgressBar progress = ProgressBars.create("producing groups", groups)) {
            for (int i = 0; i < poolSize; i++) {
                Prompt prompt = prompt(i);
                producer.send(new ProducerRecord<>(topics.prompts.name(), prompt.getId(), prompt));
                records++;
            }
            SampleRecords sample = new SampleRecords("bench", System.currentTimeMillis());
            sample.modelUpdate.setVersion(0);
            producer.send(new ProducerRecord<>(topics.modelUpdates.name(), "policy/0", sample.modelUpdate));
            producer.flush();
            ScoredRollout template = sample.scoredRollout;
            for (int k = 0; k < groups; k++) {
                Prompt prompt = prompt(random.nextInt(poolSize));
                String scheduleId = prompt.getId() + "@bench." + k;
                for (int i = 0; i < groupSize; i++) {
                    ScoredRollout rollout = ScoredRollout.newBuilder(template).build();
                    boolean correct = random.nextDouble() < 0.3;
                    rollout.getRollout().setPrompt(prompt);
                    rollout.getRollout().setScheduleId(scheduleId);
                    rollout.getRollout().setRolloutId(scheduleId + "/" + i);
                    rollout.getRollout().setGroupIndex(i);
                    rollout.getRollout().setGroupSize(groupSize);
                    rollout.setReward(correct ? 1 : 0);
                    rollout.setCorrect(correct);
                    producer.send(new ProducerRecord<>(topics.scoredRollouts.name(), prompt.getId(), rollout));
                    records++;
                }
                progress.step();
            }
            producer.flush();
        }
        return records;
    }

    private static Prompt prompt(int i) {
        String id = String.format("arith-%07d", i);
        return Prompt.newBuilder().setId(id).setKind("numeric").setFamily("arith").setDifficulty(1 + i % 4)
                .setSplit(PromptSplit.TRAIN).setText("What is " + (i % 97) + " + " + (i % 89) + "?")
                .setAnswer(Integer.toString(i % 97 + i % 89)).build();
    }

    /**
     * Polls the app's scheduler counters until every group has reached it; returns how many did, and
     * notes in {@code warm} the time and count when a fifth had.
     */
    private long awaitGroups(URI queries, Duration patience, long[] warm) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        ObjectMapper json = new ObjectMapper();
        long deadline = System.nanoTime() + patience.toNanos();
        long done = 0;
        try (ProgressBar progress = ProgressBars.create("groups processed", groups)) {
            while (done < groups && System.nanoTime() < deadline) {
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(queries.resolve("/scheduler")).build(),
                        HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() == 200) {
                    JsonNode counters = json.readTree(response.body()).path("counters");
                    done = counters.path("completed-groups").asLong() + counters.path("late-groups").asLong();
                    progress.stepTo(done);
                    if (warm[0] == 0 && done >= groups / 5) {
                        warm[0] = System.nanoTime();
                        warm[1] = done;
                    }
                }
                Thread.sleep(100);
            }
        }
        return done;
    }
}
