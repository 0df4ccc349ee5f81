package io.pacedrl.topics;

import io.pacedrl.schemas.PromptEmbedding;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The pool's embeddings on the prompt-embeddings topic: e(x) as float32 little-endian bytes, and the
 * end markers that say a pool's embeddings are all there. The writer puts every prompt's embedding,
 * then one marker on <em>every</em> partition; a reader that meets the marker on a partition has
 * read that partition's embeddings, and once it has met it on all partitions, the pool's: the
 * difficulty scheduler ranks no prompt before then.
 *
 * <p>A marker is a PromptEmbedding with an empty prompt id (and key) and no values.
 */
public final class PoolEmbeddings {
    public static final String MARKER_KEY = "";

    private PoolEmbeddings() {}

    public static boolean isEndMarker(PromptEmbedding embedding) {
        return embedding.getPromptId().isEmpty();
    }

    public static PromptEmbedding of(String promptId, float[] values, String referenceSha256, long nowMs) {
        return PromptEmbedding.newBuilder().setPromptId(promptId).setDimension(values.length).setValues(encode(values))
                .setReferenceSha256(referenceSha256).setCreatedAtMs(nowMs).build();
    }

    /** The markers ending a pool's embeddings, one per partition of {@code topic}. */
    public static List<ProducerRecord<String, PromptEmbedding>> endMarkers(TopicSpec<String, PromptEmbedding> topic,
            String referenceSha256, long nowMs) {
        List<ProducerRecord<String, PromptEmbedding>> markers = new ArrayList<>();
        for (int partition = 0; partition < topic.partitions(); partition++) {
            markers.add(new ProducerRecord<>(topic.name(), partition, MARKER_KEY, endMarker(referenceSha256, nowMs)));
        }
        return markers;
    }

    public static PromptEmbedding endMarker(String referenceSha256, long nowMs) {
        return of("", new float[0], referenceSha256, nowMs);
    }

    public static ByteBuffer encode(float[] values) {
        ByteBuffer bytes = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        bytes.asFloatBuffer().put(values);
        return bytes;
    }

    /**
     * The values of an embedding; throws IllegalArgumentException, saying why, if its bytes do not
     * hold {@code dimension} finite floats.
     */
    public static float[] decode(PromptEmbedding embedding) {
        return decode(embedding.getDimension(), embedding.getValues());
    }

    /** As {@link #decode(PromptEmbedding)}, from the dimension and the bytes. */
    public static float[] decode(int dimension, ByteBuffer encoded) {
        ByteBuffer bytes = encoded.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (dimension < 1 || bytes.remaining() != dimension * Float.BYTES) {
            throw new IllegalArgumentException("embedding of dimension " + dimension + " carries "
                    + bytes.remaining() + " bytes; it needs dimension × 4 > 0");
        }
        float[] values = new float[dimension];
        bytes.asFloatBuffer().get(values);
        for (float value : values) {
            if (!Float.isFinite(value)) {
                throw new IllegalArgumentException("embedding holds " + value);
            }
        }
        return values;
    }
}
