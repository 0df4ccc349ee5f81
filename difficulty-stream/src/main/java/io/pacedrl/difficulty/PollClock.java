package io.pacedrl.difficulty;

import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerInterceptor;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * When the stream thread's consumer last handed records over (an interceptor on the main
 * consumer, which polls in the thread that processes): every record a processor sees in that
 * thread had arrived by then. That is the time a schema-id check asks with (see
 * {@code TopicSpec.decode}), so a poll full of made-up ids costs one listing of the registry's ids.
 */
public final class PollClock implements ConsumerInterceptor<byte[], byte[]> {
    private static final ThreadLocal<Long> LAST = new ThreadLocal<>();

    /** A time (System.nanoTime()) by which every record this thread processes now had arrived. */
    static long receivedBy() {
        Long last = LAST.get();
        return last == null ? System.nanoTime() : last;
    }

    @Override
    public ConsumerRecords<byte[], byte[]> onConsume(ConsumerRecords<byte[], byte[]> records) {
        LAST.set(System.nanoTime());
        return records;
    }

    @Override
    public void onCommit(Map<TopicPartition, OffsetAndMetadata> offsets) {}

    @Override
    public void close() {}

    @Override
    public void configure(Map<String, ?> configs) {}
}
