"""Reads and writes our topics with Confluent's own Python client (confluent-kafka, librdkafka).

Proof that a client not written here can use the project's topics through its schema registry:
it decodes one record from each topic given, then writes one Prompt, registered through the
same registry, for the Java side to decode. Prints one JSON object on stdout.

usage: confluent_client_check.py BOOTSTRAP REGISTRY_URL WRITE_TOPIC READ_TOPIC...
"""
import json
import sys
import time

import confluent_kafka
from confluent_kafka import Consumer, Producer
from confluent_kafka.avro import loads as load_schema
from confluent_kafka.avro.cached_schema_registry_client import CachedSchemaRegistryClient
from confluent_kafka.avro.serializer.message_serializer import MessageSerializer


def main(bootstrap, registry_url, write_topic, read_topics):
    registry = CachedSchemaRegistryClient({"url": registry_url})
    serializer = MessageSerializer(registry)

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "python-confluent-client",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(read_topics)
    decoded = {}
    deadline = time.time() + 60
    while len(decoded) < len(read_topics) and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            raise RuntimeError(str(message.error()))
        decoded.setdefault(message.topic(), serializer.decode_message(message.value()))
    consumer.close()

    # The writer schema comes from the registry, as a Python service would fetch the contract.
    _, schema, _ = registry.get_latest_schema(write_topic + "-value")
    prompt = {"id": "python-0001", "kind": "numeric", "family": "arith", "difficulty": 1,
              "split": "HELD_OUT", "text": "6*7=", "answer": "42", "spec": None}
    value = serializer.encode_record_with_schema(write_topic, load_schema(str(schema)), prompt)
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(write_topic, key=prompt["id"].encode(), value=value)
    if producer.flush(30) != 0:
        raise RuntimeError("the Python producer could not deliver its record")

    print(json.dumps({"client": confluent_kafka.version()[0], "librdkafka": confluent_kafka.libversion()[0],
                      "decoded": decoded, "wrote": prompt},
                     default=lambda b: b.hex() if isinstance(b, bytes) else str(b)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
