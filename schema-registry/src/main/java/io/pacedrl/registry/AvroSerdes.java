package io.pacedrl.registry;

import org.apache.avro.specific.SpecificRecord;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

/** Kafka serdes for Avro specific records in the Confluent wire format. */
public final class AvroSerdes {
    private AvroSerdes() {}

    /** A value serde for {@code type}, registering and resolving schemas through {@code registry}. */
    public static <T extends SpecificRecord> Serde<T> value(SchemaRegistryClient registry, Class<T> type) {
        return Serdes.serdeFrom(new AvroSerializer<>(registry), new AvroDeserializer<>(registry, type));
    }
}
