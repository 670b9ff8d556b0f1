"""The notifications service's worker: `python -m services.notifications.worker` (outbox relay, consumer, the
delivery loop that sends e-mails, digests and webhook calls, and the daily retention round)."""
from __future__ import annotations

import logging
import os
import signal
import threading

from services.notifications import SERVICE, services
from services.notifications.delivery import Dispatcher
from services.notifications.handlers import handlers
from services.notifications.maintenance import keep_retaining
from services.notifications.repository import INDEXES, OUTBOX_COLLECTIONS
from shared.config import load_settings
from shared.mongo import database_for
from shared.worker import WorkerSpec, run

log = logging.getLogger(__name__)


def spec() -> WorkerSpec:
    return WorkerSpec(load_settings(SERVICE), outbox_collections=OUTBOX_COLLECTIONS, handlers=handlers,
                      indexes=INDEXES)


def main() -> None:
    """The shared worker (relay and consumer) with the delivery loop beside it: started once the store and the
    broker are ready, stopped after them, on the same SIGTERM."""
    worker = spec()
    stop = threading.Event()
    dispatcher = Dispatcher(database_for(worker.settings), worker.settings)
    services.send_at_once_by(dispatcher)  # the consumer's e-mails to send at once go straight to it

    def deliver() -> None:
        try:
            dispatcher.run(stop)
        finally:
            if not stop.is_set():  # it died: stop the whole worker, so the supervisor restarts it
                log.error("the delivery loop stopped; stopping the worker")
                os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=deliver, name="delivery", daemon=True)
    retention = threading.Thread(target=keep_retaining, args=(worker.settings, stop), name="retention", daemon=True)

    def start() -> None:
        thread.start()
        retention.start()

    worker.on_start = start
    try:
        run(worker)
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(max(worker.settings.smtp_timeout_seconds, worker.settings.webhook_timeout_seconds) + 5)


if __name__ == "__main__":
    main()
