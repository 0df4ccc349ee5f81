package io.pacedrl.runner;

import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/** Writing a batch of records and knowing that it was written. */
final class Sends {
    private Sends() {}

    /**
     * Sends every record, then waits for each acknowledgement: a failed write throws here instead of
     * showing up later as a consumer that waits for records that never come.
     */
    static <K, V> void sendAll(Producer<K, V> producer, Stream<ProducerRecord<K, V>> records)
            throws InterruptedException, ExecutionException {
        List<Future<RecordMetadata>> sent = records.map(producer::send).toList();
        for (Future<RecordMetadata> ack : sent) {
            ack.get();
        }
    }
}
