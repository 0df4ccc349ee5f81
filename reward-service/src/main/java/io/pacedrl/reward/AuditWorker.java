package io.pacedrl.reward;

import io.pacedrl.registry.RecordDecodingException;
import io.pacedrl.schemas.Rollout;
import io.pacedrl.topics.DeadLetters;
import io.pacedrl.topics.Topics;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The group that makes sure nothing on the rollouts topic is dropped silently: every verifier group
 * skips what is not its own, so this one dead-letters, once, what no verifier can take: records
 * that do not decode, and rollouts of a task kind no known verifier scores.
 */
final class AuditWorker extends ConsumeProduceLoop {
    static final String UNKNOWN_KIND = "UNKNOWN_TASK_KIND";

    private final Set<String> knownKinds;

    AuditWorker(Topics topics, Set<String> knownKinds, KafkaConsumer<String, byte[]> consumer,
            KafkaProducer<String, Object> producer) {
        super(topics, "reward-service/audit", consumer, producer);
        this.knownKinds = Set.copyOf(knownKinds);
    }

    @Override
    List<ProducerRecord<String, Object>> handle(ConsumerRecords<String, byte[]> records, long receivedAtNanos) {
        List<ProducerRecord<String, Object>> out = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> record : records) {
            Rollout rollout;
            try {
                rollout = topics.rollouts.decode(record.value(), receivedAtNanos);
            } catch (RecordDecodingException e) {
                if (e.isTransient()) {
                    throw e;
                }
                out.add(deadLetter(record, e.reason().name(), e.getMessage()));
                continue;
            }
            if (rollout == null) {
                out.add(deadLetter(record, DeadLetters.UNDECODABLE, "a rollout with no value"));
            } else if (!knownKinds.contains(rollout.getPrompt().getKind())) {
                out.add(deadLetter(record, UNKNOWN_KIND, "no verifier scores task kind '" + rollout.getPrompt().getKind()
                        + "' (known: " + knownKinds.stream().sorted().toList() + ")"));
            }
        }
        return out;
    }
}
