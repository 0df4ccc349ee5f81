package io.pacedrl.runner;

import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.topics.TopicCreator;
import io.pacedrl.topics.Topics;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Brings the platform up and proves it: broker and registry, every topic of the catalogue, and one
 * record of every schema written through the registry and read back by two consumer groups.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Start the Kafka platform (embedded, or --bootstrap-servers), create every topic, and round-trip "
                + "one record of every schema through the schema registry and two consumer groups.")
final class DemoCommand implements Callable<Integer> {
    @Mixin
    PlatformOptions platformOptions;

    @Option(names = "--keep-running", description = "Keep the embedded broker and registry up until Ctrl-C, to explore them.")
    boolean keepRunning;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        long started = System.nanoTime();
        Path runDir = platformOptions.runDir("demo");
        String runId = runDir.getFileName().toString();
        try (Platform platform = platformOptions.open("demo")) {
            out.printf("broker     %s (%s)%n", platform.bootstrapServers(), platform.isEmbedded()
                    ? "embedded KRaft broker, data in " + runDir.resolve("kafka") : "external cluster");
            out.printf("registry   %s (Confluent Schema Registry REST API)%n", platform.schemaRegistryUrl());
            out.flush();

            Topics topics = new Topics(platformOptions.topicPrefix, new SchemaRegistryClient(platform.schemaRegistryUrl()));
            List<TopicCreator.Outcome> outcomes = platform.ensureTopics(topics.all());
            for (TopicCreator.Outcome outcome : outcomes) {
                var topic = topics.all().stream().filter(t -> t.name().equals(outcome.topic())).findFirst().orElseThrow();
                out.printf("topic      %-20s %s, %d partitions, replication %d, cleanup %s, key: %s%n", outcome.topic(),
                        outcome.created() ? "created" : "checked", outcome.partitions(), outcome.replicationFactor(),
                        topic.cleanupPolicy(), topic.keyDescription());
            }
            out.flush();

            List<String> groups = List.of(runId + "-reader-a", runId + "-reader-b");
            List<SchemaRoundTrip.Result> results = new SchemaRoundTrip(topics, platform.bootstrapServers(), Platform.ADMIN_TIMEOUT)
                    .run(new SampleRecords(runId, System.currentTimeMillis()), groups);
            for (SchemaRoundTrip.Result result : results) {
                out.printf("round trip %-20s %-16s schema id %-3d partition %d offset %-4d read back by %s%n",
                        result.topic(), result.schema(), result.schemaId(), result.partition(), result.offset(),
                        result.readBackBy().isEmpty() ? "NOBODY" : String.join(", ", result.readBackBy()));
            }
            long complete = results.stream().filter(r -> r.readBackBy().size() == groups.size()).count();
            double seconds = (System.nanoTime() - started) / 1e9;
            out.printf("%d/%d schemas round-tripped through the registry and %d consumer groups in %.1f s%n",
                    complete, results.size(), groups.size(), seconds);
            out.printf("report     %s%n", platformOptions.writeResults("demo", "round-trip.json",
                    report(platform, outcomes, results, seconds)));
            out.flush();

            if (keepRunning && platform.isEmbedded()) {
                out.printf("running    until Ctrl-C: try  curl %s/subjects%n", platform.schemaRegistryUrl());
                out.flush();
                awaitShutdown();
            }
            return complete == results.size() ? 0 : 1;
        }
    }

    private static Map<String, Object> report(Platform platform, List<TopicCreator.Outcome> topics,
            List<SchemaRoundTrip.Result> results, double seconds) {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("bootstrapServers", platform.bootstrapServers());
        report.put("schemaRegistryUrl", platform.schemaRegistryUrl());
        report.put("embedded", platform.isEmbedded());
        report.put("topics", topics);
        report.put("roundTrips", results);
        report.put("seconds", seconds);
        return report;
    }

    private static void awaitShutdown() throws InterruptedException {
        CountDownLatch stop = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
        stop.await();
    }
}
