"""Outbox-to-handler latency at a steady rate: from the moment a use case has stored a change with its
event to the moment another service's handler has run for it. As in production, three processes: the
writer (this one), the directory's worker (outbox relay) and a consumer of another service."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from bench.common import KAFKA, MONGO, bench_settings, percentile, write
from services.directory import services
from services.directory.services import Directory
from services.directory.repository import INDEXES, OUTBOX_COLLECTIONS
from shared.auth import ORG_ADMIN, Actor, Principal
from shared.kafka import ensure_topics
from shared.mongo import apply_indexes, database_for
from shared.outbox import outbox_indexes

ROOT = Path(__file__).resolve().parents[1]
RATE = 100  # events per second
SECONDS = 30


def main(rate: int = RATE, seconds: int = SECONDS) -> dict:
    directory = bench_settings("directory")
    ddb = database_for(directory)
    apply_indexes(ddb, INDEXES + outbox_indexes(OUTBOX_COLLECTIONS))
    ensure_topics(directory, ["cocreate.directory"])
    env = dict(os.environ, PYTHONPATH=str(ROOT), KAFKA_BOOTSTRAP_SERVERS=KAFKA, MONGO_URL=MONGO,
               MONGO_DB=directory.mongo_db, LOG_LEVEL="WARNING")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    relay = subprocess.Popen([sys.executable, "-m", "services.directory.worker"], cwd=ROOT, env=env)
    consumer = subprocess.Popen([sys.executable, "-m", "bench.latency_consumer", f"{directory.mongo_db}_c",
                                 f"bench-{uuid.uuid4().hex[:6]}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                text=True)
    assert consumer.stdout.readline().strip() == "ready"
    handled: dict[str, float] = {}

    def read_handled():  # the consumer prints "<subject> <time handled>" per event
        for line in consumer.stdout:
            subject, _, at = line.strip().partition(" ")
            if at:
                handled[subject] = float(at)

    threading.Thread(target=read_handled, daemon=True).start()
    time.sleep(2)  # the relay has taken its lease

    repo = Directory.of(ddb)
    actor = Actor(Principal(id="pe_bench", roles=frozenset({ORG_ADMIN})))
    written: dict[str, float] = {}
    started = time.time()
    for i in range(rate * seconds):
        delay = started + i / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        branch = services.create_branch(repo, actor, code=f"B{uuid.uuid4().hex[:10]}", name={"he": "ב", "en": "B"})
        written[branch.id] = time.time()
    achieved = len(written) / (time.time() - started)

    deadline = time.time() + 30
    while len(handled) < len(written) and time.time() < deadline:
        time.sleep(0.1)
    for proc in (relay, consumer):
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    latencies = [handled[k] - written[k] for k in handled if k in written]
    return write("outbox_latency", {
        "target_rate_per_s": rate, "achieved_rate_per_s": round(achieved, 1), "seconds": seconds,
        "events": len(written), "handled": len(latencies), "lost": len(written) - len(latencies),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1), "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "relay_poll_seconds": directory.outbox_poll_seconds, "processes": "writer, relay (worker), consumer",
        "target": "p99 <= 250 ms at 100 events/s",
    })


if __name__ == "__main__":
    print(main())
