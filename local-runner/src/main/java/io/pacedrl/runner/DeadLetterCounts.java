package io.pacedrl.runner;

import com.fasterxml.jackson.annotation.JsonCreator;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.schemas.DeadLetter;
import io.pacedrl.topics.TopicScan;
import io.pacedrl.topics.Topics;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * A run's dead letters counted: by the topic the record came from and the service that could not
 * use it. One bad record becomes one dead letter per service that reads its topic (a bad scored
 * rollout: the difficulty stream's and the learner's), so the records and the letters are counted
 * apart; {@code repeated} counts letters a service wrote twice for one record, which must be none.
 *
 * @param byTopic source topic (the run's prefix removed) → service (its instance removed) → letters
 */
record DeadLetterCounts(long letters, long records, long repeated, Map<String, Map<String, Long>> byTopic) {

    @JsonCreator(mode = JsonCreator.Mode.PROPERTIES)
    DeadLetterCounts {
        byTopic = byTopic == null ? Map.of() : byTopic;
    }

    /** A record written when only the letters were counted (an older metrics.json, which a comparison reads back). */
    @JsonCreator(mode = JsonCreator.Mode.DELEGATING)
    static DeadLetterCounts ofLetters(long letters) {
        return new DeadLetterCounts(letters, letters, 0, Map.of());
    }

    /** Every dead letter the run's topic holds now. */
    static DeadLetterCounts read(String bootstrapServers, Topics topics, String prefix) {
        Map<String, Map<String, Long>> byTopic = new TreeMap<>();
        Set<String> records = new HashSet<>();
        Set<String> letters = new HashSet<>();
        long[] total = {0};
        try (var reader = new KafkaConsumer<>(ClientSettings.kafka(Map.<String, Object>of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, topics.deadLetters.maxMessageBytes())),
                new StringDeserializer(), topics.deadLetters.valueSerde().deserializer())) {
            TopicScan.toEnd(reader, topics.deadLetters, record -> {
                DeadLetter letter = record.value();
                String topic = letter.getSourceTopic().startsWith(prefix) ? letter.getSourceTopic().substring(prefix.length())
                        : letter.getSourceTopic();
                String service = letter.getService().contains("/")
                        ? letter.getService().substring(0, letter.getService().indexOf('/')) : letter.getService();
                String origin = letter.getSourceTopic() + "-" + letter.getPartition() + "@" + letter.getOffset();
                total[0]++;
                records.add(origin);
                letters.add(origin + " " + service);
                byTopic.computeIfAbsent(topic, t -> new TreeMap<>()).merge(service, 1L, Long::sum);
            });
        }
        return new DeadLetterCounts(total[0], records.size(), total[0] - letters.size(), byTopic);
    }

    /** For the run's summary: "3 from 2 records (scored-rollouts: difficulty-stream 1, learner 1; ...)". */
    String describe() {
        if (letters == 0) {
            return "0";
        }
        String detail = byTopic.entrySet().stream().map(t -> t.getKey() + ": " + t.getValue().entrySet().stream()
                .map(s -> s.getKey() + " " + s.getValue()).collect(Collectors.joining(", "))).collect(Collectors.joining("; "));
        return String.format("%,d from %,d records, one per service that reads the record (%s)%s", letters, records, detail,
                repeated == 0 ? "" : String.format("; %,d written twice by one service", repeated));
    }
}
