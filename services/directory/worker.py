"""The directory's worker: `python -m services.directory.worker` (outbox relay)."""
from services.directory import SERVICE
from services.directory.handlers import handlers
from services.directory.repository import INDEXES, OUTBOX_COLLECTIONS
from shared.config import load_settings
from shared.worker import WorkerSpec, run


def spec() -> WorkerSpec:
    return WorkerSpec(load_settings(SERVICE), outbox_collections=OUTBOX_COLLECTIONS, handlers=handlers,
                      indexes=INDEXES)


if __name__ == "__main__":
    run(spec())
