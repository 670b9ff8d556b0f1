"""Produce and consume rates of 1 KB events: raw kafka-python against the same through our kit.

Producer: raw = a KafkaProducer with the same durability settings (acks=all, idempotence) sending bytes;
kit = shared.kafka.make_producer sending outbox entries the way the relay does (key, content-type header,
structured CloudEvent value). Consumer: raw = KafkaConsumer iterating values; kit = the same records parsed
into Events by the runner's envelope parser (the handler and idempotency record are measured elsewhere)."""
from __future__ import annotations

import time
import uuid

from kafka import KafkaConsumer, KafkaProducer

from bench.common import KAFKA, bench_settings, write
from shared.events import new_event
from shared.events.envelope import parse_event
from shared.kafka import ensure_topics, make_producer
from shared.outbox import CONTENT_TYPE

N = 50_000
PAD = "x" * 700  # brings the structured CloudEvent to ~1 KB


def one_kb_events(n: int):
    data = {"branch_id": "br_bench", "code": "BENCH", "name": {"he": "בדיקה", "en": PAD}, "region_id": None,
            "open": True}
    return [new_event("cocreate.branch.updated.v1", source="/directory", subject=f"br_{i % 500}", data=data)
            .as_outbox_entry() for i in range(n)]


def produce(producer, topic, payloads) -> float:
    started = time.perf_counter()
    for key, value, headers in payloads:
        producer.send(topic, key=key, value=value, headers=headers)
    producer.flush()
    return len(payloads) / (time.perf_counter() - started)


def consume(topic: str, n: int, parse: bool) -> float:
    consumer = KafkaConsumer(topic, bootstrap_servers=KAFKA.split(","), group_id=f"bench-{uuid.uuid4().hex[:6]}",
                             auto_offset_reset="earliest", enable_auto_commit=False, max_poll_records=2000)
    consumer.poll(timeout_ms=2000, max_records=1)  # join the group before timing
    consumer.seek_to_beginning()
    seen, started = 0, time.perf_counter()
    while seen < n:
        for records in consumer.poll(timeout_ms=1000).values():
            for record in records:
                if parse:
                    parse_event(record.value, record.key)
                seen += 1
    rate = seen / (time.perf_counter() - started)
    consumer.close()
    return rate


def main() -> dict:
    settings = bench_settings("directory")
    started = time.perf_counter()
    entries = one_kb_events(N)
    envelope_rate = N / (time.perf_counter() - started)
    size = sum(len(e["value"]) for e in entries) / len(entries)
    raw_name, kit_name = f"raw.{uuid.uuid4().hex[:6]}", f"kit.{uuid.uuid4().hex[:6]}"
    ensure_topics(settings, [raw_name, kit_name])  # in the benchmarks' namespace: "bench.raw.…", "bench.kit.…"
    raw_topic, kit_topic = settings.topic(raw_name), settings.topic(kit_name)

    raw_producer = KafkaProducer(bootstrap_servers=KAFKA.split(","), acks="all", enable_idempotence=True,
                                 linger_ms=5, batch_size=64 * 1024)
    raw_payloads = [(e["key"].encode(), e["value"].encode(), None) for e in entries]
    produce(raw_producer, raw_topic, raw_payloads[:5000])  # warm up
    raw_rate = produce(raw_producer, raw_topic, raw_payloads)
    raw_producer.close()

    kit_producer = make_producer(settings)
    # exactly what Relay.relay_once does per entry: encode key and value, attach the content-type header
    kit_payloads = [(e["key"].encode(), e["value"].encode(), CONTENT_TYPE) for e in entries]
    produce(kit_producer, kit_name, kit_payloads[:5000])  # the kit names topics as the contract does
    kit_rate = produce(kit_producer, kit_name, kit_payloads)
    kit_producer.close()

    raw_consume = consume(raw_topic, N, parse=False)
    kit_consume = consume(kit_topic, N, parse=True)
    return write("kafka_throughput", {
        "events": N, "event_bytes": round(size),
        "produce_raw_per_s": round(raw_rate), "produce_kit_per_s": round(kit_rate),
        "produce_ratio": round(kit_rate / raw_rate, 3),
        "consume_raw_per_s": round(raw_consume), "consume_kit_per_s": round(kit_consume),
        "consume_ratio": round(kit_consume / raw_consume, 3),
        "envelope_build_and_validate_per_s": round(envelope_rate),
        "target": "kit producer >= 0.8 x raw",
    })


if __name__ == "__main__":
    print(main())
