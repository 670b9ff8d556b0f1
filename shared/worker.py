"""The worker process of a service: the outbox relay and the consumer runner, side by side, until SIGTERM.

Each service's `worker.py` describes itself with a WorkerSpec and calls run(); scaled-out workers of one
service form one consumer group, and one of them at a time holds the relay's lease."""
from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from prometheus_client import start_http_server

from shared import logs
from shared.config import Settings
from shared.consumer import ConsumerRunner, Handlers
from shared.events.registry import registry
from shared.kafka import ensure_topics, make_consumer, make_producer, service_topics
from shared.mongo import Index, apply_indexes, database_for
from shared.outbox import Publisher, Relay, outbox_indexes, publish_at_once_by

log = logging.getLogger(__name__)


def every(seconds: float, round: Callable[[], Any], stop: threading.Event, *, what: str,
          first: float | None = None) -> None:
    """A worker's periodic chore (housekeeping, retention): `round` every `seconds` until `stop`, the first time
    after `first` seconds (else `seconds`). What a round answers is logged when it did something; a round that
    fails is logged and the next one tries again (the store away for a moment)."""
    wait = seconds if first is None else first
    while not stop.wait(wait):
        wait = seconds
        try:
            done = round()
            if done and (not isinstance(done, dict) or any(done.values())):
                log.info(what, extra={"done": done})
        except Exception:
            log.exception("%s failed", what)


@dataclass
class WorkerSpec:
    settings: Settings
    outbox_collections: list[str] = field(default_factory=list)
    handlers: Handlers = field(default_factory=Handlers)
    indexes: list[Index] = field(default_factory=list)
    on_start: Callable[[], None] | None = None


class Worker:
    def __init__(self, spec: WorkerSpec):
        self.spec = spec
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        s = self.spec.settings
        db = database_for(s)
        apply_indexes(db, list(self.spec.indexes) + outbox_indexes(self.spec.outbox_collections))
        ensure_topics(s, service_topics(s.service))
        self.producer = make_producer(s)
        if self.spec.on_start:
            self.spec.on_start()
        # Its writes' events go out right after them, through its producer; the relay takes what they leave.
        self.publisher = (Publisher(lambda: self.producer, service=s.service)
                          if s.outbox_publish_at_once in ("workers", "all") else None)
        publish_at_once_by(self.publisher)
        self.relay = Relay(db, self.spec.outbox_collections, self.producer, service=s.service,
                           batch=s.outbox_batch, poll_seconds=s.outbox_poll_seconds,
                           idle_poll_seconds=s.outbox_idle_poll_seconds)
        self.threads.append(threading.Thread(target=self.relay.run, args=(self.stop,), name="relay", daemon=True))
        topics = registry.topics_consumed_by(s.service)
        if topics and self.spec.handlers.by_type:
            consumer = make_consumer(s, s.service, topics)
            runner = ConsumerRunner(consumer, self.producer, db, self.spec.handlers, service=s.service,
                                    max_attempts=s.consumer_max_attempts, backoff_seconds=s.consumer_backoff_seconds)
            self.threads.append(threading.Thread(target=runner.run, args=(self.stop,), name="consumer", daemon=True))
        for thread in self.threads:
            thread.start()
        log.info("worker started", extra={"threads": [t.name for t in self.threads]})

    def shutdown(self, timeout: float = 20.0) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout)
        self.relay.release()
        if self.publisher is not None:
            self.publisher.idle(timeout=5)  # what it cannot publish by then, the next relay does
        self.producer.flush(timeout=10)
        self.producer.close(timeout=10)
        log.info("worker stopped")


def run(spec: WorkerSpec) -> None:
    """Run until SIGTERM or SIGINT, then finish the batch in hand, commit and leave the group."""
    logs.configure(spec.settings.service, spec.settings.log_level)
    if spec.settings.worker_metrics_port:
        start_http_server(spec.settings.worker_metrics_port)
    worker = Worker(spec)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stop.set())
    worker.start()
    while not worker.stop.wait(0.5):
        if not all(t.is_alive() for t in worker.threads):
            log.error("a worker thread died; stopping so the supervisor restarts us")
            break
    worker.shutdown()
