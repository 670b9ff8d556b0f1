"""The feedback service's worker: `python -m services.feedback.worker` (outbox relay and consumer)."""
from services.feedback import SERVICE
from services.feedback.handlers import handlers
from services.feedback.repository import INDEXES, OUTBOX_COLLECTIONS
from shared.config import load_settings
from shared.worker import WorkerSpec, run


def spec() -> WorkerSpec:
    return WorkerSpec(load_settings(SERVICE), outbox_collections=OUTBOX_COLLECTIONS, handlers=handlers,
                      indexes=INDEXES)


if __name__ == "__main__":
    run(spec())
