package io.pacedrl.runner;

import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.reward.RewardService;
import io.pacedrl.schemas.FinishReason;
import io.pacedrl.schemas.Prompt;
import io.pacedrl.schemas.PromptSplit;
import io.pacedrl.schemas.Rollout;
import io.pacedrl.tasks.RewardVerifier;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.TaskSuite;
import io.pacedrl.topics.PromptRecords;
import io.pacedrl.topics.Topics;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
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

/** Each verifier's throughput as a consumer group on the real broker, all running at once. */
@Command(name = "rewards", mixinStandardHelpOptions = true,
        description = "Scored rollouts/s of each verifier (numeric, countdown, sandboxed code) on the embedded broker.")
final class RewardBenchmarkCommand implements Callable<Integer> {
    @Mixin
    PlatformOptions platformOptions;

    @Option(names = "--rollouts", defaultValue = "20000", description = "Numeric and countdown rollouts each (default: ${DEFAULT-VALUE}).")
    int rollouts;

    @Option(names = "--code-rollouts", defaultValue = "100", description = "Code rollouts, each a sandboxed Python run (default: ${DEFAULT-VALUE}).")
    int codeRollouts;

    @Option(names = "--threads", defaultValue = "2", description = "Parallel verifications per verifier (default: ${DEFAULT-VALUE}).")
    int threads;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (rollouts < 1 || codeRollouts < 1 || threads < 1) {
            throw new ParameterException(spec.commandLine(), "--rollouts, --code-rollouts and --threads must be ≥ 1");
        }
        PrintWriter out = spec.commandLine().getOut();
        Path runDir = platformOptions.runDir("bench-rewards");
        Map<String, Object> figures = new LinkedHashMap<>();
        try (Platform platform = platformOptions.open("bench-rewards")) {
            String prefix = platformOptions.topicPrefix + runDir.getFileName() + ".";
            Topics topics = new Topics(prefix, new SchemaRegistryClient(platform.schemaRegistryUrl()));
            platform.ensureTopics(topics.all());
            Map<String, Integer> expected = feed(platform.bootstrapServers(), topics);
            out.printf("rewards: %s rollouts on %s, %d verifications in parallel per verifier%n", expected,
                    platform.bootstrapServers(), threads);
            out.flush();
            Map<String, RewardVerifier> available = RewardService.available();
            RewardService.Options defaults = RewardService.Options.of(platform.bootstrapServers(), platform.schemaRegistryUrl(), prefix);
            Map<String, Double> seconds = new LinkedHashMap<>();
            Map<String, Long> letters;
            // Timed from the first committed score of any verifier: joining the groups is not scoring.
            long[] firstScore = {0};
            try (RewardService service = RewardService.start(new RewardService.Options(defaults.bootstrapServers(),
                    defaults.schemaRegistryUrl(), prefix, defaults.instanceId(), Duration.ofSeconds(30), threads),
                    expected.keySet().stream().map(available::get).toList())) {
                long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
                while (seconds.size() < expected.size()) {
                    Thread.sleep(50);
                    Optional<Throwable> failure = service.failure();
                    if (failure.isPresent()) {
                        throw new IllegalStateException(failure.get().getMessage(), failure.get());
                    }
                    // A rollout is handled once its score or its dead letter is committed.
                    Map<String, Long> scored = service.scored();
                    Map<String, Long> deadLettered = service.deadLettered();
                    long now = System.nanoTime();
                    if (now > deadline) {
                        throw new IllegalStateException("not every verifier finished within 10 minutes: expected " + expected
                                + ", scored " + scored + ", dead-lettered " + deadLettered + "; "
                                + groupStates(platform.bootstrapServers(), prefix, expected.keySet()));
                    }
                    if (firstScore[0] == 0 && scored.values().stream().anyMatch(count -> count > 0)) {
                        firstScore[0] = now;
                    }
                    expected.forEach((name, n) -> {
                        if (!seconds.containsKey(name) && scored.get(name) + deadLettered.get(name) >= n) {
                            seconds.put(name, Math.max(0.05, (now - firstScore[0]) / 1e9));
                        }
                    });
                }
                letters = service.deadLettered(); // final: each verifier has handled all its rollouts
            }
            for (Map.Entry<String, Integer> entry : expected.entrySet()) {
                String name = entry.getKey();
                double s = seconds.get(name);
                out.printf("  %-10s %,9.0f handled rollouts/s (%,d in %.1f s after the first score, %,d dead-lettered)%n", name,
                        entry.getValue() / s, entry.getValue(), s, letters.get(name));
                figures.put(name + "PerSecond", entry.getValue() / s);
                figures.put(name + "DeadLettered", letters.get(name));
            }
        }
        figures.put("rollouts", rollouts);
        figures.put("codeRollouts", codeRollouts);
        figures.put("threads", threads);
        out.printf("figures %s%n", platformOptions.writeResults("bench-rewards", "bench-rewards.json", figures));
        return 0;
    }

    /** Each verifier group's state, members and committed offsets: what a stalled run needs to say. */
    private static String groupStates(String bootstrapServers, String prefix, Collection<String> verifiers) {
        List<String> states = new ArrayList<>();
        try (Admin admin = Admin.create(ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers)))) {
            for (String verifier : verifiers) {
                String group = RewardService.groupId(prefix, verifier);
                try {
                    ConsumerGroupDescription description = admin.describeConsumerGroups(List.of(group)).all()
                            .get(30, TimeUnit.SECONDS).get(group);
                    long committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS)
                            .values().stream().filter(Objects::nonNull).mapToLong(OffsetAndMetadata::offset).sum();
                    states.add(group + " " + description.groupState() + " with " + description.members().size()
                            + " members, offsets committed " + committed);
                } catch (Exception e) {
                    states.add(group + ": " + (e.getCause() != null ? e.getCause() : e));
                }
            }
        }
        return String.join(", ", states);
    }

    /** Produces the rollouts: suite prompts answered right or wrong, and code answers to a small task. */
    private Map<String, Integer> feed(String bootstrapServers, Topics topics) throws Exception {
        List<TaskPrompt> pool = TaskSuite.generate(TaskSuite.Config.DEFAULT).train();
        List<TaskPrompt> numeric = pool.stream().filter(p -> p.kind().equals("numeric")).limit(rollouts).toList();
        List<TaskPrompt> countdown = pool.stream().filter(p -> p.kind().equals("countdown")).limit(rollouts).toList();
        Map<String, Integer> expected = new LinkedHashMap<>();
        try (var producer = new KafkaProducer<>(ClientSettings.kafka(Map.<String, Object>of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                bootstrapServers, ProducerConfig.LINGER_MS_CONFIG, 5)), new StringSerializer(), topics.rollouts.valueSerde().serializer())) {
            List<Rollout> all = new ArrayList<>();
            for (int i = 0; i < rollouts; i++) {
                TaskPrompt p = numeric.get(i % numeric.size());
                all.add(rollout(PromptRecords.toRecord(p), i, i % 2 == 0 ? p.answer() : "0"));
                TaskPrompt c = countdown.get(i % countdown.size());
                all.add(rollout(PromptRecords.toRecord(c), i, "1+2*3"));
            }
            Prompt code = Prompt.newBuilder().setId("code-add").setKind("code").setFamily("code").setDifficulty(1)
                    .setSplit(PromptSplit.TRAIN).setText("def add(a, b):")
                    .setSpec("{\"tests\": [\"assert add(1, 2) == 3\", \"assert add(-1, 1) == 0\"]}").build();
            for (int i = 0; i < codeRollouts; i++) {
                all.add(rollout(code, i, i % 2 == 0 ? "def add(a, b):\n    return a + b\n" : "def add(a, b):\n    return a - b\n"));
            }
            Sends.sendAll(producer, all.stream().map(r -> new ProducerRecord<>(topics.rollouts.name(), r.getPrompt().getId(), r)));
        }
        expected.put("numeric", rollouts);
        expected.put("countdown", rollouts);
        expected.put("code", codeRollouts);
        return expected;
    }

    private static Rollout rollout(Prompt prompt, int i, String response) {
        return Rollout.newBuilder().setRolloutId(prompt.getId() + "@bench." + i + "/0").setScheduleId(prompt.getId() + "@bench." + i)
                .setPrompt(prompt).setGroupIndex(0).setGroupSize(1).setPromptTokens(List.of(1, 2, 3))
                .setResponseTokens(List.of(4, 5)).setResponseText(response).setBehaviourLogProbs(List.of(-0.1f, -0.2f))
                .setFinishReason(FinishReason.EOS).setPolicyVersion(0).setGeneratorId("bench").setTemperature(1f).setTopP(1f)
                .setStartedAtMs(0).setFinishedAtMs(0).build();
    }
}
