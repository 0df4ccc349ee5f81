"""Writes records with Confluent's Python client and its default partitioner.

Reads JSON lines {"topic", "key", "value"} (value: base64 of the bytes to write, already in the
Confluent wire format) from stdin, produces each with the key as given and no partition, so that
librdkafka's default partitioner (consistent_random: CRC32 of the key) places it, and prints one
JSON line per record with the partition it went to.
"""
import base64
import json
import sys

from confluent_kafka import Producer


def main():
    producer = Producer({"bootstrap.servers": sys.argv[1], "enable.idempotence": True})
    placed = []

    def delivered(error, message):
        if error is not None:
            raise SystemExit("delivery failed: %s" % error)
        placed.append({"topic": message.topic(), "key": message.key().decode(), "partition": message.partition()})

    for line in sys.stdin:
        record = json.loads(line)
        producer.produce(record["topic"], key=record["key"].encode(), value=base64.b64decode(record["value"]),
                         on_delivery=delivered)
        producer.poll(0)
    if producer.flush(30) != 0:
        raise SystemExit("records left unsent after 30 s")
    for record in placed:
        print(json.dumps(record))


if __name__ == "__main__":
    main()
