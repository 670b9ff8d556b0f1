"""Notifications storage.

- `notifications`: the in-app inbox, one document per (event, recipient, channel) whose `_id` is derived from
  the three and ordered by the event's time (domain.notification_id): a redelivered event inserts duplicates
  the store refuses. `box` (recipient and month) is what the inbox is read by: an equality the store serves
  from an index, over one month of one person. `unread` holds the recipient while the entry is unread, so
  the unread count is an equality count over unread entries only.
- `deliveries`: one record per event, channel and batch of recipients; it carries the batch's
  `notification.delivered` event in its outbox.
- `audiences`: followers and volunteers of each idea and the staff of each branch, in up to 64 chunks per
  group holding member ids and a copy of the profile of each member whose profile is not the default: a
  fan-out to 10,000 followers reads 64 small documents, with no lookup per follower.
- `recipients`: each person's delivery profile (preferences chosen through the API, reachable from the
  directory's events), its version, and the audiences the person is in (whose copies a change refreshes).
- `people` and `ideas`: what the service keeps of the directory's people and the ideas (read models).
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Iterable, Iterator, Mapping

from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.notifications.domain import DEFAULT_PROFILE, Profile, box, months_back, newest_month
from shared.events import Event
from shared.mongo import Index
from shared.outbox import with_events
from shared.readmodels import BRANCH_INDEXES, BRANCHES

NOTIFICATIONS, DELIVERIES, AUDIENCES = "notifications", "deliveries", "audiences"
RECIPIENTS, PEOPLE, IDEAS = "recipients", "people", "ideas"
OUTBOX_COLLECTIONS = [DELIVERIES]
INDEXES = [
    *BRANCH_INDEXES,
    Index.on(NOTIFICATIONS, "box"),
    Index.on(NOTIFICATIONS, "recipient"),
    Index.on(NOTIFICATIONS, "unread", sparse=True),
    Index.on(DELIVERIES, "recipients"),
    Index.on(AUDIENCES, "audience"),
    Index.on(IDEAS, "author_id"),
]
DUPLICATE_KEY = 11000
UNREAD_CAP = 100  # the badge shows "99+" beyond; counting further costs the store a read per entry


def _insert_new(collection: Collection, docs: list[dict]) -> int:
    """Insert what is not stored yet; returns how many were new (a duplicate `_id` means "done before")."""
    if not docs:
        return 0
    try:
        return len(collection.insert_many(docs, ordered=False).inserted_ids)
    except BulkWriteError as exc:
        if any(error.get("code") != DUPLICATE_KEY for error in exc.details.get("writeErrors", [])):
            raise
        return exc.details.get("nInserted", 0)


def _upsert_newer(collection: Collection, doc_id: str, fields: Mapping[str, Any], as_of: str,
                  guard: Mapping[str, Any] | None = None) -> bool:
    """Apply an event's state unless the stored state is newer (a replay of older events changes nothing).
    Returns whether it applied."""
    query = {"_id": doc_id, "as_of": {"$lte": as_of}, **(guard or {})}
    if collection.update_one(query, {"$set": dict(fields, as_of=as_of)}).matched_count:
        return True
    try:
        collection.insert_one(dict(fields, _id=doc_id, as_of=as_of))
        return True
    except DuplicateKeyError:
        return False


# --- the inbox -----------------------------------------------------------------------------------------

class Inbox:
    def __init__(self, db: Database):
        self.collection = db[NOTIFICATIONS]

    def add(self, docs: list[dict]) -> int:
        return _insert_new(self.collection, docs)

    def page(self, recipient: str, *, after: str | None, limit: int, now: datetime) -> tuple[list[dict], bool]:
        """Newest first, month by month within the inbox's horizon; returns the page and whether more follow."""
        months = list(months_back(newest_month(now)))
        if after:
            if after[:6] not in months:
                return [], False
            months = months[months.index(after[:6]):]
        found: list[dict] = []
        for month in months:
            query: dict[str, Any] = {"box": box(recipient, month)}
            if after and month == after[:6]:
                query["_id"] = {"$lt": after}
            found += self.collection.find(query).sort("_id", -1).limit(limit + 1 - len(found))
            if len(found) > limit:
                return found[:limit], True
        return found, False

    def get(self, recipient: str, notification_id: str) -> dict | None:
        return self.collection.find_one({"_id": notification_id, "recipient": recipient})

    def unread(self, recipient: str) -> int:
        return self.collection.count_documents({"unread": recipient}, limit=UNREAD_CAP)

    def mark_read(self, recipient: str, notification_id: str, at: datetime) -> dict | None:
        self.collection.update_one({"_id": notification_id, "unread": recipient},
                                   {"$unset": {"unread": ""}, "$set": {"read_at": at}})
        return self.get(recipient, notification_id)

    def mark_all_read(self, recipient: str, at: datetime) -> int:
        return self.collection.update_many({"unread": recipient},
                                           {"$unset": {"unread": ""}, "$set": {"read_at": at}}).modified_count

    def forget(self, recipient: str) -> int:
        return self.collection.delete_many({"recipient": recipient}).deleted_count


# --- delivery records ----------------------------------------------------------------------------------

class Deliveries:
    def __init__(self, db: Database):
        self.collection = db[DELIVERIES]

    def record(self, doc: Mapping[str, Any], events: Iterable[Event]) -> bool:
        """Store a delivery record with its events; False if it was recorded before (a redelivery)."""
        try:
            self.collection.insert_one(with_events(doc, events))
            return True
        except DuplicateKeyError:
            return False

    def forget(self, recipient: str) -> None:
        """Take a person out of every delivery record (the records of other recipients stay)."""
        self.collection.update_many({"recipients": recipient}, {"$pullAll": {"recipients": [recipient]}})


# --- audiences -----------------------------------------------------------------------------------------

# A group's members are spread over at most this many documents, by a hash of the person: reading 10,000
# followers is 64 documents holding lists of ids. (The store converts every value it returns: 10,000
# one-per-member documents took 4-8 s to read on the shared test machine, 64 lists of ids 0.3-0.6 s.)
AUDIENCE_CHUNKS = 64


def _digest(person_id: str) -> str:
    return hashlib.sha256(person_id.encode()).hexdigest()


def chunk_id(audience: str, person_id: str) -> str:
    return f"{audience}#{int(_digest(person_id)[:8], 16) % AUDIENCE_CHUNKS:02d}"


def _special_key(person_id: str) -> str:
    """Where a member's own profile is kept in their chunk: a hash, a key safe for any id."""
    return f"special.{_digest(person_id)[:16]}"


def _profile_fields(profile: Profile) -> dict[str, Any]:
    return {"prefs": dict(profile.prefs) if profile.prefs else None, "active": profile.active,
            "erased": profile.erased, "v": profile.version}


def profile_of(doc: Mapping[str, Any] | None) -> Profile:
    if not doc:
        return Profile()
    return Profile(prefs=doc.get("prefs"), active=doc.get("active", True), erased=doc.get("erased", False),
                   version=doc.get("v", 0))


class Audiences:
    """Followers and volunteers of each idea, staff of each branch. A chunk holds its members' ids and the
    profiles of the few members whose profile is not the default (chose preferences, or cannot be reached)."""

    def __init__(self, db: Database):
        self.collection = db[AUDIENCES]

    def members(self, audience: str) -> Iterator[tuple[str, Profile]]:
        for doc in self.collection.find({"audience": audience}):
            special = {entry["id"]: profile_of(entry) for entry in (doc.get("special") or {}).values()}
            for person_id in doc.get("members", ()):
                yield person_id, special.get(person_id, DEFAULT_PROFILE)

    def put(self, audience: str, person_id: str, profile: Profile) -> None:
        """Add a member, with their profile."""
        update = self._profile_update(person_id, profile)
        update.update({"$addToSet": {"members": person_id}, "$setOnInsert": {"audience": audience}})
        self.collection.update_one({"_id": chunk_id(audience, person_id)}, update, upsert=True)

    def refresh(self, audience: str, person_id: str, profile: Profile) -> None:
        """Replace a member's profile (membership unchanged: a refresh racing a leave never re-adds them)."""
        self.collection.update_one({"_id": chunk_id(audience, person_id)}, self._profile_update(person_id, profile))

    def remove(self, audience: str, person_id: str) -> None:
        self.collection.update_one({"_id": chunk_id(audience, person_id)},
                                   {"$pullAll": {"members": [person_id]}, "$unset": {_special_key(person_id): ""}})

    @staticmethod
    def _profile_update(person_id: str, profile: Profile) -> dict[str, Any]:
        key = _special_key(person_id)
        if profile.default:
            return {"$unset": {key: ""}}
        return {"$set": {key: dict(_profile_fields(profile), id=person_id)}}


class Recipients:
    """Each person's delivery profile, its version, and the audiences they are in (to refresh their copies)."""

    def __init__(self, db: Database):
        self.collection = db[RECIPIENTS]

    def get(self, person_id: str) -> Profile:
        return profile_of(self.collection.find_one({"_id": person_id}))

    def get_with_audiences(self, person_id: str) -> tuple[Profile, list[str]]:
        doc = self.collection.find_one({"_id": person_id})
        return profile_of(doc), list((doc or {}).get("audiences", []))

    def change(self, person_id: str, **fields: Any) -> tuple[Profile, list[str]]:
        """Change a profile and bump its version, in one atomic write; returns it and the person's audiences."""
        doc = self.collection.find_one_and_update({"_id": person_id}, {"$set": fields, "$inc": {"v": 1}},
                                                  upsert=True, return_document=ReturnDocument.AFTER)
        return profile_of(doc), list(doc.get("audiences", []))

    def enter(self, person_id: str, audience: str) -> Profile:
        """Note that the person is in an audience; returns their profile as it is now."""
        doc = self.collection.find_one_and_update({"_id": person_id}, {"$addToSet": {"audiences": audience}},
                                                  upsert=True, return_document=ReturnDocument.AFTER)
        return profile_of(doc)

    def leave(self, person_id: str, audience: str) -> None:
        self.collection.update_one({"_id": person_id}, {"$pullAll": {"audiences": [audience]}})


# --- read models of other services' data ---------------------------------------------------------------

class People:
    """The directory's people as this service needs them: language, kind and roles, home branch, active;
    the e-mail address only to deliver e-mail."""

    def __init__(self, db: Database):
        self.collection = db[PEOPLE]

    def learn(self, person_id: str, fields: Mapping[str, Any], as_of: str) -> bool:
        return _upsert_newer(self.collection, person_id, fields, as_of, guard={"erased": {"$ne": True}})

    def language(self, person_id: str) -> str | None:
        doc = self.collection.find_one({"_id": person_id}, {"lang": 1})
        return doc.get("lang") if doc else None

    def erase(self, person_id: str, as_of: str) -> None:
        """Keep only a tombstone, so that no later event brings the person's data back."""
        self.collection.replace_one({"_id": person_id}, {"erased": True, "as_of": as_of}, upsert=True)


class Ideas:
    """Titles, branches and authors of ideas, from the ideas service's events."""

    def __init__(self, db: Database):
        self.collection = db[IDEAS]

    def learn(self, idea_id: str, fields: Mapping[str, Any], as_of: str) -> None:
        _upsert_newer(self.collection, idea_id, fields, as_of)

    def get(self, idea_id: str) -> dict | None:
        return self.collection.find_one({"_id": idea_id})

    def forget_author(self, person_id: str) -> None:
        self.collection.update_many({"author_id": person_id}, {"$set": {"author_id": None}})


def branch_names(db: Database, branch_id: str) -> dict | None:
    doc = db[BRANCHES].find_one({"_id": branch_id}, {"name": 1})
    return doc.get("name") if doc else None
