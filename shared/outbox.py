"""Transactional outbox on single-document atomicity.

The store has no multi-document transactions, so an aggregate's pending events live inside the
aggregate's own document: the write that changes the aggregate pushes its events into `_outbox` and
sets `_outbox_pending` in the same single-document operation. The relay (in the service's worker) finds
pending documents, publishes their events (acks=all), then removes exactly the entries it published.
A relay that dies between publishing and removing publishes again: consumers drop the duplicate.

The relay looks at each collection at its own pace (see Relay); code of the same process that has just written
events can have it look at once (`written`), instead of at its next look.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
import weakref
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping

from pymongo import UpdateOne
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


def with_events(document: Mapping[str, Any], events: Iterable[Event]) -> dict[str, Any]:
    """A new aggregate document that carries its events: insert it and both are stored at once."""
    entries = _entries(events)
    doc = dict(document)
    if entries:
        doc[ENTRIES] = entries
        doc[PENDING] = True
    return doc


def update_with_events(update: Mapping[str, Any], events: Iterable[Event]) -> dict[str, Any]:
    """An update of an aggregate that also appends its events to the aggregate's outbox."""
    entries = _entries(events)
    merged = {op: dict(fields) for op, fields in update.items()}
    if entries:
        merged.setdefault("$push", {})[ENTRIES] = {"$each": entries}
        merged.setdefault("$set", {})[PENDING] = True
    return merged


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
        come); returns how many events were published."""
        published = 0
        for name in self.collections:
            if due_only and self.clock() < self._look_at[name]:
                continue
            collection = self.db[name]
            docs = list(collection.find({PENDING: True}, {ENTRIES: 1}).limit(self.batch))
            metrics.OUTBOX_LOOKS.labels(self.service, name).inc()
            self._looked(name, found=len(docs))
            if not docs:
                continue
            sends = []
            for doc in docs:
                for entry in doc.get(ENTRIES, []):
                    future = self.producer.send(entry["topic"], key=entry["key"].encode(),
                                                value=entry["value"].encode(), headers=CONTENT_TYPE)
                    sends.append((doc["_id"], entry, future))
            self.producer.flush()
            done: dict[Any, list[dict[str, Any]]] = {}
            for doc_id, entry, future in sends:
                try:
                    future.get(timeout=0)
                except Exception:
                    metrics.PUBLISH_FAILURES.labels(self.service).inc()
                    log.exception("publish failed; will retry", extra={"event_id": entry["id"]})
                    continue
                done.setdefault(doc_id, []).append(entry)
                metrics.EVENTS_PUBLISHED.labels(self.service, entry["type"]).inc()
                metrics.OUTBOX_DELAY.labels(self.service).observe(max(0.0, time.time() - entry.get("at", 0)))
            published += self._mark_sent(collection, docs, done)
        return published

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
        cleared = 0
        for start in range(0, len(whole), MARK_STATEMENTS):
            cleared += collection.bulk_write(
                [UpdateOne({"_id": d["_id"], ENTRIES: {"$size": len(d[ENTRIES])}},
                           {"$unset": {ENTRIES: "", PENDING: ""}}) for d in whole[start:start + MARK_STATEMENTS]],
                ordered=False).modified_count
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
