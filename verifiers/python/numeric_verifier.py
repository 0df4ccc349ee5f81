#!/usr/bin/env python3
"""A reward verifier in Python that joins a running PACED-RL pipeline as its own consumer group.

It reads the run's rollouts topic with Confluent's Python client (its default partitioner and all),
scores the rollouts of one task kind (here "numeric": the response is a number equal to the answer,
as the Java verifier judges it), and writes scored rollouts back in the Confluent wire format, each
batch in one transaction with its consumer offsets: exactly once, like the Java services. Schemas
come from the run's registry; the scored-rollout schema is the registered one, or, on a run where
nothing was scored yet, one made from the rollout's own schema and registered.

    python3 numeric_verifier.py --bootstrap-servers HOST:9092 --schema-registry-url http://HOST:8081 \\
        --topic-prefix RUN. [--kind numeric] [--name python-numeric]

Start the Java reward service (or train) with --external-kind numeric (train: --external-verifier
numeric), so that no Java verifier scores the kind and the audit group leaves its rollouts alone.
Needs Debian's python3-confluent-kafka and python3-avro; nothing else.
"""
import argparse
import io
import json
import re
import signal
import struct
import time
import urllib.request
from decimal import Decimal, InvalidOperation

import avro.io
import avro.schema
from confluent_kafka import Consumer, KafkaException, Producer

MAGIC = 0
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")


class Registry:
    """A Confluent-protocol schema registry: schemas by id, the latest of a subject, registration."""

    def __init__(self, url):
        self.url = url.rstrip("/")
        self.by_id = {}

    def _call(self, method, path, body=None):
        request = urllib.request.Request(self.url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def schema(self, schema_id):
        if schema_id not in self.by_id:
            self.by_id[schema_id] = avro.schema.parse(self._call("GET", "/schemas/ids/%d" % schema_id)["schema"])
        return self.by_id[schema_id]

    def register(self, subject, schema_json):
        schema_id = self._call("POST", "/subjects/%s/versions" % subject, {"schema": json.dumps(schema_json)})["id"]
        return schema_id, self.schema(schema_id)


def decode(registry, data):
    magic, schema_id = struct.unpack(">bI", data[:5])
    if magic != MAGIC:
        raise ValueError("not in the Confluent wire format (magic byte %d)" % magic)
    schema = registry.schema(schema_id)
    return schema_id, avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(data[5:])))


def encode(schema_id, schema, record):
    out = io.BytesIO()
    out.write(struct.pack(">bI", MAGIC, schema_id))
    avro.io.DatumWriter(schema).write(record, avro.io.BinaryEncoder(out))
    return out.getvalue()


def scored_schema(rollout_schema):
    """The ScoredRollout record around the rollout's own schema (as schemas/ScoredRollout.avsc declares it)."""
    return {"type": "record", "name": "ScoredRollout", "namespace": "io.pacedrl.schemas", "fields": [
        {"name": "rollout", "type": rollout_schema.to_json()},
        {"name": "reward", "type": "double"},
        {"name": "correct", "type": "boolean"},
        {"name": "verifier", "type": "string"},
        {"name": "verifierVersion", "type": "string"},
        {"name": "details", "type": {"type": "map", "values": "string"}, "default": {}},
        {"name": "verifyMicros", "type": "long"},
        {"name": "scoredAtMs", "type": "long"}]}


def number(text):
    compact = re.sub(r"\s+", "", text)
    if not NUMBER.fullmatch(compact):
        return None
    try:
        return Decimal(compact.lstrip("+"))
    except InvalidOperation:
        return None


def verify(prompt, response):
    """(reward, correct, details) for a numeric answer, judged as the Java NumericAnswerVerifier does."""
    expected, given = number(prompt["answer"] or ""), number(response)
    if expected is None:
        raise ValueError("prompt %s has no numeric answer" % prompt["id"])
    if given is None:
        return 0.0, False, {"reason": "not a number"}
    if given != expected:
        return 0.0, False, {"reason": "wrong value", "value": str(given)}
    return 1.0, True, {"value": str(given)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--schema-registry-url", required=True)
    parser.add_argument("--topic-prefix", default="")
    parser.add_argument("--kind", default="numeric")
    parser.add_argument("--name", default="python-numeric", help="the verifier's name: its consumer group and scored records")
    parser.add_argument("--instance-id", default="0")
    args = parser.parse_args()

    registry = Registry(args.schema_registry_url)
    rollouts, scored_topic = args.topic_prefix + "rollouts", args.topic_prefix + "scored-rollouts"
    group = args.topic_prefix + "reward-" + args.name
    consumer = Consumer({"bootstrap.servers": args.bootstrap_servers, "group.id": group,
                         "group.instance.id": group + "-" + args.instance_id, "enable.auto.commit": False,
                         "isolation.level": "read_committed", "auto.offset.reset": "earliest"})
    producer = Producer({"bootstrap.servers": args.bootstrap_servers, "transactional.id": group + "-" + args.instance_id})
    producer.init_transactions()
    consumer.subscribe([rollouts])
    running = [True]
    signal.signal(signal.SIGTERM, lambda *_: running.__setitem__(0, False))
    writer = None  # (schema id, schema) of scored rollouts, once known
    print("%s scoring kind '%s' from %s as group %s" % (args.name, args.kind, rollouts, group), flush=True)
    try:
        while running[0]:
            batch = consumer.consume(num_messages=500, timeout=1.0)
            if not batch:
                continue
            producer.begin_transaction()
            for message in batch:
                if message.error():
                    raise KafkaException(message.error())
                try:
                    schema_id, rollout = decode(registry, message.value())
                except Exception:
                    continue  # not a rollout: the Java audit group dead-letters it
                if rollout["prompt"]["kind"] != args.kind:
                    continue
                started = time.monotonic_ns()
                reward, correct, details = verify(rollout["prompt"], rollout["responseText"])
                if writer is None:
                    writer = registry.register(scored_topic + "-value", scored_schema(registry.schema(schema_id)))
                record = {"rollout": rollout, "reward": reward, "correct": correct, "verifier": args.name,
                          "verifierVersion": "1", "details": details,
                          "verifyMicros": (time.monotonic_ns() - started) // 1000, "scoredAtMs": int(time.time() * 1000)}
                producer.produce(scored_topic, key=message.key(), value=encode(writer[0], writer[1], record))
            producer.send_offsets_to_transaction(consumer.position(consumer.assignment()),
                                                 consumer.consumer_group_metadata())
            producer.commit_transaction()
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
