"""Transactional outbox on single-document atomicity.

The store has no multi-document transactions, so an aggregate's pending events live inside the
aggregate's own document: the write that changes the aggregate pushes its events into `_outbox` and
sets `_outbox_pending` in the same single-document operation. The relay (in the service's worker) finds
pending documents, publishes their events (acks=all), then removes exactly the entries it published.
A relay that dies between publishing and removing publishes again: consumers drop the duplicate.

The relay looks at each collection at its own pace (see Relay); code of the same process that has just written
events can have it look at once (`written`), instead of at its next look.

A process can also publish the events of its own writes right after them (`publish_at_once_by`, a Publisher: the
workers do by default, the web processes too with OUTBOX_PUBLISH_AT_ONCE=all), instead of leaving them for the
relay's next look. Such a write marks its events DIRECT
instead of pending, and only when no earlier events wait in the document (else the relay publishes all of them,
in order). The publisher clears what it published as the relay would; what it does not publish (the broker away,
the process stopped) the relay takes once DIRECT_GRACE_SECONDS have passed. Every event is still published at
least once, and an aggregate's events in the order they were written.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import weakref
from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping

from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from shared import metrics
from shared.events.envelope import Event
from shared.mongo import Index

log = logging.getLogger(__name__)

ENTRIES = "_outbox"
PENDING = "_outbox_pending"
CONTENT_TYPE = [("content-type", b"application/cloudevents+json")]
# A collection without events for this long is looked at less often: every quarter of the time it has been
# quiet, up to the relay's idle interval. An idle platform's relays then cost the store little, while a busy
# collection is looked at every poll interval.
QUIET_SECONDS = 1.0
# Statements per update command. FerretDB 1.24 holds one PostgreSQL connection per statement until the
# command ends (its pool has 50): one command of 50 statements, or a few big ones at once, hang the store.
MARK_STATEMENTS = 5
# PENDING's value while the process that wrote the events publishes them itself (Publisher). The relay leaves
# such events to it for this long, then publishes them (the writer stopped first, or could not reach the broker);
# it looks for them every DIRECT_SWEEP_SECONDS.
DIRECT = "direct"
DIRECT_GRACE_SECONDS = 3.0
DIRECT_SWEEP_SECONDS = 2.5


# The relays running in this process (the worker's), which `written` wakes.
_RUNNING: "weakref.WeakSet[Relay]" = weakref.WeakSet()


def written(collection: str) -> None:
    """Events were just stored in `collection`'s outbox by this process: its running relay (if any) looks at it
    now (or a quarter of its poll interval after its last look) rather than at its next look."""
    for relay in list(_RUNNING):
        relay.wake(collection)


def outbox_indexes(collections: Iterable[str]) -> list[Index]:
    return [Index.on(c, PENDING, sparse=True) for c in collections]


def _entries(events: Iterable[Event]) -> list[dict[str, Any]]:
    now = time.time()
    return [dict(e.as_outbox_entry(), at=now) for e in events]


def with_events(document: Mapping[str, Any], events: Iterable[Event], *, at_once: bool = False) -> dict[str, Any]:
    """A new aggregate document that carries its events: insert it and both are stored at once. `at_once`: marked
    for this process's publisher, to whom `publish` then hands them (when this process has one)."""
    return _with_entries(document, _entries(events), DIRECT if at_once and _AT_ONCE is not None else True)


def _with_entries(document: Mapping[str, Any], entries: list[dict[str, Any]], pending: Any) -> dict[str, Any]:
    doc = dict(document)
    if entries:
        doc[ENTRIES] = entries
        doc[PENDING] = pending
    return doc


def update_with_events(update: Mapping[str, Any], events: Iterable[Event]) -> dict[str, Any]:
    """An update of an aggregate that also appends its events to the aggregate's outbox."""
    return _merged(update, _entries(events), True)


def _merged(update: Mapping[str, Any], entries: list[dict[str, Any]], pending: Any) -> dict[str, Any]:
    merged = {op: dict(fields) for op, fields in update.items()}
    if entries:
        merged.setdefault("$push", {})[ENTRIES] = {"$each": entries}
        merged.setdefault("$set", {})[PENDING] = pending
    return merged


# --- publishing right after the write ------------------------------------------------------------------

def insert_one(collection: Collection, document: Mapping[str, Any], events: Iterable[Event]) -> None:
    """Insert an aggregate with its events; when this process publishes at once, they go right after."""
    entries = _entries(events)
    publisher = _AT_ONCE
    collection.insert_one(_with_entries(document, entries, DIRECT if publisher and entries else True))
    if publisher and entries:
        publisher.hand(collection, document["_id"], entries)


def update_one(collection: Collection, query: Mapping[str, Any], update: Mapping[str, Any],
               events: Iterable[Event]):
    """Update one aggregate (`query` names its `_id`) and append its events; returns the update's result. When
    this process publishes at once and no earlier events wait in the document, they go right after the write;
    else (or when `query` matches nothing so) they wait for the relay, which publishes them after the earlier
    ones. A second command only then."""
    entries = _entries(events)
    publisher = _AT_ONCE
    if publisher is None or not entries:
        return collection.update_one(query, _merged(update, entries, True))
    result = collection.update_one({**query, PENDING: {"$exists": False}}, _merged(update, entries, DIRECT))
    if result.matched_count:
        publisher.hand(collection, query["_id"], entries)
        return result
    return collection.update_one(query, _merged(update, entries, True))


def publish(collection: Collection, documents: Iterable[Mapping[str, Any]]) -> None:
    """Hand the events of documents just inserted `with_events(..., at_once=True)` to this process's publisher."""
    publisher = _AT_ONCE
    if publisher is None:
        return
    for doc in documents:
        if doc.get(PENDING) == DIRECT:
            publisher.hand(collection, doc["_id"], doc[ENTRIES])


def at_once() -> bool:
    """Whether this process publishes the events of its writes itself (publish_at_once_by)."""
    return _AT_ONCE is not None


class Publisher:
    """Publishes the events of this process's writes right after them, from a thread of its own: the request
    or handler that wrote them does not wait for the broker. It sends what it was handed (acks=all), then
    clears it from the documents as the relay would: a document whose events were all sent and to which nothing
    was appended meanwhile, a few per command. What it does not publish (a send failed, more waiting than
    `capacity`, the process stopped) stays marked DIRECT, and the relay takes it after DIRECT_GRACE_SECONDS.

    The producer is made in the thread, at the first events after a fork (gunicorn's workers each have their
    own); when the broker cannot be reached, events are left to the relay for `retry_seconds`."""

    def __init__(self, make_producer: Callable[[], Any], *, service: str, capacity: int = 10_000,
                 batch: int = 500, retry_seconds: float = 5.0):
        self._make_producer = make_producer
        self.service = service
        self.capacity = capacity
        self.batch = batch
        self.retry_seconds = retry_seconds
        self._items: deque[tuple[Collection, Any, list[dict[str, Any]]]] = deque()
        self._ready = threading.Condition()
        self._busy = False
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._producer = None
        self._broker_away_until = 0.0

    def hand(self, collection: Collection, doc_id: Any, entries: list[dict[str, Any]]) -> None:
        with self._ready:
            if len(self._items) >= self.capacity:
                metrics.PUBLISH_FAILURES.labels(self.service).inc()
                return  # the relay publishes them after the grace
            self._items.append((collection, doc_id, entries))
            if self._thread is None or self._pid != os.getpid():
                self._pid, self._producer = os.getpid(), None  # after a fork: a thread and producer of its own
                self._thread = threading.Thread(target=self._run, name="outbox-publisher", daemon=True)
                self._thread.start()
            self._ready.notify()

    def idle(self, timeout: float = 10.0) -> bool:
        """Wait until everything handed so far is published and cleared (or left to the relay)."""
        deadline = time.monotonic() + timeout
        with self._ready:
            while self._items or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._ready.wait(min(left, 0.05))
        return True

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._items:
                    self._busy = False
                    self._ready.notify_all()
                    self._ready.wait()
                self._busy = True
                taken = [self._items.popleft() for _ in range(min(len(self._items), self.batch))]
            try:
                self._publish(taken)
            except Exception:
                metrics.PUBLISH_FAILURES.labels(self.service).inc()
                log.exception("publishing at once failed; the relay will publish these events")

    def _publish(self, taken: list[tuple[Collection, Any, list[dict[str, Any]]]]) -> None:
        producer = self._connected()
        if producer is None:
            return
        sends = [(collection, doc_id, entries, [_send(producer, entry) for entry in entries])
                 for collection, doc_id, entries in taken]
        producer.flush()
        sent: dict[str, tuple[Collection, list[tuple[Any, int]]]] = {}
        for collection, doc_id, entries, futures in sends:
            if all(_delivered(self.service, entry, future) for entry, future in zip(entries, futures)):
                sent.setdefault(collection.full_name, (collection, []))[1].append((doc_id, len(entries)))
        for collection, docs in sent.values():
            _clear(collection, docs, {PENDING: DIRECT})

    def _connected(self):
        if self._producer is None and time.monotonic() >= self._broker_away_until:
            try:
                self._producer = self._make_producer()
            except Exception:
                self._broker_away_until = time.monotonic() + self.retry_seconds
                log.warning("publishing at once: broker not reachable; the relay publishes meanwhile",
                            exc_info=True)
        return self._producer


_AT_ONCE: Publisher | None = None


def publish_at_once_by(publisher: Publisher | None) -> None:
    """Have this process's writes made through insert_one, update_one and publish handed to `publisher` (None:
    leave every event to the relay)."""
    global _AT_ONCE
    _AT_ONCE = publisher


def _send(producer, entry: Mapping[str, Any]):
    return producer.send(entry["topic"], key=entry["key"].encode(), value=entry["value"].encode(),
                         headers=CONTENT_TYPE)


def _delivered(service: str, entry: Mapping[str, Any], future) -> bool:
    """Whether a send (after the producer's flush) was acknowledged; counted and timed as published if so."""
    try:
        future.get(timeout=0)
    except Exception:
        metrics.PUBLISH_FAILURES.labels(service).inc()
        log.warning("publish failed; will retry", exc_info=True, extra={"event_id": entry["id"]})
        return False
    metrics.EVENTS_PUBLISHED.labels(service, entry["type"]).inc()
    metrics.OUTBOX_DELAY.labels(service).observe(max(0.0, time.time() - entry.get("at", 0)))
    return True


def _clear(collection: Collection, docs: list[tuple[Any, int]], where: Mapping[str, Any] | None = None) -> int:
    """Remove the events of documents all of whose `count` events were sent, by one conditional unset each (a
    document appended to meanwhile keeps them all, and they go out again), a few per round trip; returns how
    many documents were cleared."""
    cleared = 0
    for start in range(0, len(docs), MARK_STATEMENTS):
        cleared += collection.bulk_write(
            [UpdateOne({"_id": doc_id, **(where or {}), ENTRIES: {"$size": count}},
                       {"$unset": {ENTRIES: "", PENDING: ""}}) for doc_id, count in docs[start:start + MARK_STATEMENTS]],
            ordered=False).modified_count
    return cleared


class Relay:
    """Publishes what the outboxes of a service's collections hold. One relay per service is active at a
    time (a lease in the store), so scaled-out workers stand by instead of publishing the same events."""

    LEASE_ID = "outbox-relay"

    def __init__(self, db: Database, collections: Iterable[str], producer, *, service: str,
                 batch: int = 200, poll_seconds: float = 0.05, idle_poll_seconds: float = 0.25,
                 lease_seconds: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.db = db
        self.collections = list(collections)
        self.producer = producer
        self.service = service
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.idle_poll_seconds = max(idle_poll_seconds, poll_seconds)
        self.lease_seconds = lease_seconds
        self.clock = clock  # for the pace of looking (tests move it by hand)
        started = clock()
        self._found_at = dict.fromkeys(self.collections, started)  # when each last had events
        self._look_at = dict.fromkeys(self.collections, started)  # when each is to be looked at next
        self._looked_at = dict.fromkeys(self.collections, started - poll_seconds)  # when each was last looked at
        self._sweep_at = dict.fromkeys(self.collections, started + DIRECT_SWEEP_SECONDS)  # see sweep
        self._woken = threading.Event()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self._lease_until = 0.0
        self._last_backlog = 0.0

    # --- leadership -------------------------------------------------------------------------
    def holds_lease(self) -> bool:
        now = time.time()
        if now < self._lease_until - self.lease_seconds / 2:
            return True
        until = datetime.now(timezone.utc) + timedelta(seconds=self.lease_seconds)
        try:
            self.db["_leases"].update_one(
                {"_id": self.LEASE_ID,
                 "$or": [{"owner": self.owner}, {"until": {"$lt": datetime.now(timezone.utc)}}]},
                {"$set": {"owner": self.owner, "until": until}}, upsert=True)
        except DuplicateKeyError:
            self._lease_until = 0.0
            return False
        self._lease_until = now + self.lease_seconds
        return True

    # --- publishing ---------------------------------------------------------------------------
    def relay_once(self, due_only: bool = False) -> int:
        """Publish one batch from every collection (`due_only`: from those whose time to be looked at has
        come), and what publishers left (see `sweep`); returns how many events were published."""
        published = 0
        for name in self.collections:
            collection = self.db[name]
            if not due_only or self.clock() >= self._sweep_at[name]:
                published += self.sweep(name)
            if due_only and self.clock() < self._look_at[name]:
                continue
            docs = list(collection.find({PENDING: True}, {ENTRIES: 1}).limit(self.batch))
            metrics.OUTBOX_LOOKS.labels(self.service, name).inc()
            self._looked(name, found=len(docs))
            published += self._publish(collection, docs)
        return published

    def sweep(self, name: str) -> int:
        """Publish the events a process's publisher was to publish and has not for DIRECT_GRACE_SECONDS (it
        stopped, or could not reach the broker); returns how many. Every DIRECT_SWEEP_SECONDS."""
        self._sweep_at[name] = self.clock() + DIRECT_SWEEP_SECONDS
        collection = self.db[name]
        cutoff = time.time() - DIRECT_GRACE_SECONDS
        docs = [doc for doc in collection.find({PENDING: DIRECT}, {ENTRIES: 1}).limit(self.batch)
                if min((entry.get("at", 0) for entry in doc.get(ENTRIES, [])), default=0) <= cutoff]
        return self._publish(collection, docs)

    def _publish(self, collection, docs: list[Mapping[str, Any]]) -> int:
        if not docs:
            return 0
        sends = [(doc["_id"], entry, _send(self.producer, entry)) for doc in docs for entry in doc.get(ENTRIES, [])]
        self.producer.flush()
        done: dict[Any, list[dict[str, Any]]] = {}
        for doc_id, entry, future in sends:
            if _delivered(self.service, entry, future):
                done.setdefault(doc_id, []).append(entry)
        return self._mark_sent(collection, docs, done)

    def _looked(self, name: str, found: int) -> None:
        """When to look at a collection next, given how many documents with events this look found: at once after
        a full batch (there are more); after the poll interval when it has had events in the last QUIET_SECONDS;
        else every quarter of its quiet time, up to the idle interval."""
        now = self.clock()
        self._looked_at[name] = now
        if found:
            self._found_at[name] = now
            self._look_at[name] = now if found >= self.batch else now + self.poll_seconds
            return
        quiet = now - self._found_at[name]
        self._look_at[name] = now + (self.poll_seconds if quiet < QUIET_SECONDS
                                     else min(self.idle_poll_seconds, max(self.poll_seconds, quiet / 4)))

    def wake(self, name: str) -> None:
        """Events were just written to `name`'s outbox: look at it now, or a quarter of the poll interval after
        its last look (writes in quick succession are taken together)."""
        if name not in self._look_at:
            return
        soonest = max(self.clock(), self._looked_at[name] + self.poll_seconds / 4)
        self._look_at[name] = min(self._look_at[name], soonest)
        self._woken.set()

    def _next_look_in(self) -> float:
        """Seconds until a collection is to be looked at (0: one is due now)."""
        return max(0.0, min(self._look_at.values()) - self.clock())

    def _mark_sent(self, collection, docs: list[Mapping[str, Any]], done: dict[Any, list[dict[str, Any]]]) -> int:
        """Remove what was published; returns how many events that was. Writers only append, so a document
        that still holds as many entries as were read, all of them sent, is cleared by one conditional
        unset, a few documents per round trip. The rest (a failed send, an append meanwhile)
        takes the exact path, document by document."""
        whole = [d for d in docs if 0 < len(d.get(ENTRIES, [])) == len(done.get(d["_id"], []))]
        cleared = _clear(collection, [(d["_id"], len(d[ENTRIES])) for d in whole])
        exact = docs if cleared < len(whole) else [d for d in docs if d not in whole]
        for doc in exact:
            sent = done.get(doc["_id"], [])
            if sent:
                # $pullAll removes exactly the entries as read (whole-value match: MongoDB and FerretDB agree
                # on it, while FerretDB 1.24 ignores a $pull by field condition). Repeating it is harmless.
                collection.update_one({"_id": doc["_id"]}, {"$pullAll": {ENTRIES: sent}})
                collection.update_one({"_id": doc["_id"], ENTRIES: {"$size": 0}},
                                      {"$unset": {ENTRIES: "", PENDING: ""}})
        return sum(len(sent) for sent in done.values())

    def backlog(self) -> int:
        return sum(self.db[name].count_documents({PENDING: True}) for name in self.collections)

    def release(self) -> None:
        """Give the lease up on a graceful stop, so a standby relay takes over at once."""
        try:
            self.db["_leases"].delete_one({"_id": self.LEASE_ID, "owner": self.owner})
        except PyMongoError:
            pass

    def run(self, stop: threading.Event) -> None:
        log.info("outbox relay started", extra={"collections": self.collections})
        _RUNNING.add(self)
        try:
            while not stop.is_set():
                try:
                    if not self.holds_lease():
                        stop.wait(self.lease_seconds / 2)
                        continue
                    self._woken.clear()  # before looking: a wake meanwhile cuts the wait after it short
                    self.relay_once(due_only=True)
                    if time.time() - self._last_backlog > 5:
                        metrics.OUTBOX_BACKLOG.labels(self.service).set(self.backlog())
                        self._last_backlog = time.time()
                    # Woken by `written`, or at the next look; a stop is noticed within the idle interval.
                    self._woken.wait(min(self._next_look_in(), self.idle_poll_seconds))
                except PyMongoError:
                    log.exception("outbox relay: store unavailable; retrying")
                    stop.wait(1.0)
        finally:
            _RUNNING.discard(self)
        log.info("outbox relay stopped")
