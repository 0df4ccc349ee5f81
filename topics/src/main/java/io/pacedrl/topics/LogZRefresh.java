package io.pacedrl.topics;

import io.pacedrl.schemas.LogZEstimate;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The end of a p̂ refresh on the logz topic. After each update the learner writes every prompt's
 * estimate for the new version, then one end marker to <em>every</em> partition. A consumer reading
 * a partition in order knows that partition's refresh is complete when it meets the marker, and the
 * whole refresh once it has met the marker on all partitions: a watermark, so the difficulty
 * scheduler never ranks prompts by a half-arrived refresh.
 *
 * <p>A marker is a LogZEstimate with an empty prompt id (and key), the version, and zeros.
 */
public final class LogZRefresh {
    public static final String MARKER_KEY = "";

    private LogZRefresh() {}

    public static boolean isEndMarker(LogZEstimate estimate) {
        return estimate.getPromptId().isEmpty();
    }

    /** The markers ending the refresh for {@code version}, one per partition of {@code topic}. */
    public static List<ProducerRecord<String, LogZEstimate>> endMarkers(TopicSpec<String, LogZEstimate> topic,
            long version, long nowMs) {
        List<ProducerRecord<String, LogZEstimate>> markers = new ArrayList<>();
        for (int partition = 0; partition < topic.partitions(); partition++) {
            markers.add(new ProducerRecord<>(topic.name(), partition, MARKER_KEY, endMarker(version, nowMs)));
        }
        return markers;
    }

    public static LogZEstimate endMarker(long version, long nowMs) {
        return LogZEstimate.newBuilder().setPromptId("").setLogZ(0).setPHat(0).setBeta(1).setPolicyVersion(version)
                .setCreatedAtMs(nowMs).build();
    }
}
