"""Outbox-to-handler latency at a steady rate: from the moment a use case stores a change with its event
to the moment another service's handler has run for it (relay poll, Kafka, consumer, handler)."""
from __future__ import annotations

import threading
import time
import uuid

from bench.common import bench_settings, percentile, write
from services.directory import services
from services.directory.repository import INDEXES, OUTBOX_COLLECTIONS, BranchRepository
from shared.auth import ORG_ADMIN, Actor, Principal
from shared.consumer import ConsumerRunner, Handlers
from shared.kafka import ensure_topics, make_consumer, make_producer
from shared.mongo import apply_indexes, database_for
from shared.outbox import Relay, outbox_indexes

RATE = 100  # events per second
SECONDS = 20


def main(rate: int = RATE, seconds: int = SECONDS) -> dict:
    directory, ideas = bench_settings("directory"), bench_settings("ideas")
    ddb, idb = database_for(directory), database_for(ideas)
    apply_indexes(ddb, INDEXES + outbox_indexes(OUTBOX_COLLECTIONS))
    ensure_topics(directory, ["cocreate.directory"])
    producer = make_producer(directory)
    written: dict[str, float] = {}
    handled: dict[str, float] = {}

    handlers = Handlers()

    @handlers.on("cocreate.branch.created.v1")
    def record(db, event):
        if event.subject in written:
            handled[event.subject] = time.perf_counter()

    consumer = make_consumer(ideas, f"bench-{uuid.uuid4().hex[:6]}", ["cocreate.directory"], auto_offset_reset="latest")
    while not consumer.assignment():
        consumer.poll(timeout_ms=100)
    for tp in consumer.assignment():
        consumer.position(tp)
    stop = threading.Event()
    runner = ConsumerRunner(consumer, producer, idb, handlers, service="ideas")
    relay = Relay(ddb, OUTBOX_COLLECTIONS, producer, service="directory", poll_seconds=directory.outbox_poll_seconds)
    threads = [threading.Thread(target=runner.run, args=(stop,)), threading.Thread(target=relay.run, args=(stop,))]
    for t in threads:
        t.start()

    repo = BranchRepository(ddb)
    actor = Actor(Principal(id="pe_bench", roles=frozenset({ORG_ADMIN})))
    started = time.perf_counter()
    for i in range(rate * seconds):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        branch = services.create_branch(repo, actor, code=f"B{uuid.uuid4().hex[:10]}", name={"he": "ב", "en": "B"})
        written[branch.id] = time.perf_counter()
    achieved = len(written) / (time.perf_counter() - started)
    deadline = time.time() + 30
    while len(handled) < len(written) and time.time() < deadline:
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join(20)
    producer.close()
    latencies = [handled[k] - written[k] for k in handled]
    return write("outbox_latency", {
        "target_rate_per_s": rate, "achieved_rate_per_s": round(achieved, 1), "seconds": seconds,
        "events": len(written), "handled": len(handled), "lost": len(written) - len(handled),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1), "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "relay_poll_seconds": directory.outbox_poll_seconds, "target": "p99 <= 250 ms at 100 events/s",
    })


if __name__ == "__main__":
    print(main())
