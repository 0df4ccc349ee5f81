package io.pacedrl.reward;

import io.micrometer.core.instrument.Timer;
import io.pacedrl.registry.RecordDecodingException;
import io.pacedrl.schemas.Rollout;
import io.pacedrl.schemas.ScoredRollout;
import io.pacedrl.tasks.RewardVerifier;
import io.pacedrl.tasks.TaskPrompt;
import io.pacedrl.tasks.Verdict;
import io.pacedrl.topics.PromptRecords;
import io.pacedrl.topics.Topics;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.WakeupException;

/**
 * One verifier's consumer group: reads every rollout, scores those of its kinds, and writes the
 * scores (or, for what it cannot score, dead letters) in the same transaction as its offsets, so a
 * crash neither loses nor repeats a score. Rollouts of other kinds are someone else's; records that
 * do not decode are the audit group's ({@link AuditWorker}).
 */
final class VerifierWorker extends ConsumeProduceLoop {
    static final String TIMEOUT = "VERIFIER_TIMEOUT";
    static final String ERROR = "VERIFIER_ERROR";
    static final String MALFORMED = "MALFORMED_ROLLOUT";

    private final RewardVerifier verifier;
    private final ExecutorService executor;
    private final Duration timeout;
    /** Verification time per scored rollout (its count: rollouts scored). */
    private final Timer latency;

    VerifierWorker(Topics topics, RewardVerifier verifier, KafkaConsumer<String, byte[]> consumer,
            KafkaProducer<String, Object> producer, ExecutorService executor, Duration timeout, Timer latency) {
        super(topics, "reward-service/" + verifier.name(), consumer, producer);
        this.verifier = verifier;
        this.latency = latency;
        this.executor = executor;
        this.timeout = timeout;
    }

    RewardVerifier verifier() {
        return verifier;
    }

    /** A rollout of the batch being verified. */
    private record Job(ConsumerRecord<String, byte[]> record, Rollout rollout, Future<Verdict> verdict, long startNanos) {}

    @Override
    List<ProducerRecord<String, Object>> handle(ConsumerRecords<String, byte[]> records, long receivedAtNanos) {
        List<Job> jobs = new ArrayList<>();
        List<ProducerRecord<String, Object>> out = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> record : records) {
            Rollout rollout;
            try {
                rollout = topics.rollouts.decode(record.value(), receivedAtNanos);
            } catch (RecordDecodingException e) {
                if (e.isTransient()) {
                    throw e; // the registry is down: nothing is committed, and the member stops
                }
                continue; // not a rollout at all: the audit group dead-letters it
            }
            if (rollout == null || !verifier.kinds().contains(rollout.getPrompt().getKind())) {
                continue;
            }
            TaskPrompt prompt;
            try {
                prompt = PromptRecords.toTask(rollout.getPrompt());
            } catch (RuntimeException e) {
                out.add(deadLetter(record, MALFORMED, "its prompt cannot be scored: " + e.getMessage()));
                continue;
            }
            // Verified in parallel on the executor; each waits at most the timeout from its start.
            jobs.add(new Job(record, rollout, executor.submit(() -> verifier.verify(prompt, rollout.getResponseText())),
                    System.nanoTime()));
        }
        for (Job job : jobs) {
            out.add(outcome(job));
        }
        return out;
    }

    /** The scored rollout, or the dead letter saying why there is none. */
    private ProducerRecord<String, Object> outcome(Job job) {
        long waitNanos = timeout.toNanos() - (System.nanoTime() - job.startNanos());
        try {
            Verdict verdict = job.verdict().get(Math.max(0, waitNanos), TimeUnit.NANOSECONDS);
            long micros = (System.nanoTime() - job.startNanos()) / 1000;
            latency.record(micros, TimeUnit.MICROSECONDS);
            ScoredRollout scored = ScoredRollout.newBuilder().setRollout(job.rollout()).setReward(verdict.reward())
                    .setCorrect(verdict.correct()).setVerifier(verifier.name()).setVerifierVersion(verifier.version())
                    .setDetails(new HashMap<>(verdict.details())).setVerifyMicros(micros)
                    .setScoredAtMs(System.currentTimeMillis()).build();
            return new ProducerRecord<>(topics.scoredRollouts.name(), job.rollout().getPrompt().getId(), scored);
        } catch (TimeoutException e) {
            job.verdict().cancel(true);
            return deadLetter(job.record(), TIMEOUT, "no verdict within " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            return deadLetter(job.record(), ERROR, verifier.name() + " failed: " + e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new WakeupException();
        }
    }
}
