"""The feedback service's worker: `python -m services.feedback.worker` (outbox relay and consumer), with its
housekeeping beside them: once a minute it closes the open surveys whose closing date has passed (each with its
survey.closed event), counts any response a crash left uncounted, and packs the branch comparison
(comparison.py). All are safe in several workers at once: a survey closes once (its version is checked), a
response is counted once (its claim), and a pack is rewritten whole from the counters."""
from __future__ import annotations

import threading
from datetime import datetime

from services.feedback import SERVICE, services
from services.feedback.domain import now
from services.feedback.handlers import handlers
from services.feedback.repository import INDEXES, OUTBOX_COLLECTIONS, CubeCache
from shared.config import Settings, load_settings
from shared.mongo import database_for
from shared.worker import WorkerSpec, every, run

HOUSEKEEPING_SECONDS = 60


def spec() -> WorkerSpec:
    return WorkerSpec(load_settings(SERVICE), outbox_collections=OUTBOX_COLLECTIONS, handlers=handlers,
                      indexes=INDEXES)


def tidy(s: services.Feedback, at: datetime | None = None) -> dict[str, int]:
    """One round of housekeeping (as of `at`, by default now); returns what it did."""
    at = at or now()
    return {"surveys_closed": services.close_due(s, at), "responses_counted": services.count_pending(s),
            "months_packed": services.pack_comparison(s, at)}


def housekeep(settings: Settings, stop: threading.Event, seconds: float = HOUSEKEEPING_SECONDS) -> None:
    s = services.Feedback.of(database_for(settings), CubeCache())  # closed months' packs stay in memory
    every(seconds, lambda: tidy(s), stop, what="housekeeping")


def main() -> None:
    worker = spec()
    stop = threading.Event()
    thread = threading.Thread(target=housekeep, args=(worker.settings, stop), name="housekeeping", daemon=True)
    worker.on_start = thread.start
    try:
        run(worker)
    finally:
        stop.set()


if __name__ == "__main__":
    main()
