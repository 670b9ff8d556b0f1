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
  directory's events), its version, the audiences the person is in (whose copies a change refreshes), and a
  copy of their e-mail contact (address, name, language), which erasure removes with the rest.
- `people` and `ideas`: what the service keeps of the directory's people and the ideas (read models).
- `emails`: one document per notification to e-mail (its `_id` is the notification's, for the e-mail channel),
  either `pending` (sent at once) or `held` for the person's daily digest, and one document per person and
  day for each digest; each is its own delivery record: every attempt in `log`, its events in its outbox.
- `webhooks`: subscriptions of other systems; `webhook_deliveries`: one document per (event, subscription),
  the delivery log of every attempt, its events in its outbox.
- `digest_runs`: one document per day whose digests were formed (so a restarted worker forms none twice).

Deliveries to make (`emails`, `webhook_deliveries`) are claimed under a lease: `due` is when the document may
next be taken (now, after a backoff, or when a claimer's lease runs out), `owner` names who holds it until
its attempt is settled; a claimer that died leaves `owner` behind, and the next claim logs that attempt as
interrupted. Only the holder of the claim can settle the attempt. An e-mail to send at once is inserted already
claimed by the worker whose consumer made it (`add_claimed`), which sends it straight away: no search for it,
no separate claim.
"""
from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Any, Iterable, Iterator, Mapping

from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.notifications.domain import (CANCELLED, DIGESTED, FORMING, HELD, INTERRUPTED, PENDING,
                                           DEFAULT_PROFILE, Profile, box, months_back, newest_month)
from shared.events import Event
from shared.mongo import Index
from shared import outbox
from shared.outbox import update_with_events, with_events
from shared.readmodels import BRANCH_INDEXES, BRANCHES, learn_newer, upsert_newer

NOTIFICATIONS, DELIVERIES, AUDIENCES = "notifications", "deliveries", "audiences"
RECIPIENTS, PEOPLE, IDEAS = "recipients", "people", "ideas"
EMAILS, WEBHOOKS, WEBHOOK_DELIVERIES, DIGEST_RUNS = "emails", "webhooks", "webhook_deliveries", "digest_runs"
OUTBOX_COLLECTIONS = [DELIVERIES, EMAILS, WEBHOOK_DELIVERIES]
INDEXES = [
    *BRANCH_INDEXES,
    Index.on(NOTIFICATIONS, "box"),
    Index.on(NOTIFICATIONS, "recipient"),
    Index.on(NOTIFICATIONS, "unread", sparse=True),
    Index.on(DELIVERIES, "recipients"),
    Index.on(AUDIENCES, "audience"),
    Index.on(IDEAS, "author_id"),
    Index.on(EMAILS, "status"),
    Index.on(EMAILS, "recipient"),
    Index.on(EMAILS, "digest", sparse=True),
    Index.on(WEBHOOK_DELIVERIES, "status"),
    Index.on(WEBHOOK_DELIVERIES, "box"),
    Index.on(WEBHOOK_DELIVERIES, "webhook"),
    Index.on(WEBHOOK_DELIVERIES, "person", sparse=True),
    Index.on(WEBHOOKS, "created_by"),
]
DUPLICATE_KEY = 11000
UNREAD_CAP = 100  # the badge shows "99+" beyond; counting further costs the store a read per entry


def _insert_new(collection: Collection, docs: list[dict]) -> int:
    """Insert what is not stored yet; returns how many were new (a duplicate `_id` means "done before")."""
    return len(_inserted(collection, docs))


def _inserted(collection: Collection, docs: list[dict]) -> list[dict]:
    """Insert what is not stored yet; returns the documents that were new (the others were refused as
    duplicates: stored before)."""
    if not docs:
        return []
    try:
        collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        refused = {error["index"] for error in errors}
        return [doc for n, doc in enumerate(docs) if n not in refused]
    return docs


def _newest_first(collection: Collection, owner: str, *, after: str | None, limit: int, now: datetime,
                  where: Mapping[str, Any] | None = None) -> tuple[list[dict], bool]:
    """A page of one owner's documents whose time-ordered `_id` starts with the month and whose `box` is the
    owner and month (an equality the store serves from an index): newest first, month by month back to the
    horizon. Returns the page and whether more follow."""
    months = list(months_back(newest_month(now)))
    if after:
        if after[:6] not in months:
            return [], False
        months = months[months.index(after[:6]):]
    found: list[dict] = []
    for month in months:
        query: dict[str, Any] = {"box": box(owner, month), **(where or {})}
        if after and month == after[:6]:
            query["_id"] = {"$lt": after}
        found += collection.find(query).sort("_id", -1).limit(limit + 1 - len(found))
        if len(found) > limit:
            return found[:limit], True
    return found, False


# --- the inbox -----------------------------------------------------------------------------------------

class Inbox:
    def __init__(self, db: Database):
        self.collection = db[NOTIFICATIONS]

    def add(self, docs: list[dict]) -> int:
        return _insert_new(self.collection, docs)

    def page(self, recipient: str, *, after: str | None, limit: int, now: datetime) -> tuple[list[dict], bool]:
        """Newest first, month by month within the inbox's horizon; returns the page and whether more follow."""
        return _newest_first(self.collection, recipient, after=after, limit=limit, now=now)

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

    def record(self, records: list[tuple[Mapping[str, Any], list[Event]]]) -> int:
        """Store delivery records, each with its events, in one command; returns how many were new (one recorded
        before, by a redelivery, is refused, so its events are not published twice). The new ones' events go
        out right after, when this process publishes at once (shared/outbox.py)."""
        new = _inserted(self.collection, [with_events(doc, events, at_once=True) for doc, events in records])
        outbox.publish(self.collection, new)
        return len(new)

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
                   version=doc.get("v", 0), contact=doc.get("contact"))


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

    def set_contact(self, person_id: str, contact: Mapping[str, Any]) -> tuple[Profile, list[str]]:
        """Keep a copy of the person's address, name and language (the newest the directory told; `people` keeps
        the original), read with the profile when a fan-out reaches them by name; returns the profile and the
        person's audiences as they are now. The profile's version is not bumped: audiences' copies leave it out."""
        doc = self.collection.find_one_and_update({"_id": person_id}, {"$set": {"contact": dict(contact)}},
                                                  upsert=True, return_document=ReturnDocument.AFTER)
        return profile_of(doc), list(doc.get("audiences", []))


# --- read models of other services' data ---------------------------------------------------------------

class People:
    """The directory's people as this service needs them: language, kind and roles, home branch, active;
    the e-mail address only to deliver e-mail."""

    def __init__(self, db: Database):
        self.collection = db[PEOPLE]

    def learn(self, person_id: str, fields: Mapping[str, Any], as_of: str) -> bool:
        return upsert_newer(self.collection, person_id, fields, as_of, guard={"erased": {"$ne": True}})

    def language(self, person_id: str) -> str | None:
        doc = self.collection.find_one({"_id": person_id}, {"lang": 1})
        return doc.get("lang") if doc else None

    def contact(self, person_id: str) -> dict | None:
        """Name, language and e-mail address of a person who can be reached by e-mail now; else None."""
        doc = self.collection.find_one({"_id": person_id}, {"email": 1, "lang": 1, "name": 1, "active": 1,
                                                            "erased": 1})
        if not doc or doc.get("erased") or doc.get("active") is False or not doc.get("email"):
            return None
        return doc

    def erase(self, person_id: str, as_of: str) -> None:
        """Keep only a tombstone, so that no later event brings the person's data back."""
        self.collection.replace_one({"_id": person_id}, {"erased": True, "as_of": as_of}, upsert=True)


class Ideas:
    """Titles, branches and authors of ideas, from the ideas service's events. An event's handling learns of
    its idea and then reads it: the idea as learnt is kept for that read (an instance serves one event)."""

    def __init__(self, db: Database):
        self.collection = db[IDEAS]
        self._learnt: dict[str, dict | None] = {}

    def learn(self, idea_id: str, fields: Mapping[str, Any], as_of: str) -> None:
        self._learnt[idea_id] = learn_newer(self.collection, idea_id, fields, as_of)

    def get(self, idea_id: str) -> dict | None:
        if idea_id in self._learnt:
            return self._learnt[idea_id]
        return self.collection.find_one({"_id": idea_id})

    def forget_author(self, person_id: str) -> None:
        self.collection.update_many({"author_id": person_id}, {"$set": {"author_id": None}})


# --- deliveries to make: e-mails, digests, webhook calls -----------------------------------------------

def attempt_entry(attempt: int, outcome: str, at: datetime, *, status_code: int | None = None,
                  error: str | None = None, duration_ms: float | None = None) -> dict[str, Any]:
    """One line of a delivery's log."""
    return {"attempt": attempt, "outcome": outcome, "at": at, "status_code": status_code,
            "error": error[:1000] if error else None,
            "duration_ms": round(duration_ms, 1) if duration_ms is not None else None}


class DeliveryQueue:
    """Documents to deliver, each claimed under a lease for one attempt, then settled by its claimer."""

    def __init__(self, collection: Collection):
        self.collection = collection

    def add(self, docs: list[dict]) -> int:
        return _insert_new(self.collection, docs)

    def due(self, now: datetime, limit: int) -> list[dict]:
        """Pending documents whose time has come (new, retried after a backoff, or whose claimer's lease ran out),
        oldest first; read whole, they are also what the attempt needs."""
        return list(self.collection.find({"status": PENDING, "due": {"$lte": now}}).sort("due", 1).limit(limit))

    def claim(self, doc: Mapping[str, Any], owner: str, now: datetime, until: datetime) -> dict | None:
        """Take `doc` for one attempt until `until`; None if someone else took it first. A claim left behind by a
        claimer that died (its `owner` still set) is logged as an interrupted attempt."""
        attempts = doc.get("attempts", 0)
        update: dict[str, Any] = {"$set": {"due": until, "owner": owner}, "$inc": {"attempts": 1}}
        if doc.get("owner"):
            update["$push"] = {"log": attempt_entry(attempts, INTERRUPTED, now, error=(
                "the attempt never reported back (its worker stopped); its outcome is unknown"))}
        return self.collection.find_one_and_update(
            {"_id": doc["_id"], "status": PENDING, "attempts": attempts, "due": {"$lte": now}}, update,
            return_document=ReturnDocument.AFTER)

    def add_claimed(self, docs: list[dict], owner: str, attempt_until: datetime) -> list[dict]:
        """Insert documents already claimed by `owner` for their first attempt, until `attempt_until` (as `claim`
        would have left them); returns those that were new, which are the owner's to attempt. If the owner
        dies first, they are due when the claim runs out, and the next claim logs the attempt as interrupted."""
        return _inserted(self.collection, [dict(doc, owner=owner, attempts=doc.get("attempts", 0) + 1,
                                                due=attempt_until) for doc in docs])

    def give_back(self, doc: Mapping[str, Any], owner: str, now: datetime) -> None:
        """Undo a claim whose attempt was never started (its owner is stopping): due now, the attempt not spent."""
        self.collection.update_one({"_id": doc["_id"], "owner": owner, "attempts": doc["attempts"]},
                                   {"$set": {"due": now}, "$unset": {"owner": ""}, "$inc": {"attempts": -1}})

    def settle(self, doc: Mapping[str, Any], owner: str, update: Mapping[str, Any],
               events: Iterable[Event] = ()) -> bool:
        """Record how the claimed attempt ended, with its events, in one write; False if the claim was lost
        (the lease ran out and another worker took the document)."""
        update = {op: dict(fields) for op, fields in update.items()}
        update.setdefault("$unset", {})["owner"] = ""
        return self.collection.update_one({"_id": doc["_id"], "owner": owner, "attempts": doc["attempts"]},
                                          update_with_events(update, events)).matched_count == 1


class Emails(DeliveryQueue):
    """E-mails to send (one per notification, or one digest per person and day) and their delivery records."""

    def __init__(self, db: Database):
        super().__init__(db[EMAILS])

    def held_before(self, stamp: str) -> list[str]:
        """Who has notifications held for a digest, of events before `stamp` (an id prefix)."""
        docs = self.collection.find({"status": HELD, "_id": {"$lt": stamp}}, {"recipient": 1})
        return sorted({d["recipient"] for d in docs})

    def open_digests(self, docs: list[dict]) -> int:
        return _insert_new(self.collection, docs)

    def take(self, recipient: str, stamp: str, digest: str) -> int:
        """Put a person's held notifications of events before `stamp` into their digest (each held one goes into
        exactly one digest: this one, or a later one if it arrives after)."""
        return self.collection.update_many({"recipient": recipient, "status": HELD, "_id": {"$lt": stamp}},
                                           {"$set": {"status": DIGESTED, "digest": digest}}).modified_count

    def forming(self) -> list[dict]:
        return list(self.collection.find({"status": FORMING}, {"day": 1}))

    def release(self, digest_ids: list[str], now: datetime) -> None:
        """Digests whose notifications are all in: ready to send."""
        for digest in digest_ids:
            self.collection.update_one({"_id": digest, "status": FORMING}, {"$set": {"status": PENDING, "due": now}})

    def items(self, digest: str) -> list[dict]:
        return list(self.collection.find({"digest": digest}).sort("_id", 1))

    def forget(self, recipient: str) -> None:
        """Erasure: what would still be sent to the person is cancelled, and what the e-mails said is removed."""
        for status in (PENDING, HELD, FORMING):
            self.collection.update_many({"recipient": recipient, "status": status},
                                        {"$set": {"status": CANCELLED}, "$unset": {"owner": ""}})
        self.collection.update_many({"recipient": recipient}, {"$unset": {"params": ""}})


class WebhookDeliveries(DeliveryQueue):
    """Calls to make to subscribed systems: one per (event, subscription), with the log of every attempt."""

    def __init__(self, db: Database):
        super().__init__(db[WEBHOOK_DELIVERIES])

    def page(self, webhook_id: str, *, after: str | None, limit: int, now: datetime,
             status: str | None = None) -> tuple[list[dict], bool]:
        return _newest_first(self.collection, webhook_id, after=after, limit=limit, now=now,
                             where={"status": status} if status else None)

    def get(self, webhook_id: str, delivery_id: str) -> dict | None:
        return self.collection.find_one({"_id": delivery_id, "webhook": webhook_id})

    def forget(self, person_id: str) -> None:
        """Erasure: events about the person (their name and e-mail address) still waiting are not sent, and the
        bodies kept of those sent are removed (they can no longer be replayed)."""
        self.collection.update_many({"person": person_id, "status": PENDING},
                                    {"$set": {"status": CANCELLED, "reason": "the person was erased"},
                                     "$unset": {"owner": ""}})
        self.collection.update_many({"person": person_id}, {"$unset": {"body": ""}})

    def replay(self, doc: Mapping[str, Any], by: str, now: datetime) -> dict | None:
        """Deliver a settled delivery again, with a fresh budget of attempts; None if it changed meanwhile."""
        return self.collection.find_one_and_update(
            {"_id": doc["_id"], "status": doc["status"], "attempts": doc.get("attempts", 0)},
            {"$set": {"status": PENDING, "due": now, "replayed_after": doc.get("attempts", 0),
                      "replayed_at": now, "replayed_by": by}, "$inc": {"replays": 1}},
            return_document=ReturnDocument.AFTER)


class Webhooks:
    """Subscriptions of other systems: where to POST which event types, and the secret that signs them.

    Every consumed event asks which subscriptions want it (2,000 follows cost 5 s more with a query each), and
    subscriptions are few and rarely change: the active ones are kept per process for ACTIVE_SECONDS. A change
    made in this process is seen at once, one made in another (the API's) within ACTIVE_SECONDS."""

    ACTIVE_SECONDS = 2.0
    _active: dict[tuple[int, str], tuple[float, list[dict]]] = {}

    def __init__(self, db: Database):
        self.collection = db[WEBHOOKS]
        self._key = (id(db.client), db.name)

    def add(self, doc: Mapping[str, Any]) -> None:
        self.collection.insert_one(dict(doc))
        self._active.pop(self._key, None)

    def get(self, webhook_id: str) -> dict | None:
        doc = self.collection.find_one({"_id": webhook_id})
        return None if doc is None or doc.get("deleted") else doc

    def subscribed(self, event_type: str) -> list[dict]:
        """The active subscriptions to an event type."""
        read_at, active = self._active.get(self._key, (0.0, []))
        if time.monotonic() - read_at > self.ACTIVE_SECONDS:
            active = [d for d in self.collection.find({"active": True}, {"secret": 0}) if not d.get("deleted")]
            self._active[self._key] = (time.monotonic(), active)
        return [d for d in active if event_type in d["event_types"]]

    def page(self, *, after: str | None, limit: int, created_by: str | None = None) -> tuple[list[dict], bool]:
        query: dict[str, Any] = {"created_by": created_by} if created_by else {}
        if after:
            query["_id"] = {"$gt": after}
        found = [d for d in self.collection.find(query).sort("_id", 1) if not d.get("deleted")][:limit + 1]
        return found[:limit], len(found) > limit

    def change(self, webhook_id: str, fields: Mapping[str, Any]) -> dict | None:
        doc = self.collection.find_one_and_update({"_id": webhook_id, "deleted": {"$ne": True}},
                                                  {"$set": dict(fields)}, return_document=ReturnDocument.AFTER)
        self._active.pop(self._key, None)
        return doc

    def remove(self, webhook_id: str, at: datetime) -> bool:
        """Delete a subscription: nothing more is sent; its deliveries stay (their events may be on their way)."""
        removed = self.collection.update_one(
            {"_id": webhook_id, "deleted": {"$ne": True}},
            {"$set": {"deleted": True, "active": False, "deleted_at": at}, "$unset": {"secret": ""}}).modified_count
        self._active.pop(self._key, None)
        return removed == 1


class DigestRuns:
    """Which days' digests were formed: one worker at a time forms a day's digests (a lease), once."""

    def __init__(self, db: Database):
        self.collection = db[DIGEST_RUNS]

    def done(self, day: str) -> bool:
        doc = self.collection.find_one({"_id": day}, {"done": 1})
        return bool(doc and doc.get("done"))

    def claim(self, day: str, owner: str, now: datetime, until: datetime) -> bool:
        try:
            self.collection.update_one({"_id": day, "done": False, "until": {"$lt": now}},
                                       {"$set": {"owner": owner, "until": until}}, upsert=True)
        except DuplicateKeyError:  # formed already, or another worker is forming it
            return False
        return True

    def finish(self, day: str, owner: str, at: datetime) -> None:
        self.collection.update_one({"_id": day, "owner": owner}, {"$set": {"done": True, "formed_at": at}})


def branch_names(db: Database, branch_id: str) -> dict | None:
    doc = db[BRANCHES].find_one({"_id": branch_id}, {"name": 1})
    return doc.get("name") if doc else None
