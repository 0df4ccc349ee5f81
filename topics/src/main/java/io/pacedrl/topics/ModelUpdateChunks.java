package io.pacedrl.topics;

import io.pacedrl.schemas.ModelUpdate;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Policy weights on the model-updates topic: split into chunks that fit the topic's record size,
 * each carrying the SHA-256 of the whole, and put back together by a receiver that uses a version
 * only when every chunk has arrived and the checksum matches. Keys are {@code <modelId>/<chunk>},
 * so compaction keeps the latest version's chunks; a writer sends one version's chunks in one
 * transaction, so a reader never sees half a version.
 */
public final class ModelUpdateChunks {
    /** Chunk payload size: a mebibyte less room for the record's other fields. */
    public static final int CHUNK_BYTES = (1 << 20) - (16 << 10);

    private ModelUpdateChunks() {}

    public static String key(String modelId, int chunk) {
        return modelId + "/" + chunk;
    }

    /** What a record's key says: its model and chunk index. */
    public record Key(String modelId, int chunk) {
        /** The key as {@link #key} writes it; empty for any other (a reader then decodes the value to know). */
        public static Optional<Key> parse(String key) {
            int slash = key == null ? -1 : key.lastIndexOf('/');
            // A model id, then 1 to 9 digits (an int).
            if (slash <= 0 || slash == key.length() - 1 || key.length() - slash > 10) {
                return Optional.empty();
            }
            for (int i = slash + 1; i < key.length(); i++) {
                if (key.charAt(i) < '0' || key.charAt(i) > '9') {
                    return Optional.empty();
                }
            }
            return Optional.of(new Key(key.substring(0, slash), Integer.parseInt(key.substring(slash + 1))));
        }
    }

    /** The chunks of {@code weights} as version {@code version} of {@code modelId}; provenance goes on chunk 0. */
    public static List<ModelUpdate> split(String modelId, long version, String format, byte[] weights, long learnerStep,
            List<String> rolloutIds, List<String> replayIds, long nowMs) {
        String sha = sha256(weights);
        int count = Math.max(1, (weights.length + CHUNK_BYTES - 1) / CHUNK_BYTES);
        List<ModelUpdate> chunks = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int from = i * CHUNK_BYTES;
            int to = Math.min(weights.length, from + CHUNK_BYTES);
            chunks.add(ModelUpdate.newBuilder().setModelId(modelId).setVersion(version).setFormat(format).setSha256(sha)
                    .setTotalBytes(weights.length).setChunkIndex(i).setChunkCount(count)
                    .setChunk(ByteBuffer.wrap(Arrays.copyOfRange(weights, from, to))).setLearnerStep(learnerStep)
                    .setRolloutIds(i == 0 ? rolloutIds : List.of()).setReplayIds(i == 0 ? replayIds : List.of())
                    .setCreatedAtMs(nowMs).build());
        }
        return chunks;
    }

    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A complete, verified version. */
    public record Version(String modelId, long version, String format, byte[] weights) {}

    /** Collects chunks for one model; hands out a version only once it is whole and its checksum matches. */
    public static final class Assembler {
        private final String modelId;
        private final TreeMap<Long, ModelUpdate[]> pending = new TreeMap<>();
        private long newest = -1;

        public Assembler(String modelId) {
            this.modelId = modelId;
        }

        /**
         * Adds a chunk. Returns the version it completes, if it completes a verified one newer than
         * any handed out; throws {@link CorruptUpdateException} if it completes one whose bytes do
         * not match its checksum or whose chunks disagree.
         */
        public Optional<Version> add(ModelUpdate chunk) {
            if (!chunk.getModelId().equals(modelId) || chunk.getVersion() <= newest) {
                return Optional.empty();
            }
            if (chunk.getChunkCount() < 1 || chunk.getChunkIndex() < 0 || chunk.getChunkIndex() >= chunk.getChunkCount()
                    || chunk.getChunk() == null) {
                throw new CorruptUpdateException(chunk.getVersion(), "chunk " + chunk.getChunkIndex() + " of "
                        + chunk.getChunkCount() + (chunk.getChunk() == null ? " carries no bytes" : " is out of range"));
            }
            ModelUpdate[] parts = pending.computeIfAbsent(chunk.getVersion(), v -> new ModelUpdate[chunk.getChunkCount()]);
            if (parts.length != chunk.getChunkCount()) {
                pending.remove(chunk.getVersion());
                throw new CorruptUpdateException(chunk.getVersion(), "chunks disagree on their count");
            }
            parts[chunk.getChunkIndex()] = chunk;
            if (Arrays.stream(parts).anyMatch(p -> p == null)) {
                return Optional.empty();
            }
            pending.remove(chunk.getVersion());
            byte[] bytes = new byte[Arrays.stream(parts).mapToInt(p -> p.getChunk().remaining()).sum()];
            int at = 0;
            for (ModelUpdate part : parts) {
                ByteBuffer data = part.getChunk().duplicate();
                int n = data.remaining();
                data.get(bytes, at, n);
                at += n;
            }
            String actual = sha256(bytes);
            if (bytes.length != parts[0].getTotalBytes() || !actual.equals(parts[0].getSha256())) {
                throw new CorruptUpdateException(chunk.getVersion(), "the " + bytes.length + " bytes hash to " + actual
                        + ", the update says " + parts[0].getSha256() + " over " + parts[0].getTotalBytes() + " bytes");
            }
            newest = chunk.getVersion();
            pending.headMap(newest, true).clear(); // older versions still incomplete will never be used
            return Optional.of(new Version(modelId, newest, parts[0].getFormat(), bytes));
        }
    }

    /** A version whose chunks do not make up the weights they claim. */
    public static final class CorruptUpdateException extends RuntimeException {
        private final long version;

        public CorruptUpdateException(long version, String message) {
            super("model update version " + version + " is corrupt: " + message);
            this.version = version;
        }

        public long version() {
            return version;
        }
    }
}
