package io.pacedrl.runner;

import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.SchemaRegistryClient;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.topics.TopicSpec;
import io.pacedrl.topics.Topics;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.Serializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * What the platform costs per record before any model runs: scored rollouts (the pipeline's
 * busiest record) encoded in the Confluent wire format through the registry, produced to the
 * broker and consumed and decoded by a consumer group.
 */
@Command(name = "platform", mixinStandardHelpOptions = true,
        description = "Encode, produce and consume scored rollouts through the schema registry and the broker; "
                + "prints records/s for each stage.")
final class PlatformBenchmark implements Callable<Integer> {
    @Mixin
    PlatformOptions platformOptions;

    @Option(names = "--records", defaultValue = "200000", description = "Records per stage (default: ${DEFAULT-VALUE}).")
    int records;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path runDir = platformOptions.runDir("bench-platform");
        try (Platform platform = platformOptions.open("bench-platform")) {
            // A topic of its own per run, so consecutive runs on one cluster do not mix.
            Topics topics = new Topics(platformOptions.topicPrefix + runDir.getFileName() + ".",
                    new SchemaRegistryClient(platform.schemaRegistryUrl()));
            TopicSpec<String, ScoredRollout> topic = topics.scoredRollouts;
            platform.ensureTopics(List.of(topic));
            ScoredRollout record = new SampleRecords(runDir.getFileName().toString(), System.currentTimeMillis()).scoredRollout;
            Map<String, Object> figures = new LinkedHashMap<>();
            figures.put("records", records);
            figures.put("bootstrapServers", platform.bootstrapServers());
            figures.put("embedded", platform.isEmbedded());
            out.printf("platform benchmark: %,d ScoredRollout records per stage on %s%n", records, platform.bootstrapServers());

            Serializer<ScoredRollout> serializer = topic.valueSerde().serializer();
            int bytes = serializer.serialize(topic.name(), record).length; // registers the schema
            long start = System.nanoTime();
            for (int i = 0; i < records; i++) {
                serializer.serialize(topic.name(), record);
            }
            report(out, figures, "encode", start, bytes);

            start = System.nanoTime();
            try (KafkaProducer<String, ScoredRollout> producer = new KafkaProducer<>(ClientSettings.kafka(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, platform.bootstrapServers(),
                    ProducerConfig.ACKS_CONFIG, "all",
                    ProducerConfig.LINGER_MS_CONFIG, 5,
                    ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024)),
                    topic.keySerde().serializer(), serializer)) {
                Sends.sendAll(producer, IntStream.range(0, records)
                        .mapToObj(i -> new ProducerRecord<>(topic.name(), "prompt-" + (i % 1000), record)));
            }
            report(out, figures, "produce", start, bytes);

            start = System.nanoTime();
            long consumed = 0;
            try (KafkaConsumer<String, ScoredRollout> consumer = new KafkaConsumer<>(ClientSettings.kafka(Map.of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, platform.bootstrapServers(),
                    ConsumerConfig.GROUP_ID_CONFIG, runDir.getFileName() + "-bench",
                    ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000)),
                    topic.keySerde().deserializer(), topic.valueSerde().deserializer())) {
                consumer.subscribe(List.of(topic.name()));
                long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
                while (consumed < records && System.nanoTime() < deadline) {
                    consumed += consumer.poll(Duration.ofMillis(200)).count();
                }
            }
            if (consumed < records) {
                throw new IllegalStateException(String.format("only %,d of the %,d records written arrived within 5 minutes",
                        consumed, records));
            }
            report(out, figures, "consume", start, bytes);

            out.printf("figures    %s%n", platformOptions.writeResults("bench-platform", "bench-platform.json", figures));
            out.flush();
            return 0;
        }
    }

    private void report(PrintWriter out, Map<String, Object> figures, String stage, long startNanos, int bytesPerRecord) {
        double seconds = (System.nanoTime() - startNanos) / 1e9;
        double perSecond = records / seconds;
        out.printf("%-10s %,10.0f records/s  %6.1f MB/s  (%d B/record, %.2f s)%n", stage, perSecond,
                perSecond * bytesPerRecord / 1e6, bytesPerRecord, seconds);
        out.flush();
        figures.put(stage + "RecordsPerSecond", Math.round(perSecond));
        figures.put(stage + "Seconds", seconds);
        figures.put("bytesPerRecord", bytesPerRecord);
    }
}
