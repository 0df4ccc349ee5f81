package io.pacedrl.embedded;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pacedrl.registry.ClientSettings;
import io.pacedrl.registry.CompatibilityLevel;
import io.pacedrl.registry.RegistryError;
import io.pacedrl.registry.SchemaRegistryException;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.avro.Schema;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registry's durable state, in the layout Confluent's Schema Registry gives its {@code _schemas}
 * topic: one compacted partition whose JSON keys say what each record is
 * ({@code {"keytype":"SCHEMA","subject":…,"version":…,"magic":1}} or
 * {@code {"keytype":"CONFIG","subject":…,"magic":0}}) and whose JSON values hold the schema or the
 * compatibility level. A reader thread applies the topic to memory; a write returns only once the
 * reader has applied it, so answers always reflect the topic and a restart rebuilds the same ids.
 */
final class KafkaSchemaStore implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(KafkaSchemaStore.class);
    private static final CompatibilityLevel DEFAULT_LEVEL = CompatibilityLevel.BACKWARD;

    /** One version of a subject. A deleted one no longer counts as a version but its id still resolves. */
    record StoredSchema(String subject, int version, int id, String schema, boolean deleted) {}

    private final String topic;
    private final TopicPartition partition;
    private final Duration timeout;
    private final ObjectMapper json = new ObjectMapper();
    private final KafkaProducer<byte[], byte[]> producer;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Thread reader;
    private volatile boolean running = true;
    private volatile RuntimeException readerFailure;

    // Everything below is guarded by this.
    private final Map<String, TreeMap<Integer, StoredSchema>> subjects = new TreeMap<>();
    private final Map<Integer, String> schemasById = new HashMap<>();
    private final Map<String, Integer> idsByCanonicalSchema = new HashMap<>();
    private final Map<String, CompatibilityLevel> subjectLevels = new HashMap<>();
    private CompatibilityLevel globalLevel = DEFAULT_LEVEL;
    private long nextOffsetToApply;

    private KafkaSchemaStore(String bootstrapServers, String topic, Duration timeout) {
        this.topic = topic;
        this.partition = new TopicPartition(topic, 0);
        this.timeout = timeout;
        Properties producerProps = new Properties();
        producerProps.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        producerProps.put(ProducerConfig.ACKS_CONFIG, "all");
        producerProps.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        producerProps.put(ProducerConfig.CLIENT_ID_CONFIG, "schema-registry-writer");
        this.producer = new KafkaProducer<>(ClientSettings.kafka(producerProps), new ByteArraySerializer(), new ByteArraySerializer());
        Properties consumerProps = new Properties();
        consumerProps.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        consumerProps.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        consumerProps.put(ConsumerConfig.CLIENT_ID_CONFIG, "schema-registry-reader");
        this.consumer = new KafkaConsumer<>(ClientSettings.kafka(consumerProps), new ByteArrayDeserializer(), new ByteArrayDeserializer());
        this.reader = new Thread(this::readLoop, "schema-store-reader");
        this.reader.setDaemon(true);
    }

    /** Creates or checks the topic, then replays it into memory before returning. */
    static KafkaSchemaStore open(String bootstrapServers, String topic, Duration timeout) {
        ensureTopic(bootstrapServers, topic, timeout);
        KafkaSchemaStore store = new KafkaSchemaStore(bootstrapServers, topic, timeout);
        try {
            store.consumer.assign(List.of(store.partition));
            store.consumer.seekToBeginning(List.of(store.partition));
            long end = store.consumer.endOffsets(List.of(store.partition), timeout).get(store.partition);
            store.reader.start();
            store.awaitApplied(end);
            log.info("schema store '{}' replayed: {} subjects, {} schemas", topic, store.subjects().size(), store.maxId());
            return store;
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    /** The store's topic must be a single compacted partition: anything else would lose or reorder schemas. */
    private static void ensureTopic(String bootstrapServers, String topic, Duration timeout) {
        try (Admin admin = Admin.create(ClientSettings.kafka(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers)))) {
            int brokers = admin.describeCluster().nodes().get(timeout.toMillis(), TimeUnit.MILLISECONDS).size();
            short replication = (short) Math.min(3, brokers);
            NewTopic newTopic = new NewTopic(topic, 1, replication)
                    .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
            try {
                admin.createTopics(List.of(newTopic)).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                log.info("created schema store topic '{}' (1 partition, compacted, replication {})", topic, replication);
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof TopicExistsException)) {
                    throw e;
                }
            }
            TopicDescription description;
            Config config;
            ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (true) {
                try {
                    description = admin.describeTopics(List.of(topic)).allTopicNames()
                            .get(timeout.toMillis(), TimeUnit.MILLISECONDS).get(topic);
                    config = admin.describeConfigs(List.of(resource)).all()
                            .get(timeout.toMillis(), TimeUnit.MILLISECONDS).get(resource);
                    break;
                } catch (ExecutionException e) {
                    // A topic just created may not be in every broker's metadata yet (seen in CI).
                    if (!(e.getCause() instanceof UnknownTopicOrPartitionException) || System.nanoTime() > deadline) {
                        throw e;
                    }
                    Thread.sleep(100);
                }
            }
            String policy = config.get(TopicConfig.CLEANUP_POLICY_CONFIG).value();
            if (description.partitions().size() != 1 || !TopicConfig.CLEANUP_POLICY_COMPACT.equals(policy)) {
                throw new IllegalStateException("schema store topic '" + topic + "' must have 1 partition and "
                        + "cleanup.policy=compact, but has " + description.partitions().size()
                        + " partitions and cleanup.policy=" + policy);
            }
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot create or check schema store topic '" + topic + "' on "
                    + bootstrapServers + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while checking topic '" + topic + "'", e);
        }
    }

    private void readLoop() {
        try {
            while (running) {
                var records = consumer.poll(Duration.ofMillis(200));
                synchronized (this) {
                    for (ConsumerRecord<byte[], byte[]> record : records) {
                        apply(record);
                    }
                    nextOffsetToApply = consumer.position(partition);
                    notifyAll();
                }
            }
        } catch (WakeupException e) {
            // close() asked us to stop
        } catch (RuntimeException e) {
            log.error("schema store reader stopped: {}", e.toString(), e);
            readerFailure = e;
            synchronized (this) {
                notifyAll();
            }
        }
    }

    private void apply(ConsumerRecord<byte[], byte[]> record) {
        JsonNode key;
        JsonNode value;
        try {
            key = json.readTree(record.key());
            value = record.value() == null ? null : json.readTree(record.value());
        } catch (IOException | RuntimeException e) {
            log.warn("skipping unreadable record at {}@{}: {}", topic, record.offset(), e.toString());
            return;
        }
        String subject = key.path("subject").isTextual() ? key.get("subject").asText() : null;
        switch (key.path("keytype").asText()) {
            case "SCHEMA" -> applySchema(subject, key.path("version").asInt(), value);
            case "CONFIG" -> applyConfig(subject, value);
            default -> { } // NOOP, MODE, ... : not part of the subset served here
        }
    }

    private void applySchema(String subject, int version, JsonNode value) {
        TreeMap<Integer, StoredSchema> versions = subjects.computeIfAbsent(subject, s -> new TreeMap<>());
        if (value == null) {
            versions.remove(version); // hard delete (a tombstone)
            return;
        }
        StoredSchema stored = new StoredSchema(subject, version, value.path("id").asInt(),
                value.path("schema").asText(), value.path("deleted").asBoolean(false));
        versions.put(version, stored);
        schemasById.put(stored.id(), stored.schema());
        try {
            idsByCanonicalSchema.putIfAbsent(canonical(stored.schema()), stored.id());
        } catch (RuntimeException e) {
            log.warn("schema id {} ({} v{}) does not parse as Avro: {}", stored.id(), subject, version, e.getMessage());
        }
    }

    private void applyConfig(String subject, JsonNode value) {
        CompatibilityLevel level = value == null ? null : CompatibilityLevel.parse(value.path("compatibilityLevel").asText());
        if (subject == null) {
            globalLevel = level == null ? DEFAULT_LEVEL : level;
        } else if (level == null) {
            subjectLevels.remove(subject);
        } else {
            subjectLevels.put(subject, level);
        }
    }

    static String canonical(String schema) {
        return new Schema.Parser().parse(schema).toString();
    }

    // ---- reads

    synchronized List<String> subjects() {
        List<String> live = new ArrayList<>();
        subjects.forEach((subject, versions) -> {
            if (versions.values().stream().anyMatch(v -> !v.deleted())) {
                live.add(subject);
            }
        });
        return live;
    }

    /** The versions of a subject that are not deleted, oldest first. */
    synchronized List<StoredSchema> liveVersions(String subject) {
        return subjects.getOrDefault(subject, new TreeMap<>()).values().stream().filter(v -> !v.deleted()).toList();
    }

    /** The offset of the next record of the schema topic to apply: what it holds changes only as this moves. */
    synchronized long position() {
        return nextOffsetToApply;
    }

    /** Every version of every subject, deleted ones too (their ids still resolve). */
    synchronized List<StoredSchema> allVersions() {
        List<StoredSchema> all = new ArrayList<>();
        subjects.values().forEach(versions -> all.addAll(versions.values()));
        return all;
    }

    synchronized int maxVersion(String subject) {
        TreeMap<Integer, StoredSchema> versions = subjects.get(subject);
        return versions == null || versions.isEmpty() ? 0 : versions.lastKey();
    }

    synchronized Optional<String> schemaById(int id) {
        return Optional.ofNullable(schemasById.get(id));
    }

    synchronized Optional<Integer> idOfCanonicalSchema(String canonicalSchema) {
        return Optional.ofNullable(idsByCanonicalSchema.get(canonicalSchema));
    }

    synchronized int maxId() {
        return schemasById.keySet().stream().mapToInt(Integer::intValue).max().orElse(0);
    }

    /** Every live (subject, version) that uses schema id {@code id}. */
    synchronized List<StoredSchema> usesOf(int id) {
        List<StoredSchema> uses = new ArrayList<>();
        subjects.values().forEach(versions -> versions.values().stream()
                .filter(v -> v.id() == id && !v.deleted()).forEach(uses::add));
        return uses;
    }

    synchronized CompatibilityLevel globalLevel() {
        return globalLevel;
    }

    synchronized Optional<CompatibilityLevel> subjectLevel(String subject) {
        return Optional.ofNullable(subjectLevels.get(subject));
    }

    // ---- writes: each returns once the reader thread has applied it

    void putSchema(StoredSchema schema) {
        ObjectNode key = json.createObjectNode().put("keytype", "SCHEMA").put("subject", schema.subject())
                .put("version", schema.version()).put("magic", 1);
        ObjectNode value = json.createObjectNode().put("subject", schema.subject()).put("version", schema.version())
                .put("id", schema.id()).put("schema", schema.schema()).put("deleted", schema.deleted());
        write(key, value);
    }

    /** Sets the level of {@code subject}, or the global level when it is null. */
    void putLevel(String subject, CompatibilityLevel level) {
        ObjectNode key = json.createObjectNode().put("keytype", "CONFIG").put("subject", subject).put("magic", 0);
        write(key, json.createObjectNode().put("compatibilityLevel", level.name()));
    }

    private void write(ObjectNode key, ObjectNode value) {
        RecordMetadata written;
        try {
            written = producer.send(new ProducerRecord<>(topic, 0, json.writeValueAsBytes(key), json.writeValueAsBytes(value)))
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new SchemaRegistryException(RegistryError.OPERATION_TIMEOUT, "writing to the schema store topic '"
                    + topic + "' timed out after " + timeout.toMillis() + " ms");
        } catch (ExecutionException | IOException e) {
            throw new SchemaRegistryException(RegistryError.STORE_ERROR.httpStatus(), RegistryError.STORE_ERROR.code(),
                    "cannot write to the schema store topic '" + topic + "': " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SchemaRegistryException(RegistryError.OPERATION_TIMEOUT, "interrupted writing to '" + topic + "'");
        }
        awaitApplied(written.offset() + 1);
    }

    private synchronized void awaitApplied(long offset) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (nextOffsetToApply < offset) {
            if (readerFailure != null) {
                throw new SchemaRegistryException(RegistryError.STORE_ERROR.httpStatus(), RegistryError.STORE_ERROR.code(),
                        "the schema store reader failed: " + readerFailure, readerFailure);
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new SchemaRegistryException(RegistryError.OPERATION_TIMEOUT, "the schema store did not reach offset "
                        + offset + " of '" + topic + "' within " + timeout.toMillis() + " ms");
            }
            try {
                TimeUnit.NANOSECONDS.timedWait(this, left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new SchemaRegistryException(RegistryError.OPERATION_TIMEOUT, "interrupted waiting for the store");
            }
        }
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            if (reader.isAlive()) {
                reader.join(timeout.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (!reader.isAlive()) {
            consumer.close();
        }
        producer.close(timeout);
    }
}
