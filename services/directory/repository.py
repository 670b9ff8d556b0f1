"""Directory storage: branches as documents, their events kept in the same document (outbox)."""
from __future__ import annotations

from typing import Iterable

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.directory.domain import Branch
from shared.errors import Conflict
from shared.events import Event
from shared.mongo import Index
from shared.outbox import update_with_events, with_events

BRANCHES = "branches"
OUTBOX_COLLECTIONS = [BRANCHES]
INDEXES = [Index.on(BRANCHES, "code", unique=True), Index.on(BRANCHES, "region_id", "code")]


def _to_doc(branch: Branch) -> dict:
    return {"_id": branch.id, "code": branch.code, "name": {"he": branch.name_he, "en": branch.name_en},
            "region_id": branch.region_id, "address": branch.address, "open": branch.open,
            "version": branch.version}


def _from_doc(doc: dict) -> Branch:
    return Branch(id=doc["_id"], code=doc["code"], name_he=doc["name"]["he"], name_en=doc["name"]["en"],
                  region_id=doc.get("region_id"), address=doc.get("address"), open=doc.get("open", True),
                  version=doc.get("version", 1))


class BranchRepository:
    def __init__(self, db: Database):
        self.collection = db[BRANCHES]

    def add(self, branch: Branch, events: Iterable[Event]) -> None:
        try:
            self.collection.insert_one(with_events(_to_doc(branch), events))
        except DuplicateKeyError:
            raise Conflict(f"A branch with code {branch.code!r} exists already.") from None

    def save(self, branch: Branch, events: Iterable[Event]) -> None:
        """Store a changed branch if nobody changed it meanwhile (optimistic concurrency on version)."""
        doc = _to_doc(branch)
        doc.pop("_id")
        result = self.collection.update_one({"_id": branch.id, "version": branch.version - 1},
                                            update_with_events({"$set": doc}, events))
        if not result.matched_count:
            raise Conflict("The branch was changed by someone else; reload and try again.")

    def get(self, branch_id: str) -> Branch | None:
        doc = self.collection.find_one({"_id": branch_id}, {"_outbox": 0})
        return _from_doc(doc) if doc else None

    def list(self, *, after_code: str | None = None, limit: int = 50) -> list[Branch]:
        query = {"code": {"$gt": after_code}} if after_code else {}
        docs = self.collection.find(query, {"_outbox": 0}).sort("code", 1).limit(limit)
        return [_from_doc(d) for d in docs]
