"""Read models several services keep from other services' events. Each handler's write is a natural
upsert keyed by the aggregate id and guarded by the event's time, so redelivery and reordering are safe."""
from __future__ import annotations

import time
from typing import Any, Mapping

from pymongo import ReturnDocument
from pymongo.collection import Collection
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


POPULATION_GROUPS = "population_groups"


def keep_population_groups(handlers: Handlers) -> None:
    """Register the handler that keeps the organization's population groups (codes and names in Hebrew and
    English) from the directory's `population_groups.changed`: one document, the whole list, newest wins."""

    @handlers.on("cocreate.population_groups.changed.v1")
    def population_groups_changed(db: Database, event: Event) -> None:
        upsert_newer(db[POPULATION_GROUPS], "all", {"items": event.data["items"]}, event.time)


def population_group_names(db: Database) -> dict[str, dict[str, str]]:
    """Each population group's names per language, by code (empty until the directory has told)."""
    doc = db[POPULATION_GROUPS].find_one({"_id": "all"}) or {}
    return {item["code"]: item["name"] for item in doc.get("items", [])}


class PopulationNames:
    """population_group_names() of one app's database, read at most once per `ttl` seconds: pages name a group
    in many rows, and the list changes rarely. Held by the app (an extension), like the frame's branch names."""

    def __init__(self, ttl: float = 60.0):
        self.ttl = ttl
        self.until = 0.0
        self.names: dict[str, dict[str, str]] = {}

    def of(self, db: Database) -> dict[str, dict[str, str]]:
        if time.monotonic() >= self.until:
            self.names, self.until = population_group_names(db), time.monotonic() + self.ttl
        return self.names


def _upsert(db: Database, event: Event, fields: dict) -> None:
    upsert_newer(db[BRANCHES], event.subject, fields, event.time)


def upsert_newer(collection: Collection, doc_id: str, fields: Mapping[str, Any], as_of: str,
                 guard: Mapping[str, Any] | None = None) -> bool:
    """Apply an event's state unless the stored state is newer (a redelivery, or a replay of older events,
    changes nothing); `guard` adds conditions (e.g. not erased). Returns whether it applied."""
    if collection.update_one({"_id": doc_id, "as_of": {"$lte": as_of}, **(guard or {})},
                             {"$set": dict(fields, as_of=as_of)}).matched_count:
        return True
    try:
        collection.insert_one(dict(fields, _id=doc_id, as_of=as_of))
        return True
    except DuplicateKeyError:
        return False  # stored with a newer state already (or guarded)


def learn_newer(collection: Collection, doc_id: str, fields: Mapping[str, Any], as_of: str) -> dict | None:
    """upsert_newer, answering with the document as stored after it (applied or not): one command, where a
    write and then a read of what it wrote take two."""
    doc = collection.find_one_and_update({"_id": doc_id, "as_of": {"$lte": as_of}},
                                         {"$set": dict(fields, as_of=as_of)}, return_document=ReturnDocument.AFTER)
    if doc is not None:
        return doc
    new = dict(fields, _id=doc_id, as_of=as_of)
    try:
        collection.insert_one(new)
        return new
    except DuplicateKeyError:
        return collection.find_one({"_id": doc_id})  # a newer state was stored meanwhile
