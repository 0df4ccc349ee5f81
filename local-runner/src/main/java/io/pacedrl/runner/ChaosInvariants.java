package io.pacedrl.runner;

import io.pacedrl.registry.ClientSettings;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.schemas.LearnedGroup;
import io.pacedrl.schemas.ModelVersion;
import io.pacedrl.schemas.Rollout;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.topics.TopicScan;
import io.pacedrl.topics.TopicSpec;
import io.pacedrl.topics.Topics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.LongStream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * What must hold of a run however often its services were killed, read from its topics at the end:
 * versions, rollouts, scores and learned groups each exactly once, generators on the newest
 * version, and every dead letter with its reason.
 */
record ChaosInvariants(List<Check> checks, Map<String, Long> deadLettersByType) {

    /** One invariant: whether it holds, and the figures that say so. */
    record Check(String name, boolean holds, String detail) {}

    boolean allHold() {
        return checks.stream().allMatch(Check::holds);
    }

    /** Reads the run's topics; {@code generatorLogs}: each generator's id and log, where it reports the versions it takes. */
    static ChaosInvariants check(String bootstrapServers, Topics topics, String modelId, long steps, Map<String, Path> generatorLogs)
            throws IOException {
        List<Check> checks = new ArrayList<>();

        List<Long> versions = new ArrayList<>();
        Set<String> learned = new HashSet<>();
        long learnedTwice = 0;
        for (ModelVersion version : read(bootstrapServers, topics.modelVersions)) {
            if (!version.getModelId().equals(modelId)) {
                continue;
            }
            versions.add(version.getVersion());
            for (LearnedGroup group : version.getGroups()) {
                for (String id : group.getRolloutIds()) {
                    learnedTwice += learned.add(id) ? 0 : 1;
                }
            }
        }
        List<Long> expected = LongStream.rangeClosed(0, steps).boxed().toList();
        checks.add(new Check("every version published once, in order", versions.equals(expected),
                versions.size() + " versions recorded, " + (versions.equals(expected) ? "0–" + steps + " each once" : versions.toString())));
        checks.add(new Check("no rollout learned twice (replay aside)", learnedTwice == 0,
                String.format("%,d rollouts learned fresh, %,d twice", learned.size(), learnedTwice)));

        Map<String, Integer> rollouts = new HashMap<>();
        for (Rollout rollout : read(bootstrapServers, topics.rollouts)) {
            rollouts.merge(rollout.getRolloutId(), 1, Integer::sum);
        }
        long rolloutsTwice = rollouts.values().stream().filter(n -> n > 1).count();
        checks.add(new Check("every rollout written once", rolloutsTwice == 0,
                String.format("%,d rollouts, %,d written twice", rollouts.size(), rolloutsTwice)));

        Map<String, Integer> scores = new HashMap<>();
        for (ScoredRollout scored : read(bootstrapServers, topics.scoredRollouts)) {
            scores.merge(scored.getRollout().getRolloutId() + " " + scored.getVerifier(), 1, Integer::sum);
        }
        Set<String> scoredIds = new HashSet<>();
        scores.keySet().forEach(key -> scoredIds.add(key.substring(0, key.indexOf(' '))));
        long scoredTwice = scores.values().stream().filter(n -> n > 1).count();
        long unscored = rollouts.keySet().stream().filter(id -> !scoredIds.contains(id)).count();
        checks.add(new Check("every rollout scored once per verifier", scoredTwice == 0 && unscored == 0,
                String.format("%,d scores, %,d given twice by one verifier, %,d rollouts unscored", scores.size(), scoredTwice, unscored)));

        Map<String, Long> latest = new TreeMap<>();
        Pattern takes = Pattern.compile("(\\S+) now samples with version (\\d+) of ");
        for (Map.Entry<String, Path> generator : generatorLogs.entrySet()) {
            long last = -1;
            for (String line : Files.readAllLines(generator.getValue())) {
                Matcher m = takes.matcher(line);
                if (m.find() && m.group(1).equals(generator.getKey())) {
                    last = Long.parseLong(m.group(2));
                }
            }
            latest.put(generator.getKey(), last);
        }
        checks.add(new Check("every generator ends on the newest version", latest.values().stream().allMatch(v -> v == steps),
                "last version taken: " + latest));

        Map<String, Long> byType = new TreeMap<>();
        long unexplained = 0;
        for (DeadLetter letter : read(bootstrapServers, topics.deadLetters)) {
            byType.merge(letter.getErrorType(), 1L, Long::sum);
            unexplained += letter.getReason() == null || letter.getReason().isBlank() ? 1 : 0;
        }
        checks.add(new Check("every dead letter explained", unexplained == 0,
                String.format("%,d dead letters %s, %,d without a reason", byType.values().stream().mapToLong(Long::longValue).sum(),
                        byType, unexplained)));
        return new ChaosInvariants(checks, byType);
    }

    private static <V> List<V> read(String bootstrapServers, TopicSpec<String, V> spec) {
        List<V> values = new ArrayList<>();
        Consumer<V> add = values::add;
        try (var reader = new KafkaConsumer<>(ClientSettings.kafka(Map.<String, Object>of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed", ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG,
                spec.maxMessageBytes())), new StringDeserializer(), spec.valueSerde().deserializer())) {
            TopicScan.toEnd(reader, spec, record -> add.accept(record.value()));
        }
        return values;
    }
}
