"""Group commit: many requests' small writes become one command to the store.

The store's cost is mostly per command (an insert_one costs about as much as inserting ten documents with one
insert_many: docs/store-backend.md), so a web process that writes one small document per request does best
to write the documents of all requests waiting at that moment together. No timer is involved: a request
arriving when nothing is being written writes at once (alone, nothing waits); requests arriving while a write
is under way queue, and when it ends the first of them writes everything queued, for all of them."""
from __future__ import annotations

import threading
from typing import Callable, Generic, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T, R]):
    __slots__ = ("item", "result", "error", "done", "lead")

    def __init__(self, item: T):
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.lead = False


class GroupCommit(Generic[T, R]):
    """`submit(item)` returns what `write` answered for the item, `write` being called with the items of every
    request waiting at that moment (up to `max_batch`), in arrival order, and answering one result per item.
    If `write` raises, every request of that batch raises the same error."""

    def __init__(self, write: Callable[[Sequence[T]], Sequence[R]], max_batch: int = 64):
        self._write = write
        self._max = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Slot[T, R]] = []
        self._writing = False

    def submit(self, item: T) -> R:
        slot: _Slot[T, R] = _Slot(item)
        with self._lock:
            self._queue.append(slot)
            if not self._writing:
                self._writing = slot.lead = True
        if not slot.lead:
            slot.done.wait()  # set when written, or when this request is to write the next batch
        if slot.lead:
            self._write_batch()
        if slot.error is not None:
            raise slot.error
        return slot.result  # type: ignore[return-value]

    def _write_batch(self) -> None:
        with self._lock:
            batch, self._queue = self._queue[:self._max], self._queue[self._max:]
        try:
            results = self._write([slot.item for slot in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"write answered {len(results)} results for {len(batch)} items")
            for slot, result in zip(batch, results):
                slot.result = result
        except BaseException as exc:  # noqa: BLE001 - every waiting request hears of it
            for slot in batch:
                slot.error = exc
        with self._lock:
            # Hand the next batch to the first request waiting, before waking the ones just written.
            if self._queue:
                self._queue[0].lead = True
                self._queue[0].done.set()
            else:
                self._writing = False
        for slot in batch:
            slot.lead = False
            slot.done.set()
