package io.pacedrl.runner;

import io.pacedrl.generator.GeneratorService;
import io.pacedrl.policy.Transformer;
import io.pacedrl.policy.WarmStart;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.ScheduledPrompt;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.TaskSuite;
import io.pacedrl.topics.ModelUpdateChunks;
import io.pacedrl.topics.PromptRecords;
import io.pacedrl.topics.Topics;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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

/** Generator throughput on the real broker: scheduled prompts in, G rollouts each out, committed. */
@Command(name = "generator", mixinStandardHelpOptions = true,
        description = "Rollouts/s and tokens/s of one generator-service on the embedded broker, with the warm-start policy.")
final class GeneratorBenchmarkCommand implements Callable<Integer> {
    @Mixin
    PlatformOptions platformOptions;

    @Mixin
    CacheOptions cache;

    @Option(names = "--weights", paramLabel = "FILE", description = "Policy weights. Default: the default warm start "
            + "(trained first if it is not cached).")
    Path weights;

    @Option(names = "--prompts", defaultValue = "256", description = "Scheduled prompts (default: ${DEFAULT-VALUE}).")
    int prompts;

    @Option(names = "--group-size", defaultValue = "8", description = "G (default: ${DEFAULT-VALUE}).")
    int groupSize;

    @Option(names = "--batch-prompts", defaultValue = "16", description = "Prompts per sampling batch (default: ${DEFAULT-VALUE}).")
    int batchPrompts;

    @Option(names = "--max-new-tokens", defaultValue = "24", description = "Default: ${DEFAULT-VALUE}.")
    int maxNewTokens;

    @Option(names = "--threads", defaultValue = "1", description = "PyTorch threads (default: ${DEFAULT-VALUE}; on 2 shared cores 1 is faster).")
    int threads;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (prompts < 1 || groupSize < 1 || batchPrompts < 1 || maxNewTokens < 1 || threads < 1) {
            throw new ParameterException(spec.commandLine(), "every size must be ≥ 1");
        }
        if (weights != null && !Files.isRegularFile(weights)) {
            throw new ParameterException(spec.commandLine(), "--weights " + weights + ": no such file");
        }
        PrintWriter out = spec.commandLine().getOut();
        Path policy = weights != null ? weights : WarmStart.obtain(WarmStart.Config.defaults(), cache.cacheDir, p -> {}).weights();
        Path runDir = platformOptions.runDir("bench-generator");
        Map<String, Object> figures = new LinkedHashMap<>();
        try (Platform platform = platformOptions.open("bench-generator")) {
            String prefix = platformOptions.topicPrefix + runDir.getFileName() + ".";
            Topics topics = new Topics(prefix, new SchemaRegistryClient(platform.schemaRegistryUrl()));
            platform.ensureTopics(topics.all());
            Map<String, Object> producerConfig = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, platform.bootstrapServers(),
                    ProducerConfig.MAX_REQUEST_SIZE_CONFIG, topics.modelUpdates.maxMessageBytes());
            try (var updates = new KafkaProducer<>(ClientSettings.kafka(producerConfig), new StringSerializer(), topics.modelUpdates.valueSerde().serializer())) {
                for (var chunk : ModelUpdateChunks.split("policy", 0, "paced-rl-weights-v1", Files.readAllBytes(policy), 0,
                        List.of(), List.of(), System.currentTimeMillis())) {
                    updates.send(new ProducerRecord<>(topics.modelUpdates.name(), ModelUpdateChunks.key("policy", chunk.getChunkIndex()), chunk));
                }
            }
            List<TaskPrompt> pool = TaskSuite.generate(TaskSuite.Config.DEFAULT).train();
            try (var scheduled = new KafkaProducer<>(ClientSettings.kafka(producerConfig), new StringSerializer(), topics.scheduledPrompts.valueSerde().serializer())) {
                for (int i = 0; i < prompts; i++) {
                    TaskPrompt prompt = pool.get((int) ((long) i * 7919 % pool.size()));
                    scheduled.send(new ProducerRecord<>(topics.scheduledPrompts.name(), prompt.id(), ScheduledPrompt.newBuilder()
                            .setPrompt(PromptRecords.toRecord(prompt)).setScheduleId(prompt.id() + "@bench." + i).setBatchId(0)
                            .setGroupSize(groupSize).setLearnerVersion(0).setStrategy("uniform").setPHat(null)
                            .setScheduledAtMs(System.currentTimeMillis()).build()));
                }
            }
            out.printf("generator: %d prompts × G %d, %d prompts per batch, %d new tokens at most, %d threads, weights %s%n",
                    prompts, groupSize, batchPrompts, maxNewTokens, threads, policy);
            out.flush();
            GeneratorService.Options defaults = GeneratorService.Options.of(platform.bootstrapServers(),
                    platform.schemaRegistryUrl(), prefix, "policy");
            long total = (long) prompts * groupSize;
            try (GeneratorService generator = GeneratorService.start(new GeneratorService.Options(defaults.bootstrapServers(),
                    defaults.schemaRegistryUrl(), prefix, "bench-generator", "policy",
                    new Transformer.SamplingConfig(1f, 1f, maxNewTokens), batchPrompts, threads));
                 ProgressBar progress = ProgressBars.create("rollouts", total)) {
                while (generator.policyVersion() < 0) {
                    Thread.sleep(20);
                }
                long start = System.nanoTime();
                while (generator.rollouts() < total) {
                    Thread.sleep(50);
                    progress.stepTo(generator.rollouts());
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                progress.stepTo(total);
                out.printf("  rollouts   %,8.0f /s (%,d in %.1f s, committed with their offsets)%n", total / seconds, total, seconds);
                out.printf("  tokens     %,8.0f /s sampled (%.1f per response)%n", generator.tokens() / seconds,
                        generator.tokens() / (double) total);
                figures.put("rolloutsPerSecond", total / seconds);
                figures.put("tokensPerSecond", generator.tokens() / seconds);
                figures.put("meanResponseTokens", generator.tokens() / (double) total);
            }
        }
        figures.put("prompts", prompts);
        figures.put("groupSize", groupSize);
        figures.put("batchPrompts", batchPrompts);
        figures.put("threads", threads);
        out.printf("figures %s%n", platformOptions.writeResults("bench-generator", "bench-generator.json", figures));
        return 0;
    }
}
