"""Ideas storage. An idea is one document carrying its own outbox; votes, follows, volunteers and flags are
one small document per (idea, person) whose `_id` is the pair, so "one per person" is the store's unique
`_id` and every toggle is a conditional single-document update: concurrent and repeated requests change a
count exactly once. Comments are documents of their own. Every idea write stamps `tick` (a half-second
bucket; `count_tick`, 10 seconds, for counters), which is how the catalog (the in-process browse and search index) finds what changed."""
from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence

from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.ideas.domain import Idea, StatusEntry, now
from shared.batching import GroupCommit
from shared.errors import Conflict, N_
from shared.events import Event
from shared.mongo import Index
from shared import outbox
from shared.outbox import MARK_STATEMENTS, with_events
from shared.readmodels import BRANCH_INDEXES

IDEAS, VOTES, FOLLOWS, VOLUNTEERS = "ideas", "votes", "follows", "volunteers"
COMMENTS, FLAGS, MODERATION, ADOPTIONS, PEOPLE = "comments", "flags", "moderation", "adoption_claims", "people"
OUTBOX_COLLECTIONS = [IDEAS, VOTES, FOLLOWS, VOLUNTEERS, COMMENTS, FLAGS]
TICK_SECONDS = 0.5  # small: a refresh reads every idea changed in the buckets of the last few seconds
# Counters (votes, followers, comments, volunteers) stamp `count_tick` instead: they change the most, and other
# processes may show them some seconds late, so they are read in coarser buckets, less often.
COUNT_TICK_SECONDS = 10
INDEXES = [
    *BRANCH_INDEXES,
    Index.on(IDEAS, "tick"),
    Index.on(IDEAS, "count_tick"),
    Index.on(IDEAS, "author_id"),
    Index.on(IDEAS, "merged_into"),
    Index.on(VOTES, "idea_id"),
    Index.on(VOTES, "person_id"),
    Index.on(FOLLOWS, "idea_id"),
    Index.on(FOLLOWS, "person_id"),
    Index.on(VOLUNTEERS, "idea_id"),
    Index.on(VOLUNTEERS, "person_id"),
    Index.on(COMMENTS, "idea_id"),
    Index.on(COMMENTS, "author_id"),
    Index.on(COMMENTS, "moved_from"),
    Index.on(MODERATION, "queue"),
    Index.on(PEOPLE, "kind"),
]
HIDDEN = {"_outbox": 0}


def tick(at: float | None = None) -> int:
    return int((at or time.time()) // TICK_SECONDS)


def count_tick(at: float | None = None) -> int:
    return int((at or time.time()) // COUNT_TICK_SECONDS)


# --- ideas ---------------------------------------------------------------------------------------------

def _entry_doc(e: StatusEntry) -> dict:
    return {"status": e.status, "at": e.at, "by": e.by, "by_name": e.by_name, "previous": e.previous,
            "reason_code": e.reason_code, "note": e.note}


def _idea_fields(idea: Idea) -> dict:
    return {"branch_id": idea.branch_id, "branch_key": idea.branch_key, "region_id": idea.region_id,
            "scope": idea.scope, "title": idea.title, "description": idea.description, "tags": list(idea.tags),
            "age_groups": list(idea.age_groups), "population_groups": list(idea.population_groups),
            "channel": idea.channel, "author_id": idea.author_id, "author_name": idea.author_name,
            "entered_by": idea.entered_by, "consent_recorded": idea.consent_recorded, "status": idea.status,
            "status_since": idea.status_since, "history": [_entry_doc(e) for e in idea.history],
            "durations": dict(idea.durations), "merged_into": idea.merged_into,
            "adopted_from": idea.adopted_from, "adopted_from_branch": idea.adopted_from_branch,
            "owner_id": idea.owner_id, "hidden": idea.hidden, "created_at": idea.created_at,
            "edited_at": idea.edited_at, "version": idea.version}


def idea_of(doc: dict) -> Idea:
    return Idea(id=doc["_id"], branch_id=doc.get("branch_id"), region_id=doc.get("region_id"), title=doc["title"],
                description=doc["description"], tags=tuple(doc.get("tags", ())),
                age_groups=tuple(doc.get("age_groups", ())), population_groups=tuple(doc.get("population_groups", ())),
                channel=doc.get("channel", "web"), author_id=doc.get("author_id"),
                author_name=doc.get("author_name", ""), entered_by=doc.get("entered_by"),
                consent_recorded=doc.get("consent_recorded", False), status=doc["status"],
                status_since=doc["status_since"],
                history=tuple(StatusEntry(**e) for e in doc.get("history", ())),
                durations=dict(doc.get("durations", {})), merged_into=doc.get("merged_into"),
                adopted_from=doc.get("adopted_from"), adopted_from_branch=doc.get("adopted_from_branch"),
                owner_id=doc.get("owner_id"), hidden=doc.get("hidden", False), created_at=doc["created_at"],
                edited_at=doc.get("edited_at"), version=doc.get("version", 1))


COUNTERS = ("votes", "followers", "comments", "volunteers", "flags")


class IdeaRepository:
    def __init__(self, db: Database):
        self.collection = db[IDEAS]

    def add(self, idea: Idea, events: Iterable[Event]) -> None:
        doc = {"_id": idea.id, **_idea_fields(idea), **{c: 0 for c in COUNTERS}, "spread": [],
               "merged_from": [], "updated_at": idea.created_at, "tick": tick()}
        outbox.insert_one(self.collection, doc, events)

    def get_doc(self, idea_id: str) -> dict | None:
        return self.collection.find_one({"_id": idea_id}, HIDDEN)

    def save(self, idea: Idea, events: Iterable[Event], *, extra: dict | None = None,
             push: dict | None = None) -> dict:
        """Store a changed idea if nobody changed it meanwhile (optimistic concurrency on version); returns
        the fields it set."""
        fields = _idea_fields(idea)
        fields.update(extra or {}, updated_at=now(), tick=tick())
        update: dict[str, Any] = {"$set": fields}
        if push:
            update["$push"] = push
        result = outbox.update_one(self.collection, {"_id": idea.id, "version": idea.version - 1}, update, events)
        if not result.matched_count:
            raise Conflict(N_("The idea was changed by someone else; reload and try again."))
        return fields

    def bump_many(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        """bump() of many ideas (idea id -> counters to add), a few updates per command: the store holds a
        connection per statement until the command ends (docs/store-backend.md)."""
        stamp = count_tick()
        updates = [UpdateOne({"_id": idea_id}, {"$inc": dict(by), "$set": {"count_tick": stamp}})
                   for idea_id, by in counts.items() if any(by.values())]
        for start in range(0, len(updates), MARK_STATEMENTS):
            self.collection.bulk_write(updates[start:start + MARK_STATEMENTS], ordered=False)

    def bump(self, idea_id: str, events: Iterable[Event] = (), **counts: int) -> None:
        """Add to an idea's counters (and append events). A plain update: findAndModify costs the store about
        twice as much, and FerretDB's takes no projection."""
        outbox.update_one(self.collection, {"_id": idea_id}, {"$inc": counts, "$set": {"count_tick": count_tick()}},
                          events)

    def set_counts(self, idea_id: str, **counts: int) -> None:
        self.collection.update_one({"_id": idea_id}, {"$set": dict(counts, tick=tick())})

    def add_to_list(self, idea_id: str, name: str, value: Any, events: Iterable[Event] = ()) -> None:
        outbox.update_one(self.collection, {"_id": idea_id}, {"$push": {name: value}, "$set": {"tick": tick()}},
                          events)

    def remove_from_list(self, idea_id: str, name: str, value: Any) -> None:
        self.collection.update_one({"_id": idea_id}, {"$pullAll": {name: [value]}, "$set": {"tick": tick()}})

    def by_author(self, person_id: str) -> list[dict]:
        return list(self.collection.find({"author_id": person_id}, {"_id": 1}))

    def anonymize_author(self, idea_id: str, name: str) -> None:
        self.collection.update_one({"_id": idea_id}, {"$set": {"author_id": None, "author_name": name,
                                                               "tick": tick()}})

    def anonymize_history(self, person_id: str, name: str) -> None:
        """Status history entries a person made (or, as the author, started) lose who it was. A dotted-path
        query scans the collection: acceptable for an erasure, which is rare."""
        for doc in self.collection.find({"history.by": person_id}, {"history": 1}):
            history = [dict(e, by=None, by_name=name) if e.get("by") == person_id else e for e in doc["history"]]
            self.collection.update_one({"_id": doc["_id"]}, {"$set": {"history": history, "tick": tick()}})

    def changed_since(self, ticks: Iterable[int], projection: dict, field: str = "tick") -> list[dict]:
        """The ideas stamped with any of these buckets of `field` (tick, or count_tick for counters)."""
        found: dict[str, dict] = {}
        for t in ticks:
            for doc in self.collection.find({field: t}, projection):
                found[doc["_id"]] = doc
        return list(found.values())

    def card(self, idea_id: str, projection: dict) -> dict | None:
        return self.collection.find_one({"_id": idea_id}, projection)

    def all_cards(self, projection: dict, batch: int = 2000) -> Iterable[dict]:
        return self.collection.find({}, projection).batch_size(batch)


# --- votes, written together ---------------------------------------------------------------------------

class Ballot:
    """The votes of one web process, written together (shared.batching.GroupCommit): the votes of all requests
    waiting at that moment in one insert, the follows they bring in another, the ideas' counters a few per
    command. Each vote stays its own document with its own event; a crash between the writes leaves a counter
    short, which `maintenance recount` repairs."""

    def __init__(self, db: Database):
        self.votes, self.follows, self.ideas = Memberships(db, VOTES), Memberships(db, FOLLOWS), IdeaRepository(db)
        self._commit = GroupCommit(self._write)

    def cast(self, idea_id: str, person_id: str, vote_events: Iterable[Event],
             follow_events: Iterable[Event]) -> tuple[bool, bool]:
        """Whether this request cast the vote (not a repeat), and whether the voter now follows the idea anew."""
        return self._commit.submit((idea_id, person_id, list(vote_events), list(follow_events)))

    def _write(self, batch: Sequence[tuple[str, str, list[Event], list[Event]]]) -> list[tuple[bool, bool]]:
        voted = self.votes.join_many([(idea_id, person, events) for idea_id, person, events, _ in batch])
        cast = [item for item, new in zip(batch, voted) if new]
        followed = iter(self.follows.join_many([(idea_id, person, events) for idea_id, person, _, events in cast]))
        counts: dict[str, dict[str, int]] = {}
        results = []
        for (idea_id, _, _, _), new in zip(batch, voted):
            follows = next(followed) if new else False
            if new:
                count = counts.setdefault(idea_id, {"votes": 0, "followers": 0})
                count["votes"] += 1
                count["followers"] += follows
            results.append((new, follows))
        self.ideas.bump_many(counts)
        return results


# --- one-per-person memberships: votes, follows, volunteers --------------------------------------------

def pair_id(idea_id: str, person_id: str) -> str:
    return f"{idea_id}:{person_id}"


class Memberships:
    """Supporters, followers or volunteers: a document per (idea, person) with an `active` flag. `join` and
    `leave` return True only for the one request that actually changed the state."""

    def __init__(self, db: Database, name: str):
        self.collection = db[name]

    def join(self, idea_id: str, person_id: str, events: Iterable[Event] = (), **fields) -> bool:
        events = list(events)
        doc = {"_id": pair_id(idea_id, person_id), "idea_id": idea_id, "person_id": person_id, "active": True,
               "at": now(), **fields}
        try:
            outbox.insert_one(self.collection, doc, events)
            return True
        except DuplicateKeyError:
            return self._rejoin(doc["_id"], doc["at"], events, fields)

    def join_many(self, joins: Sequence[tuple[str, str, Iterable[Event]]]) -> list[bool]:
        """join() for many (idea, person, events) at once: one insert for all, then the rare rejoin one by one
        (a pair seen before, or twice in `joins`). Answers, per join, whether it changed the state."""
        if not joins:
            return []
        at = now()
        docs = [with_events({"_id": pair_id(idea_id, person_id), "idea_id": idea_id, "person_id": person_id,
                             "active": True, "at": at}, events, at_once=True) for idea_id, person_id, events in joins]
        taken = [True] * len(docs)
        try:
            self.collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != 11000 for e in errors):
                raise
            for e in errors:
                taken[e["index"]] = False
        outbox.publish(self.collection, [doc for doc, new in zip(docs, taken) if new])
        for n, (idea_id, person_id, events) in enumerate(joins):
            if not taken[n]:
                taken[n] = self._rejoin(docs[n]["_id"], at, list(events), {})
        return taken

    def _rejoin(self, doc_id: str, at: datetime, events: list[Event], fields: dict) -> bool:
        result = outbox.update_one(self.collection, {"_id": doc_id, "active": False},
                                   {"$set": {"active": True, "at": at, **fields}, "$unset": {"via": ""}}, events)
        return bool(result.modified_count)

    def leave(self, idea_id: str, person_id: str, events: Iterable[Event] = ()) -> bool:
        result = outbox.update_one(self.collection, {"_id": pair_id(idea_id, person_id), "active": True},
                                   {"$set": {"active": False}}, events)
        return bool(result.modified_count)

    def has(self, idea_id: str, person_id: str) -> bool:
        return self.collection.find_one({"_id": pair_id(idea_id, person_id), "active": True}, {"_id": 1}) is not None

    def count(self, idea_id: str) -> int:
        return self.collection.count_documents({"idea_id": idea_id, "active": True})

    def active_of(self, idea_id: str, limit: int = 0) -> list[dict]:
        return list(self.collection.find({"idea_id": idea_id, "active": True}, HIDDEN).limit(limit))

    def of_person(self, person_id: str) -> list[dict]:
        return list(self.collection.find({"person_id": person_id}, HIDDEN))

    # merge support
    def move(self, source: str, target: str, make_events=None) -> int:
        """Copy the source idea's active members to the target (nobody twice) and park them on the source;
        returns how many became members of the target."""
        moved = 0
        members = self.active_of(source)
        for start in range(0, len(members), 500):
            docs = []
            for m in members[start:start + 500]:
                doc = {"_id": pair_id(target, m["person_id"]), "idea_id": target, "person_id": m["person_id"],
                       "active": True, "at": m["at"], "via": source}
                docs.append(with_events(doc, make_events(m["person_id"]) if make_events else ()))
            try:
                moved += len(self.collection.insert_many(docs, ordered=False).inserted_ids)
            except BulkWriteError as exc:
                moved += exc.details.get("nInserted", 0)
        self.collection.update_many({"idea_id": source, "active": True},
                                    {"$set": {"active": False, "moved_to": target}})
        return moved

    def unmove(self, source: str, target: str, make_events=None) -> None:
        """Undo move(): the members the merge added to the target leave it; the source's come back."""
        for doc in list(self.collection.find({"idea_id": target, "via": source}, {"person_id": 1, "active": 1})):
            if make_events and doc.get("active"):
                outbox.update_one(self.collection, {"_id": doc["_id"], "active": True},
                                  {"$set": {"active": False}, "$unset": {"via": ""}}, make_events(doc["person_id"]))
            else:
                self.collection.delete_one({"_id": doc["_id"], "via": source})
        self.collection.update_many({"idea_id": source, "moved_to": target},
                                    {"$set": {"active": True}, "$unset": {"moved_to": ""}})

    def anonymize(self, person_id: str, alias: str) -> list[str]:
        """Keep a person's active memberships counted under an alias; returns the ideas concerned."""
        ideas = []
        for doc in self.of_person(person_id):
            if doc.get("active"):
                replacement = {k: v for k, v in doc.items() if k not in ("_id", "person_id", "_outbox_pending")}
                try:
                    self.collection.insert_one(dict(replacement, _id=pair_id(doc["idea_id"], alias),
                                                    person_id=alias))
                except DuplicateKeyError:
                    pass
            self.collection.delete_one({"_id": doc["_id"]})
            ideas.append(doc["idea_id"])
        return ideas

    def remove_person(self, person_id: str) -> list[str]:
        ideas = []
        for doc in self.of_person(person_id):
            self.collection.delete_one({"_id": doc["_id"]})
            if doc.get("active"):
                ideas.append(doc["idea_id"])
        return ideas


# --- comments ------------------------------------------------------------------------------------------

class CommentRepository:
    def __init__(self, db: Database):
        self.collection = db[COMMENTS]

    def add(self, doc: dict, events: Iterable[Event]) -> None:
        outbox.insert_one(self.collection, doc, events)

    def get(self, comment_id: str) -> dict | None:
        return self.collection.find_one({"_id": comment_id}, HIDDEN)

    def of_idea(self, idea_id: str) -> list[dict]:
        return sorted(self.collection.find({"idea_id": idea_id}, HIDDEN), key=lambda d: d["created_at"])

    def edit(self, comment_id: str, version: int, text: str, at: datetime, events: Iterable[Event]) -> None:
        result = outbox.update_one(self.collection, {"_id": comment_id, "version": version},
                                   {"$set": {"text": text, "edited_at": at, "version": version + 1}}, events)
        if not result.matched_count:
            raise Conflict(N_("The comment was changed by someone else; reload and try again."))

    def set_hidden(self, comment_id: str, hidden: bool, reason: str | None) -> None:
        self.collection.update_one({"_id": comment_id}, {"$set": {"hidden": hidden, "hidden_reason": reason}})

    def move(self, source: str, target: str) -> int:
        return self.collection.update_many({"idea_id": source},
                                           {"$set": {"idea_id": target, "moved_from": source}}).modified_count

    def unmove(self, source: str) -> int:
        return self.collection.update_many({"moved_from": source},
                                           {"$set": {"idea_id": source}, "$unset": {"moved_from": ""}}).modified_count

    def anonymize_author(self, person_id: str, name: str) -> None:
        self.collection.update_many({"author_id": person_id}, {"$set": {"author_id": None, "author_name": name}})


# --- flags and the moderation queue --------------------------------------------------------------------

def queue_key(branch_key: str) -> str:
    return f"{branch_key}:open"


class Moderation:
    def __init__(self, db: Database):
        self.flags = db[FLAGS]
        self.queue = db[MODERATION]

    def flag(self, *, target_id: str, kind: str, idea_id: str, branch_key: str, person_id: str, reason: str,
             at: datetime, events: Iterable[Event] = ()) -> bool:
        """A person's flag on an idea or comment (carrying its event); the first flag puts the target in its
        branch's queue."""
        try:
            outbox.insert_one(self.flags, {"_id": pair_id(target_id, person_id), "target_id": target_id,
                                           "idea_id": idea_id, "person_id": person_id, "reason": reason, "at": at},
                              events)
        except DuplicateKeyError:
            return False
        self.queue.update_one({"_id": target_id}, {
            "$setOnInsert": {"kind": kind, "idea_id": idea_id, "branch_key": branch_key, "first_at": at},
            "$set": {"queue": queue_key(branch_key), "last_at": at}, "$inc": {"flags": 1},
            "$push": {"reasons": reason}}, upsert=True)
        return True

    def waiting(self, branch_key: str) -> list[dict]:
        return sorted(self.queue.find({"queue": queue_key(branch_key)}), key=lambda d: d["first_at"])

    def get(self, target_id: str) -> dict | None:
        return self.queue.find_one({"_id": target_id})

    def decide(self, target_id: str, decision: str, reason: str, by: str, at: datetime) -> None:
        self.queue.update_one({"_id": target_id}, {
            "$set": {"queue": "decided", "decision": decision, "decision_reason": reason, "decided_by": by,
                     "decided_at": at},
            "$setOnInsert": {"flags": 0}}, upsert=True)


# --- adoptions -----------------------------------------------------------------------------------------

class AdoptionClaims:
    """One adoption of an idea per branch: the claim is an insert under (source idea, branch)."""

    def __init__(self, db: Database):
        self.collection = db[ADOPTIONS]

    def claim(self, source_id: str, branch_id: str, idea_id: str) -> None:
        try:
            self.collection.insert_one({"_id": pair_id(source_id, branch_id), "idea_id": idea_id})
        except DuplicateKeyError:
            raise Conflict(N_("This branch has adopted the idea already.")) from None

    def release(self, source_id: str, branch_id: str) -> None:
        self.collection.delete_one({"_id": pair_id(source_id, branch_id)})


# --- people (a read model of the directory's) ----------------------------------------------------------

class People:
    def __init__(self, db: Database):
        self.collection = db[PEOPLE]

    def get(self, person_id: str) -> dict | None:
        return self.collection.find_one({"_id": person_id})

    def works_at(self, person_id: str, branch_key: str) -> bool:
        """An active staff member of the branch (for organization-wide ideas: an org admin)."""
        person = self.get(person_id)
        if person is None or person.get("kind") != "staff" or not person.get("active", True):
            return False
        if branch_key == "org":
            return "org_admin" in person.get("org_roles", [])
        return branch_key in person.get("branch_roles", {}) or "org_admin" in person.get("org_roles", [])

    def staff_of(self, branch_key: str) -> list[dict]:
        """Staff who work at a branch (or, for organization-wide ideas, org admins), active only."""
        people = self.collection.find({"kind": "staff"})
        if branch_key == "org":
            return [p for p in people if p.get("active", True) and "org_admin" in p.get("org_roles", [])]
        return [p for p in people if p.get("active", True) and branch_key in p.get("branch_roles", {})]
