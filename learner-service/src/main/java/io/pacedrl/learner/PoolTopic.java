package io.pacedrl.learner;

import io.pacedrl.schemas.Prompt;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.topics.PromptRecords;
import io.pacedrl.topics.Topics;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The pool as the learner numbers it, read from the prompts topic: the learner at start-up and a reproduction read it the same way. */
public final class PoolTopic {
    private static final Logger log = LoggerFactory.getLogger(PoolTopic.class);

    /**
     * @param train   training prompts by id: their index is the learner's prompt index
     * @param heldOut held-out prompts in evaluation order (a seeded shuffle, since ids sort by family)
     */
    public record Pool(List<TaskPrompt> train, List<TaskPrompt> heldOut) {}

    private PoolTopic() {}

    /** The latest value of every prompt on the topic now; undecodable records are left out (the difficulty stream dead-letters them). */
    public static Pool read(String bootstrapServers, Topics topics, long seed) {
        Map<String, TaskPrompt> latest = new TreeMap<>();
        try (KafkaConsumer<String, byte[]> reader = TopicReads.consumer(bootstrapServers, Map.of())) {
            for (ConsumerRecord<String, byte[]> record : TopicReads.readAll(reader, topics.prompts)) {
                if (record.value() == null) {
                    latest.remove(record.key());
                    continue;
                }
                try {
                    Prompt prompt = topics.prompts.valueSerde().deserializer().deserialize(record.topic(), record.value());
                    latest.put(prompt.getId(), PromptRecords.toTask(prompt));
                } catch (RuntimeException e) {
                    log.warn("pool record {}-{}@{} left out: {}", record.topic(), record.partition(), record.offset(), e.getMessage());
                }
            }
        }
        List<TaskPrompt> train = latest.values().stream().filter(p -> p.split() == TaskPrompt.Split.TRAIN).toList();
        List<TaskPrompt> heldOut = new ArrayList<>(latest.values().stream().filter(p -> p.split() == TaskPrompt.Split.HELD_OUT).toList());
        Collections.shuffle(heldOut, new Random(seed));
        return new Pool(train, heldOut);
    }
}
