"""Read models several services keep from other services' events. Each handler's write is a natural
upsert keyed by the aggregate id and guarded by the event's time, so redelivery and reordering are safe."""
from __future__ import annotations

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from shared.consumer import Handlers
from shared.events import Event
from shared.mongo import Index

BRANCHES = "branches"
BRANCH_INDEXES = [Index.on(BRANCHES, "region_id", "code")]


def keep_branches(handlers: Handlers) -> None:
    """Register handlers that keep `branches` (id, code, names, region, open) from directory events."""

    @handlers.on("cocreate.branch.created.v1", "cocreate.branch.updated.v1")
    def branch_changed(db: Database, event: Event) -> None:
        _upsert(db, event, {"code": event.data["code"], "name": event.data["name"],
                                 "region_id": event.data.get("region_id"), "open": event.data.get("open", True)})

    @handlers.on("cocreate.branch.closed.v1")
    def branch_closed(db: Database, event: Event) -> None:
        _upsert(db, event, {"open": False})


def _upsert(db: Database, event: Event, fields: dict) -> None:
    """Apply the event unless the stored state is already newer (redelivery, or a replay of old events)."""
    collection = db[BRANCHES]
    if collection.update_one({"_id": event.subject, "as_of": {"$lte": event.time}},
                             {"$set": dict(fields, as_of=event.time)}).matched_count:
        return
    try:
        collection.insert_one(dict(fields, _id=event.subject, as_of=event.time))
    except DuplicateKeyError:
        pass  # the branch is stored with a newer state already
