"""The directory's worker: `python -m services.directory.worker` (outbox relay; first-start admin)."""
from environs import Env

from services.directory import SERVICE
from services.directory.handlers import handlers
from services.directory.repository import INDEXES, OUTBOX_COLLECTIONS
from services.directory.services import Directory, ensure_admin
from shared.config import load_settings
from shared.mongo import database_for
from shared.worker import WorkerSpec, run

# Local defaults only; .env.example tells ops to change them before exposing the platform.
DEFAULT_ADMIN_EMAIL, DEFAULT_ADMIN_PASSWORD = "admin@cocreate.local", "change-me-now"


def admin_credentials() -> tuple[str, str]:
    env = Env()
    return (env.str("COCREATE_ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL),
            env.str("COCREATE_ADMIN_PASSWORD", DEFAULT_ADMIN_PASSWORD))


def spec() -> WorkerSpec:
    settings = load_settings(SERVICE)

    def first_start() -> None:
        ensure_admin(Directory.of(database_for(settings)), *admin_credentials())

    return WorkerSpec(settings, outbox_collections=OUTBOX_COLLECTIONS, handlers=handlers, indexes=INDEXES,
                      on_start=first_start)


if __name__ == "__main__":
    run(spec())
