package io.pacedrl.runner;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.topics.TopicScan;
import io.pacedrl.topics.TopicSpec;
import io.pacedrl.topics.Topics;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.function.LongConsumer;
import org.apache.avro.Schema;
import org.apache.avro.file.CodecFactory;
import org.apache.avro.file.DataFileReader;
import org.apache.avro.file.DataFileWriter;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificDatumReader;
import org.apache.avro.specific.SpecificDatumWriter;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A run's topics as portable files, and back onto any cluster. Each catalogue topic becomes one Avro
 * object container file of its committed records (partition, offset, timestamp, key, and the value
 * decoded with its schema, so any Avro reader shows it; a value that never decoded is kept as its
 * bytes), beside the value schemas and a manifest. Compacted topics are exported as compaction
 * leaves them: the newest record of each key. Importing writes every record back to its partition
 * in order, its value encoded against the target cluster's registry.
 */
final class RunArchive {
    static final String MANIFEST = "run.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** One exported topic: its catalogue name (without the run's prefix), partitions and records. */
    record TopicEntry(String topic, int partitions, long records, String file) {}

    /** What run.json holds. */
    record Manifest(String runId, String topicPrefix, String commit, long exportedAtMs, List<TopicEntry> topics) {}

    private RunArchive() {}

    /** Writes the run whose topics carry {@code prefix} into {@code dir}; {@code progress} gets records as they are written. */
    static Manifest export(String bootstrapServers, Topics topics, String prefix, String runId, Path dir, LongConsumer progress)
            throws IOException {
        Files.createDirectories(dir.resolve("topics"));
        Files.createDirectories(dir.resolve("schemas"));
        List<TopicEntry> entries = new ArrayList<>();
        for (TopicSpec<String, ?> spec : catalogue(topics)) {
            String name = spec.name().substring(prefix.length());
            Schema valueSchema = SpecificData.get().getSchema(spec.valueType());
            Files.writeString(dir.resolve("schemas").resolve(valueSchema.getName() + ".avsc"), valueSchema.toString(true));
            // A compacted topic as compaction leaves it: only each key's newest record (a first pass finds them).
            Map<String, Long> newest = new HashMap<>();
            boolean compacted = TopicConfig.CLEANUP_POLICY_COMPACT.equals(spec.cleanupPolicy());
            if (compacted) {
                forEachRecord(bootstrapServers, spec, record -> newest.put(record.partition() + "/" + record.key(), record.offset()));
            }
            Schema wrapper = wrapper(valueSchema);
            String file = "topics/" + name + ".avro";
            long[] written = {0};
            try (DataFileWriter<GenericRecord> out = new DataFileWriter<>(new SpecificDatumWriter<GenericRecord>(wrapper))) {
                out.setCodec(CodecFactory.deflateCodec(6));
                out.create(wrapper, dir.resolve(file).toFile());
                forEachRecord(bootstrapServers, spec, record -> {
                    if (compacted && newest.get(record.partition() + "/" + record.key()) != record.offset()) {
                        return;
                    }
                    GenericRecord row = new GenericData.Record(wrapper);
                    row.put("partition", record.partition());
                    row.put("offset", record.offset());
                    row.put("timestamp", record.timestamp());
                    row.put("key", record.key());
                    row.put("value", value(spec, record));
                    try {
                        out.append(row);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                    written[0]++;
                    progress.accept(1);
                });
            }
            long records = written[0];
            entries.add(new TopicEntry(name, spec.partitions(), records, file));
        }
        Manifest manifest = new Manifest(runId, prefix, BuildInfo.commit(), System.currentTimeMillis(), entries);
        JSON.writeValue(dir.resolve(MANIFEST).toFile(), manifest);
        return manifest;
    }

    /** The manifest of an exported run. */
    static Manifest manifest(Path dir) throws IOException {
        Path file = dir.resolve(MANIFEST);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(dir + " is not an exported run (no " + MANIFEST + ")");
        }
        return JSON.readValue(file.toFile(), Manifest.class);
    }

    /** Writes an exported run's records onto the topics of {@code topics} (created beforehand), each to its own partition. */
    static long importTo(String bootstrapServers, Topics topics, String prefix, Path dir, LongConsumer progress) throws Exception {
        Manifest manifest = manifest(dir);
        Map<String, TopicSpec<String, ?>> byName = new LinkedHashMap<>();
        for (TopicSpec<String, ?> spec : catalogue(topics)) {
            byName.put(spec.name().substring(prefix.length()), spec);
        }
        long written = 0;
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(ClientSettings.kafka(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.LINGER_MS_CONFIG, 20,
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG, topics.modelUpdates.maxMessageBytes())), new StringSerializer(),
                new ByteArraySerializer())) {
            for (TopicEntry entry : manifest.topics()) {
                TopicSpec<String, ?> spec = byName.get(entry.topic());
                if (spec == null) {
                    throw new IllegalArgumentException(dir + " holds topic '" + entry.topic() + "', which this version's catalogue lacks");
                }
                List<Future<RecordMetadata>> acks = new ArrayList<>();
                try (DataFileReader<GenericRecord> in = new DataFileReader<>(dir.resolve(entry.file()).toFile(),
                        new SpecificDatumReader<>())) {
                    for (GenericRecord row : in) {
                        acks.add(producer.send(new ProducerRecord<>(spec.name(), (Integer) row.get("partition"), (Long) row.get("timestamp"),
                                row.get("key") == null ? null : row.get("key").toString(), encode(spec, row.get("value")))));
                        progress.accept(1);
                    }
                }
                for (Future<RecordMetadata> ack : acks) {
                    ack.get();
                }
                written += acks.size();
            }
        }
        return written;
    }

    @SuppressWarnings("unchecked")
    private static List<TopicSpec<String, ?>> catalogue(Topics topics) {
        List<TopicSpec<String, ?>> specs = new ArrayList<>();
        topics.all().forEach(spec -> specs.add((TopicSpec<String, ?>) spec));
        return specs;
    }

    /** A row of a topic's file: where the record was, and its key and value. */
    private static Schema wrapper(Schema valueSchema) {
        return new Schema.Parser().parse("""
                {"type": "record", "name": "KafkaRecord", "namespace": "io.pacedrl.archive",
                 "doc": "A committed record of one topic of a run, as it was on the cluster.",
                 "fields": [
                   {"name": "partition", "type": "int"},
                   {"name": "offset", "type": "long"},
                   {"name": "timestamp", "type": "long"},
                   {"name": "key", "type": ["null", "string"]},
                   {"name": "value", "type": ["null", %s, "bytes"], "doc": "null for a tombstone; bytes for a value that never decoded"}
                 ]}""".formatted(valueSchema.toString()));
    }

    private static Object value(TopicSpec<String, ?> spec, ConsumerRecord<String, byte[]> record) {
        if (record.value() == null) {
            return null;
        }
        try {
            return spec.valueSerde().deserializer().deserialize(record.topic(), record.value());
        } catch (RuntimeException e) {
            return ByteBuffer.wrap(record.value()); // dead-lettered when the run read it: kept as it was
        }
    }

    @SuppressWarnings("unchecked")
    private static <V> byte[] encode(TopicSpec<String, V> spec, Object value) {
        if (value == null) {
            return null;
        }
        if (value instanceof ByteBuffer bytes) {
            byte[] raw = new byte[bytes.remaining()];
            bytes.duplicate().get(raw);
            return raw;
        }
        return spec.valueSerde().serializer().serialize(spec.name(), (V) value);
    }

    /** Hands over a topic's committed records up to its end now, each partition's in order. */
    private static void forEachRecord(String bootstrapServers, TopicSpec<String, ?> spec, Consumer<ConsumerRecord<String, byte[]>> action) {
        try (KafkaConsumer<String, byte[]> reader = new KafkaConsumer<>(ClientSettings.kafka(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed", ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, spec.maxMessageBytes())), new StringDeserializer(),
                new ByteArrayDeserializer())) {
            // A topic the catalogue gained after the run was recorded (replay-seed) holds nothing of it.
            if (reader.listTopics().containsKey(spec.name())) {
                TopicScan.toEnd(reader, spec, action);
            }
        }
    }
}
