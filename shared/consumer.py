"""The consumer runner: one consumer group per service, offsets committed only after the handlers'
writes, idempotency through processed event ids under a unique index, bounded retries with backoff,
and a dead-letter topic for a message that keeps failing so the group moves on."""
from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Callable, Iterable

from kafka import TopicPartition
from pymongo.database import Database
from pymongo.errors import BulkWriteError

from shared import metrics
from shared.events.envelope import Event, parse_event
from shared.kafka import AssignmentLog, dead_letter_topic

log = logging.getLogger(__name__)

Handler = Callable[[Database, Event], None]  # (the service's database, the event)
PROCESSED = "processed_events"
REJOIN_AFTER_SECONDS = 20.0  # a member without partitions of topics that have some rejoins after this long,
REJOIN_AFTER_MAX_SECONDS = 900.0  # then after twice as long each time, up to this
# A member holding partitions with events waiting that has taken none for this long joins the group again.
# kafka-python once left two workers' consumers in a rebalance they never finished (the leader's rejoin just
# after the first join): partitions still held, nothing fetched, no heartbeats (the broker removed them after
# its session timeout), for the five minutes until the workers stopped. Seen in two of three runs of the suite
# here, just after the platform's workers started. kafka-python 3.x has had such stalls that last until the next
# rebalance (dpkp/kafka-python#3106, #3131): joining again makes one. Polls that find events answer at once:
# 15 s of none is no slow batch (a batch's end counts as progress).
STALLED_SECONDS = 15.0


@dataclass
class Handlers:
    """Which function handles which event type; a service's handlers module fills one of these."""

    by_type: dict[str, Handler] = field(default_factory=dict)
    idempotent: set[str] = field(default_factory=set)  # types whose events skip the processed-events record
    # Wraps the handling of each polled batch (given the service's database): handlers may leave writes to it,
    # made together when the batch is handled, before the processed record and the commit.
    batch_scope: Callable[[Database], AbstractContextManager] | None = None
    # How many events of idempotent handlers, of different aggregates (record keys), a polled batch has handled
    # at a time: such handlers mostly wait on the store, and by their contract the order of their events does
    # not matter. Those of one aggregate, and every other event, are handled one after another, as polled.
    concurrency: int = 1

    def on(self, *types: str, idempotent: bool = False) -> Callable[[Handler], Handler]:
        """Register a handler of these event types. `idempotent`: its writes give the same result however
        often, and in whatever order, its events come (ids derived from the event, newest-wins updates), so
        its events skip the processed-events record (one lookup and one insert less per event)."""
        def register(fn: Handler) -> Handler:
            for t in types:
                self.by_type[t] = fn
                if idempotent:
                    self.idempotent.add(t)
            return fn
        return register


class ProcessedEvents:
    """Processed event ids of one consumer group. Handlers' own writes must be idempotent (upserts, or
    inserts keyed by the event id); this record makes a redelivered event skip its handler entirely, so a
    handler that is not safe to run twice, or out of order (a join after the leave that followed it), runs
    once. Handlers registered as `idempotent` need no record.
    Written once per polled batch, not once per event (the store is slow per command)."""

    def __init__(self, db: Database):
        self.collection = db[PROCESSED]

    def seen(self, event_ids: Iterable[str]) -> set[str]:
        # One equality lookup per id, not one `$in`: FerretDB serves `{_id: x}` from an index but scans the
        # whole (ever-growing) collection for `$in` (docs/store-backend.md). MongoDB is fast either way.
        return {i for i in dict.fromkeys(event_ids) if self.collection.find_one({"_id": i}, {"_id": 1})}

    def record(self, events: Iterable[Event]) -> None:
        docs = [{"_id": e.id, "type": e.type, "at": time.time()} for e in events]
        if not docs:
            return
        try:
            self.collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:  # some were recorded already (a redelivery): fine, others went in
            if any(error.get("code") != 11000 for error in exc.details.get("writeErrors", [])):
                raise


class ConsumerRunner:
    def __init__(self, consumer, producer, db: Database, handlers: Handlers, *, service: str,
                 max_attempts: int = 3, backoff_seconds: float = 0.2, lag_every_seconds: float = 5.0,
                 processed: ProcessedEvents | None = None, clock: Callable[[], float] = time.monotonic):
        self.consumer = consumer
        self.producer = producer
        self.handlers = handlers
        self.db = db
        self.processed = processed or ProcessedEvents(db)
        self.service = service
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.lag_every_seconds = lag_every_seconds
        self._last_lag = 0.0
        self.clock = clock
        self._unassigned_since: float | None = None
        self._rejoin_after = REJOIN_AFTER_SECONDS
        self._pool = (ThreadPoolExecutor(handlers.concurrency, thread_name_prefix=f"{service}-handler")
                      if handlers.concurrency > 1 else None)
        self._progressed_at = clock()  # when records were last handled (or none were waiting)

    def run(self, stop: threading.Event) -> None:
        log.info("consumer started", extra={"topics": sorted(self.consumer.subscription() or [])})
        try:
            while not stop.is_set():
                batches = self.consumer.poll(timeout_ms=200)
                if batches:
                    self.process(record for records in batches.values() for record in records)
                    self.consumer.commit()
                    self._progressed_at = self.clock()
                self._report_lag()
                self.rejoin_if_left_out()
        finally:
            self.consumer.close()
            if self._pool is not None:
                self._pool.shutdown()
            log.info("consumer stopped")

    def process(self, records: Iterable) -> None:
        """Handle a polled batch in order; the caller commits the offsets once this returns."""
        parsed = []
        for record in records:
            try:
                parsed.append((record, parse_event(record.value, record.key)))
            except Exception as exc:  # a malformed message can never succeed: straight to dead letters
                self.dead_letter(record, f"malformed event: {exc}", event_type="unknown")
        by_type, idempotent = self.handlers.by_type, self.handlers.idempotent
        done = self.processed.seen(e.id for _, e in parsed if e.type in by_type and e.type not in idempotent)
        handled = []
        scope = self.handlers.batch_scope
        with scope(self.db) if scope else nullcontext():
            for stretch in self._stretches(parsed):
                if len(stretch) > 1:
                    self._handle_together(stretch)
                    continue
                [(record, event)] = stretch
                if event.type not in by_type:
                    metrics.EVENTS_CONSUMED.labels(self.service, event.type, "ignored").inc()
                elif event.id in done:
                    metrics.EVENTS_CONSUMED.labels(self.service, event.type, "duplicate").inc()
                elif self.handle(record, event) and event.type not in idempotent:
                    done.add(event.id)
                    handled.append(event)
        self.processed.record(handled)

    def _stretches(self, parsed: list) -> Iterable[list]:
        """The batch in order, as stretches to handle: consecutive events of idempotent handlers together (when
        the handlers allow concurrency), every other event alone."""
        together = self._pool is not None and self.handlers.idempotent
        stretch: list = []
        for item in parsed:
            if together and item[1].type in self.handlers.idempotent and item[1].type in self.handlers.by_type:
                stretch.append(item)
                continue
            if stretch:
                yield stretch
                stretch = []
            yield [item]
        if stretch:
            yield stretch

    def _handle_together(self, stretch: list) -> None:
        """Events of idempotent handlers: each aggregate's in order, different aggregates' at the same time,
        each in a copy of this thread's context (a batch scope's state included). Returns when all are handled
        (or dead-lettered); a dead letter that could not be sent fails the batch, as it would alone."""
        by_key: dict = {}
        for item in stretch:
            by_key.setdefault(item[0].key if item[0].key is not None else id(item), []).append(item)

        def in_order(items: list) -> None:
            for record, event in items:
                self.handle(record, event)

        futures = [self._pool.submit(contextvars.copy_context().run, in_order, items) for items in by_key.values()]
        wait(futures)
        for future in futures:
            future.result()

    def handle(self, record, event: Event) -> bool:
        """Run the event's handler with bounded retries; True if it succeeded, False if dead-lettered."""
        handler = self.handlers.by_type[event.type]
        for attempt in range(1, self.max_attempts + 1):
            started = time.perf_counter()
            try:
                handler(self.db, event)
            except Exception as exc:
                log.warning("handler failed", exc_info=True,
                            extra={"event_id": event.id, "event_type": event.type, "attempt": attempt})
                if attempt == self.max_attempts:
                    self.dead_letter(record, f"{type(exc).__name__}: {exc}", event_type=event.type,
                                     event_id=event.id)
                    return False
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))
            else:
                metrics.HANDLER_SECONDS.labels(self.service, event.type).observe(time.perf_counter() - started)
                metrics.EVENTS_CONSUMED.labels(self.service, event.type, "handled").inc()
                return True
        return False

    def dead_letter(self, record, reason: str, *, event_type: str, event_id: str = "") -> None:
        """Send the original message to the group's dead-letter topic; must succeed before the commit."""
        headers = list(record.headers or []) + [
            ("dlt-reason", reason[:1000].encode()),
            ("dlt-origin", json.dumps({"topic": record.topic, "partition": record.partition,
                                       "offset": record.offset}).encode()),
        ]
        self.producer.send(dead_letter_topic(self.service), key=record.key, value=record.value,
                           headers=headers).get(timeout=30)
        metrics.EVENTS_CONSUMED.labels(self.service, event_type, "dead_lettered").inc()
        log.error("event dead-lettered", extra={"event_id": event_id, "event_type": event_type,
                                               "reason": reason, "offset": record.offset})

    def rejoin_if_left_out(self) -> None:
        """A member that holds no partitions for a while, of topics that have some, leaves the group and joins
        again. kafka-python once kept a worker without partitions for minutes after its first join, so it
        read nothing. A member of a group with more members than partitions holds none by right: it rejoins
        (a short rebalance for the group) after twice as long each time, so seldom."""
        now = self.clock()
        if self.consumer.assignment():
            self._unassigned_since, self._rejoin_after = None, REJOIN_AFTER_SECONDS
            return
        if self._unassigned_since is None:
            self._unassigned_since = now
        if now - self._unassigned_since < self._rejoin_after:
            return
        topics = sorted(self.consumer.subscription() or [])
        if not any(self.consumer.partitions_for_topic(t) for t in topics):
            return
        log.warning("no partitions assigned; joining the group again",
                    extra={"seconds": round(now - self._unassigned_since), "topics": topics})
        self._join_again(topics)
        self._unassigned_since = now
        self._rejoin_after = min(self._rejoin_after * 2, REJOIN_AFTER_MAX_SECONDS)

    def _join_again(self, topics: list[str]) -> None:
        self.consumer.unsubscribe()
        self.consumer.subscribe(topics, listener=AssignmentLog())

    def _report_lag(self) -> None:
        now = time.time()
        if now - self._last_lag < self.lag_every_seconds:
            return
        self._last_lag = now
        assigned: set[TopicPartition] = self.consumer.assignment()
        if not assigned:
            return
        ends = self.consumer.end_offsets(list(assigned))
        waiting = 0
        for tp in assigned:
            lag = max(0, ends.get(tp, 0) - self.consumer.position(tp))
            metrics.CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(lag)
            waiting += lag
        self.rejoin_if_stalled(waiting)

    def rejoin_if_stalled(self, waiting: int) -> None:
        """Join the group again when `waiting` events wait in the partitions this member holds and it has taken
        none for STALLED_SECONDS (see there)."""
        now = self.clock()
        if not waiting:
            self._progressed_at = now
            return
        if now - self._progressed_at < STALLED_SECONDS:
            return
        topics = sorted(self.consumer.subscription() or [])
        log.warning("events waiting and none taken; joining the group again",
                    extra={"waiting": waiting, "seconds": round(now - self._progressed_at), "topics": topics})
        self._join_again(topics)
        self._progressed_at = now
