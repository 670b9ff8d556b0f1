"""Feedback storage (FerretDB: only `{field: value}` equalities are served from an index; see docs/store-backend.md).

- `surveys`: a survey is one document carrying its own outbox (survey.opened, survey.closed). `public_token`
  (the walk-in link) and `branch_key` are indexed equalities.
- `responses`: survey responses and quick feedback, one document each, carrying its outbox (feedback.submitted,
  feedback.replied) and its replies. "One response per person per survey" is a unique index on `claim`:
  `<survey>:<person>` when identified, `<survey>:<keyed hash of the person>` when the survey is anonymous (the
  key, a per-survey salt, is dropped when the survey closes; then nobody can tell whose the answers are). An
  erasure renames the claim to a random one: the response stays, counted, and belongs to nobody.
- `insights`: the counters (insights.py): a document per scope and month of segment cells, a results document
  per survey, the idea funnel, lead-time histograms, participation and registered participants.
- `insight_people`, `participation_claims`: one tiny document per (scope, month, kind, pattern, person key):
  the unique insert that lets a people counter grow only for a person not seen there before. `segments`: a
  person's age and population group frozen for a month.
- `themes`: one small document per (scope, month, group, term) of the free text's keywords and phrases:
  responses that raised it and a capped set of the first 5 distinct people's hashed keys (insights.py).
- `people`, `ideas`, `idea_members`, `invites`: read models of the directory's people and the ideas (members in
  64 chunks of id lists per idea; outcome survey invitations in 64 chunks per survey).
"""
from __future__ import annotations

import hashlib
import secrets
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Iterator, Mapping

from pymongo import ReturnDocument, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.feedback import comparison, domain, insights
from services.feedback.domain import Survey, now
from services.feedback.insights import Segment
from shared.errors import Conflict, N_
from shared.events import Event
from shared.mongo import Index
from shared.outbox import update_with_events, with_events
from shared.readmodels import BRANCH_INDEXES, BRANCHES

SURVEYS, RESPONSES, INSIGHTS, PEOPLE_CLAIMS = "surveys", "responses", "insights", "insight_people"
PARTICIPATION, SEGMENTS, PEOPLE, IDEAS = "participation_claims", "segments", "people", "ideas"
MEMBERS, INVITES, THEMES = "idea_members", "invites", "themes"
VOLUNTEERS = "volunteers"
OUTBOX_COLLECTIONS = [SURVEYS, RESPONSES]
INDEXES = [
    *BRANCH_INDEXES,
    Index.on(SURVEYS, "branch_key"),
    Index.on(SURVEYS, "public_token"),
    Index.on(SURVEYS, "status"),
    Index.on(RESPONSES, "claim", unique=True),
    Index.on(RESPONSES, "survey_id"),
    Index.on(RESPONSES, "list_key"),
    Index.on(RESPONSES, "person_id"),
    Index.on(RESPONSES, "uncounted", sparse=True),
    Index.on(INSIGHTS, "kind"),
    Index.on(PEOPLE_CLAIMS, "pk"),
    Index.on(PEOPLE_CLAIMS, "sm"),
    Index.on(PARTICIPATION, "pk"),
    Index.on(SEGMENTS, "pk"),
    Index.on(PEOPLE, "kind"),
    Index.on(MEMBERS, "idea_id"),
    Index.on(INVITES, "survey_id"),
    Index.on(THEMES, "tl"),
    Index.on(THEMES, "k"),
    Index.on(IDEAS, "branch_id"),
    Index.on(IDEAS, "adopted_from"),
    Index.on(VOLUNTEERS, "branch_id"),
    Index.on(VOLUNTEERS, "person_id"),
]
DUPLICATE_KEY = 11000
BULK = 5  # statements per update command (FerretDB holds a connection per statement; docs/store-backend.md)
CHUNKS = 64
HIDDEN = {"_outbox": 0, "_outbox_pending": 0, "salt": 0}


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def person_key(person_id: str) -> str:
    """The key a person is counted under in the insights: not their id, so counters and claims do not name
    anyone (it is a plain hash: whoever holds a person's id can recompute it, which an erasure accounts for)."""
    return _digest(f"cocreate-feedback|{person_id}")[:24]


def theme_key(doc: Mapping) -> str:
    """Whom a response's themes are counted under, hashed: its identified respondent's person key; the response
    itself when anonymous (an anonymous answer's words are never stored with its person) or a walk-in's."""
    who = person_key(doc["person_id"]) if doc.get("person_id") and not doc.get("anonymous") else f"r|{doc['_id']}"
    return _digest(f"theme|{who}")[:16]


def chunk_of(person_id: str) -> int:
    return int(_digest(person_id)[:8], 16) % CHUNKS


def insert_new(collection: Collection, docs: list[dict]) -> set:
    """Insert what is not stored yet; returns the `_id`s that were new (a duplicate means "seen before")."""
    if not docs:
        return set()
    try:
        collection.insert_many(docs, ordered=False)
        return {d["_id"] for d in docs}
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        refused = {e["index"] for e in errors}
        return {d["_id"] for i, d in enumerate(docs) if i not in refused}


def bulk_update(collection: Collection, ops: list[UpdateOne]) -> None:
    for start in range(0, len(ops), BULK):
        collection.bulk_write(ops[start:start + BULK], ordered=False)


# --- surveys -----------------------------------------------------------------------------------------------

def inc_ops(updates: Iterable[tuple[str, Mapping[str, int], Mapping[str, Any]]]) -> list[UpdateOne]:
    """Upserting $incs of (document id, {field: delta}, fields set when the document is created)."""
    return [UpdateOne({"_id": doc_id}, {"$inc": dict(inc), "$setOnInsert": dict(on_insert)}, upsert=True)
            for doc_id, inc, on_insert in updates if inc]


def _survey_fields(s: Survey) -> dict:
    return {"kind": s.kind, "scope": s.scope, "branch_id": s.branch_id, "branch_key": s.branch_key,
            "region_id": s.region_id, "program": s.program, "title": dict(s.title), "intro": dict(s.intro),
            "questions": [q.as_dict() for q in s.questions], "opens_at": s.opens_at, "closes_at": s.closes_at,
            "anonymous": s.anonymous, "status": s.status, "idea_id": s.idea_id, "created_by": s.created_by,
            "created_at": s.created_at, "version": s.version}


def survey_of(doc: Mapping) -> Survey:
    return Survey(id=doc["_id"], kind=doc["kind"], branch_id=doc.get("branch_id"), region_id=doc.get("region_id"),
                  program=doc.get("program"), title=dict(doc["title"]), intro=dict(doc.get("intro") or {}),
                  questions=tuple(domain.question_of(q) for q in doc["questions"]), opens_at=doc["opens_at"],
                  closes_at=doc["closes_at"], anonymous=doc.get("anonymous", False), status=doc["status"],
                  idea_id=doc.get("idea_id"), created_by=doc.get("created_by"), created_at=doc["created_at"],
                  version=doc.get("version", 1))


class SurveyRepository:
    def __init__(self, db: Database):
        self.collection = db[SURVEYS]

    def add(self, survey: Survey, events: Iterable[Event], **extra) -> bool:
        """Store a new survey with its events; False if a survey with its id exists (an outcome survey opened
        before: its id comes from the idea's)."""
        doc = {"_id": survey.id, **_survey_fields(survey), "public_token": secrets.token_urlsafe(16),
               "updated_at": now(), **extra}
        if survey.anonymous:
            doc["salt"] = secrets.token_hex(16)
        try:
            self.collection.insert_one(with_events(doc, events))
            return True
        except DuplicateKeyError:
            return False

    def set_invited(self, survey_id: str, invited: int) -> None:
        self.collection.update_one({"_id": survey_id}, {"$set": {"invited": invited}})

    def get_doc(self, survey_id: str, *, with_salt: bool = False) -> dict | None:
        return self.collection.find_one({"_id": survey_id}, {"_outbox": 0, "_outbox_pending": 0} if with_salt
                                        else HIDDEN)

    def by_token(self, token: str) -> dict | None:
        return self.collection.find_one({"public_token": token}, HIDDEN)

    def of_branch(self, branch_key: str) -> list[dict]:
        return list(self.collection.find({"branch_key": branch_key}, HIDDEN))

    def with_status(self, status: str, projection: dict | None = None) -> list[dict]:
        return list(self.collection.find({"status": status}, projection or HIDDEN))

    def save(self, survey: Survey, events: Iterable[Event], *, unset: Iterable[str] = ()) -> None:
        """Store a changed survey if nobody changed it meanwhile (optimistic concurrency on the version)."""
        update: dict[str, Any] = {"$set": dict(_survey_fields(survey), updated_at=now())}
        if unset:
            update["$unset"] = {name: "" for name in unset}
        result = self.collection.update_one({"_id": survey.id, "version": survey.version - 1},
                                            update_with_events(update, events))
        if not result.matched_count:
            raise Conflict(N_("The survey was changed by someone else; reload and try again."))


# --- responses ---------------------------------------------------------------------------------------------

def anonymous_claim(survey_id: str, salt: str, person_id: str) -> str:
    return f"{survey_id}:{_digest(f'{salt}|{person_id}')[:32]}"


class ResponseRepository:
    def __init__(self, db: Database):
        self.collection = db[RESPONSES]

    def add(self, doc: dict, events: Iterable[Event]) -> None:
        """Store a response with its event; a second response under the same claim is refused (409)."""
        try:
            self.collection.insert_one(with_events(doc, events))
        except DuplicateKeyError:
            raise Conflict(N_("You have answered this survey already.")) from None

    def get(self, response_id: str) -> dict | None:
        return self.collection.find_one({"_id": response_id}, HIDDEN)

    def listed(self, list_key: str) -> list[dict]:
        return list(self.collection.find({"list_key": list_key}, HIDDEN))

    def of_survey(self, survey_id: str, projection: dict | None = None) -> Iterator[dict]:
        return self.collection.find({"survey_id": survey_id}, projection or HIDDEN)

    def uncounted(self, limit: int = 500) -> list[dict]:
        return list(self.collection.find({"uncounted": True}).limit(limit))

    def all(self, projection: dict) -> Iterator[dict]:
        return self.collection.find({}, projection).batch_size(2000)

    def add_reply(self, response_id: str, reply: dict, events: Iterable[Event]) -> None:
        self.collection.update_one({"_id": response_id}, update_with_events({"$push": {"replies": reply}}, events))

    def of_person(self, person_id: str) -> list[dict]:
        return list(self.collection.find({"person_id": person_id}, {"_id": 1, "answers": 1, "kind": 1}))

    def anonymize(self, response_id: str, answers: list[dict]) -> None:
        """An erased respondent's response stays counted and belongs to nobody: the claim becomes random, the
        person and their free text go, and the listing no longer shows it."""
        self.collection.update_one({"_id": response_id}, {
            "$set": {"claim": f"erased:{secrets.token_hex(16)}", "answers": answers, "anonymous": True,
                     "erased": True},
            "$unset": {"person_id": "", "list_key": "", "pk": ""}})

    def unlink_claim(self, claim: str) -> None:
        self.collection.update_one({"claim": claim}, {"$set": {"claim": f"erased:{secrets.token_hex(16)}"}})


# --- the people read model and month segments -----------------------------------------------------------

class People:
    """The directory's people as feedback needs them: kind and roles, home branch, consented age and population
    group, active. Erased people leave a tombstone, so a late event brings nothing back."""

    def __init__(self, db: Database):
        self.collection = db[PEOPLE]

    def get(self, person_id: str) -> dict | None:
        return self.collection.find_one({"_id": person_id})

    def learn(self, person_id: str, fields: Mapping[str, Any], as_of: str) -> tuple[bool, dict | None]:
        """Apply an event's state unless the stored one is newer or erased; returns (applied, state before)."""
        before = self.collection.find_one_and_update(
            {"_id": person_id, "as_of": {"$lt": as_of}, "erased": {"$ne": True}},
            {"$set": dict(fields, as_of=as_of)}, return_document=ReturnDocument.BEFORE)
        if before is not None:
            return True, before
        try:
            self.collection.insert_one(dict(fields, _id=person_id, as_of=as_of))
            return True, None
        except DuplicateKeyError:
            return False, None

    def erase(self, person_id: str, as_of: str) -> dict | None:
        """Keep only a tombstone; returns what was known before."""
        return self.collection.find_one_and_replace({"_id": person_id}, {"erased": True, "as_of": as_of},
                                                    upsert=True, return_document=ReturnDocument.BEFORE)

    def staff_ids(self) -> list[dict]:
        return list(self.collection.find({"kind": "staff"}, {"branch_roles": 1, "org_roles": 1}))


class Segments:
    """A person's age and population group as of their first feedback of a month: every response of theirs
    that month counts under it, which keeps people counters exact when a consent changes mid-month."""

    def __init__(self, db: Database):
        self.collection = db[SEGMENTS]

    def freeze(self, pk: str, month: str, age: str | None, population: str | None) -> tuple[str | None, str | None]:
        doc_id = f"{pk}|{month}"
        try:
            self.collection.insert_one({"_id": doc_id, "pk": pk, "a": age, "p": population})
            return age, population
        except DuplicateKeyError:
            doc = self.collection.find_one({"_id": doc_id}) or {}
            return doc.get("a"), doc.get("p")

    def forget(self, pk: str) -> None:
        self.collection.delete_many({"pk": pk})


# --- insights ----------------------------------------------------------------------------------------------

def _month_end(month: str) -> datetime:
    year, mon = int(month[:4]), int(month[4:])
    return datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=timezone.utc)


class CubeCache:
    """Month documents of closed months, kept in the process for a while. Responses are stamped with the month
    they were submitted in, so a month's document stops changing once the month is over (an hour of grace for
    late counting); only a rebuild changes it later, and the cache forgets within `seconds`."""

    def __init__(self, seconds: float = 600.0):
        self.seconds = seconds
        self._docs: dict[str, tuple[float, dict | None]] = {}
        self._lock = threading.Lock()

    def usable_for(self, month: str, at: datetime) -> bool:
        return self.seconds > 0 and at >= _month_end(month) + timedelta(hours=1)

    def get(self, doc_id: str, max_age: float | None = None) -> tuple[bool, Any]:
        with self._lock:
            hit = self._docs.get(doc_id)
        if hit and time.monotonic() - hit[0] < (self.seconds if max_age is None else min(max_age, self.seconds)):
            return True, hit[1]
        return False, None

    def clear(self) -> None:
        with self._lock:
            self._docs.clear()

    def put(self, doc_id: str, doc: Any) -> None:
        with self._lock:
            if len(self._docs) > 20_000:
                self._docs.clear()
            self._docs[doc_id] = (time.monotonic(), doc)


class Insights:
    def __init__(self, db: Database, cache: CubeCache | None = None):
        self.db = db
        self.collection = db[INSIGHTS]
        self.claims = db[PEOPLE_CLAIMS]
        self.responses = db[RESPONSES]
        self.cache = cache
        self.themes = Themes(db, cache)
        self.comparison = comparison.BranchComparison(self.collection, cache)

    # --- counting a response -----------------------------------------------------------------------------
    def count(self, doc: Mapping) -> bool:
        """Add a response to the insights, once. The response is first marked counted by a conditional update
        (one process wins it, and a redelivered event finds it done); then the people claims are inserted, and
        each document of each scope (summary, six pair tables, cube: insights.py) gets ONE $inc: the figures,
        and the people counters of the claims that were new; the survey's results come in the same round trips
        (five statements each); then the themes of its free text (Themes.add). A crash after the mark and before
        the $incs leaves figures short, never doubled:
        `maintenance rebuild-insights` recounts."""
        person_key_ = doc.get("pk") or (person_key(doc["person_id"]) if doc.get("person_id")
                                        else f"w{doc['_id']}")
        claimed = self.responses.update_one({"_id": doc["_id"], "uncounted": True},
                                            {"$unset": {"uncounted": "", "pk": ""}, "$set": {"counted_at": now()}})
        if not claimed.modified_count:
            return False
        segment = Segment.of(doc["segment"])
        kind, month = doc["kind"], segment.month
        a, p = segment.age_group, segment.population_group
        answers = doc.get("answers", [])
        scopes = insights.scopes_of(segment)
        claims = [{"_id": f"{scope}|{month}|{kind}|{pattern}|{person_key_}", "pk": person_key_,
                   "sm": f"{scope}|{month}", "kind": kind,
                   "a": insights.part(a), "p": insights.part(p), "pattern": pattern}
                  for scope in scopes for pattern in insights.people_patterns(segment)]
        new = insert_new(self.claims, claims)
        figures = insights.figure_increments(kind, [(x["type"], x["value"]) for x in answers])
        ops = []
        for scope in scopes:
            updates = insights.figure_updates(segment, figures)
            for pattern in insights.people_patterns(segment):
                if f"{scope}|{month}|{kind}|{pattern}|{person_key_}" in new:
                    insights.merge_updates(updates, insights.people_updates(a, p, pattern, kind))
            ops += [UpdateOne({"_id": insights.target_id(scope, month, target)},
                              {"$inc": inc, "$setOnInsert": insights.target_fields(scope, month, target)},
                              upsert=True) for target, inc in updates.items()]
        if segment.branch_id:  # the organization's comparison of branches
            first = f"br:{segment.branch_id}|{month}|{kind}|{insights.ANY}|{insights.ANY}|{person_key_}" in new
            ops += inc_ops([comparison.response_update(segment.branch_id, month, figures,
                                                                     kind if first else None)])
        if doc.get("survey_id"):
            inc = insights.survey_increments([(x["question_id"], x["type"], x["value"]) for x in answers], a, p)
            ops.append(UpdateOne({"_id": f"s|{doc['survey_id']}"},
                                 {"$inc": inc, "$setOnInsert": {"kind": "results", "survey_id": doc["survey_id"]}},
                                 upsert=True))
        bulk_update(self.collection, ops)
        self.themes.add(scopes, month, insights.theme_groups(segment), insights.theme_terms(answers), theme_key(doc))
        return True

    # --- reading -----------------------------------------------------------------------------------------
    def _read(self, doc_id: str, month: str, at: datetime) -> dict | None:
        """A month's document by `_id` (an indexed equality); closed months' from the process's cache."""
        cacheable = self.cache is not None and self.cache.usable_for(month, at)
        if cacheable:
            hit, doc = self.cache.get(doc_id)
            if hit:
                return doc
        doc = self.collection.find_one({"_id": doc_id})
        if cacheable:
            self.cache.put(doc_id, doc)
        return doc

    def summaries(self, scope: str, months: Iterable[str], at: datetime | None = None) -> list[dict]:
        at = at or now()
        return [doc for month in months if (doc := self._read(insights.summary_id(scope, month), month, at))]

    def pairs(self, scope: str, months: Iterable[str], pair: str, first: str, at: datetime | None = None
              ) -> list[dict]:
        at = at or now()
        return [doc for month in months
                if (doc := self._read(insights.pair_id(scope, month, pair, first), month, at))]

    def service_cubes(self, scope: str, months: Iterable[str], channel: str, program: str,
                      at: datetime | None = None) -> list[dict]:
        at = at or now()
        return [doc for month in months
                if (doc := self._read(insights.service_cube_id(scope, month, channel, program), month, at))]

    def cubes(self, scope: str, summaries: Iterable[Mapping], flt: insights.Filter,
              at: datetime | None = None) -> list[dict]:
        """The cubes of the months that exist (their summaries say which) and match the filter's age and
        population group."""
        at = at or now()
        found = []
        for summary in summaries:
            month = summary["month"]
            for a, p in sorted(insights.combinations([summary], flt)):
                doc = self._read(f"c|{scope}|{month}|{a}|{p}", month, at)
                if doc:
                    found.append(doc)
        return found

    def get(self, doc_id: str) -> dict | None:
        return self.collection.find_one({"_id": doc_id})

    def survey_results(self, survey_id: str) -> dict | None:
        return self.get(f"s|{survey_id}")

    def inc(self, updates: Iterable[tuple[str, Mapping[str, int], Mapping[str, Any]]]) -> None:
        """Add counters: (document id, {field: delta}, fields set when the document is created)."""
        bulk_update(self.collection, inc_ops(updates))

    def forget_person(self, pk: str) -> None:
        self.claims.delete_many({"pk": pk})


class Themes:
    """Themes from free text (insights.py): per (scope, month, group, term) a small document with `n`, the
    responses that raised it, and `k`, a capped set of the first 5 distinct people's hashed keys."""

    def __init__(self, db: Database, cache: CubeCache | None = None):
        self.collection = db[THEMES]
        self.cache = cache

    def add(self, scopes: Iterable[str], month: str, groups: Iterable[str], terms: Iterable[str], key: str) -> None:
        """Two statements a document: the count (an upsert), then the person's key while the set holds fewer than
        5 (`k.4` absent; `_id` is the indexed part of the filter). Ordered, in commands of five statements."""
        ops = []
        for scope in scopes:
            for group in groups:
                for term in terms:
                    doc_id = insights.theme_id(scope, month, group, term)
                    ops += [UpdateOne({"_id": doc_id}, {"$inc": {"n": 1}, "$setOnInsert": insights.theme_fields(
                                scope, month, group, term)}, upsert=True),
                            UpdateOne({"_id": doc_id, f"k.{insights.THRESHOLD - 1}": {"$exists": False}},
                                      {"$addToSet": {"k": key}})]
        for start in range(0, len(ops), BULK):
            self.collection.bulk_write(ops[start:start + BULK], ordered=True)

    def of(self, scope: str, month: str, group: str, at: datetime | None = None) -> list[dict]:
        """A scope's terms of a month and group, by the indexed `tl`; closed months' from the process's cache."""
        at = at or now()
        list_id = insights.theme_list(scope, month, group)
        cacheable = self.cache is not None and self.cache.usable_for(month, at)
        if cacheable:
            hit, docs = self.cache.get(f"themes|{list_id}")
            if hit:
                return docs or []
        docs = list(self.collection.find({"tl": list_id}, {"term": 1, "n": 1, "k": 1}))
        if cacheable:
            self.cache.put(f"themes|{list_id}", docs)
        return docs

    def forget_person(self, person_id: str) -> None:
        """An erased person's key leaves every set it is in (the counts stay)."""
        key = theme_key({"person_id": person_id})
        self.collection.update_many({"k": key}, {"$pullAll": {"k": [key]}})

    def replace_all(self, docs: list[dict]) -> None:
        self.collection.delete_many({})
        for start in range(0, len(docs), 500):
            self.collection.insert_many(docs[start:start + 500], ordered=False)


class Participation:
    """Distinct participants per scope, month and activity (submitted, voted, commented, answered, rated) and
    over all of them (`any`): a unique claim per (scope, month, activity, person key), a counter grown by new
    claims only."""

    ACTIVITIES = ("submitted", "voted", "commented", "answered", "rated")

    def __init__(self, db: Database):
        self.claims = db[PARTICIPATION]
        self.insights = Insights(db)

    def record(self, person_id: str | None, pk: str | None, branch_id: str | None, region_id: str | None,
               at: datetime, activity: str) -> None:
        pk = pk or (person_key(person_id) if person_id else None)
        if pk is None:
            return
        month = domain.month_of(at)
        scopes = ([f"br:{branch_id}"] if branch_id else []) + ([f"rg:{region_id}"] if region_id else []) + ["org"]
        claims = [{"_id": f"{scope}|{month}|{name}|{pk}", "pk": pk, "sm": f"{scope}|{month}", "activity": name}
                  for scope in scopes for name in (activity, "any")]
        new = insert_new(self.claims, claims)
        self.insights.inc((f"p|{scope}|{month}",
                           {name: 1 for name in (activity, "any") if f"{scope}|{month}|{name}|{pk}" in new},
                           {"kind": "participation", "scope": scope, "month": month}) for scope in scopes)

    def forget(self, pk: str) -> None:
        self.claims.delete_many({"pk": pk})

    def all(self) -> Iterator[dict]:
        return self.claims.find({}, {"sm": 1, "activity": 1}).batch_size(5000)


# --- volunteers -------------------------------------------------------------------------------------------

class Volunteers:
    """Who volunteers for which idea, per branch: one document per (idea, person), so a redelivered event changes
    nothing and a branch's volunteers are one indexed equality."""

    def __init__(self, db: Database):
        self.collection = db[VOLUNTEERS]

    def join(self, idea_id: str, person_id: str, branch_id: str | None) -> None:
        self.collection.update_one({"_id": f"{idea_id}|{person_id}"}, {"$setOnInsert": {
            "idea_id": idea_id, "person_id": person_id, "branch_id": branch_id}}, upsert=True)

    def leave(self, idea_id: str, person_id: str) -> None:
        self.collection.delete_one({"_id": f"{idea_id}|{person_id}"})

    def of_branch(self, branch_id: str) -> list[dict]:
        return list(self.collection.find({"branch_id": branch_id}, {"person_id": 1}))

    def forget(self, person_id: str) -> None:
        self.collection.delete_many({"person_id": person_id})


# --- the ideas read model ----------------------------------------------------------------------------------

class IdeasReadModel:
    """What feedback keeps of the ideas: branch, region, author, status and the dates lead times are measured
    from; supporters and followers in 64 chunks of id lists per idea."""

    def __init__(self, db: Database):
        self.ideas = db[IDEAS]
        self.members = db[MEMBERS]

    def get(self, idea_id: str) -> dict | None:
        return self.ideas.find_one({"_id": idea_id})

    def add(self, doc: dict) -> bool:
        try:
            self.ideas.insert_one(doc)
            return True
        except DuplicateKeyError:
            return False

    def move(self, idea_id: str, *, status_from: str | None, as_of: str, fields: Mapping[str, Any]) -> bool:
        """Apply a newer event's change if the idea is still where the event says it was; True if applied."""
        query: dict[str, Any] = {"_id": idea_id, "as_of": {"$lt": as_of}}
        if status_from is not None:
            query["status"] = status_from
        return bool(self.ideas.update_one(query, {"$set": dict(fields, as_of=as_of)}).modified_count)

    def set(self, idea_id: str, query: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
        return bool(self.ideas.update_one({"_id": idea_id, **query}, {"$set": dict(fields)}).modified_count)

    def all(self) -> Iterator[dict]:
        return self.ideas.find({}).batch_size(2000)

    def of_branch(self, branch_id: str) -> list[dict]:
        return list(self.ideas.find({"branch_id": branch_id}))

    def adoptions_of(self, idea_id: str) -> list[dict]:
        """The ideas other branches adopted from this one."""
        return list(self.ideas.find({"adopted_from": idea_id}, {"branch_id": 1, "status": 1}))

    def join(self, idea_id: str, person_id: str, group: str) -> None:
        self.members.update_one({"_id": f"{idea_id}|{chunk_of(person_id):02d}"},
                                {"$addToSet": {group: person_id}, "$setOnInsert": {"idea_id": idea_id}}, upsert=True)

    def leave(self, idea_id: str, person_id: str, group: str) -> None:
        self.members.update_one({"_id": f"{idea_id}|{chunk_of(person_id):02d}"}, {"$pullAll": {group: [person_id]}})

    def people_of(self, idea_id: str) -> set[str]:
        """Supporters and followers of an idea."""
        found: set[str] = set()
        for doc in self.members.find({"idea_id": idea_id}):
            found.update(doc.get("s", ()))
            found.update(doc.get("f", ()))
        return found

    def forget_person(self, person_id: str, idea_ids: Iterable[str]) -> None:
        for idea_id in idea_ids:
            self.leave(idea_id, person_id, "s")
            self.leave(idea_id, person_id, "f")

    def forget_author(self, person_id: str) -> None:
        self.ideas.update_many({"author_id": person_id}, {"$set": {"author_id": None}})


class Invites:
    """Who may answer an outcome survey: the idea's people when it was implemented, in 64 chunks of ids."""

    def __init__(self, db: Database):
        self.collection = db[INVITES]

    def put(self, survey_id: str, people: Iterable[str]) -> int:
        chunks: dict[int, list[str]] = {}
        for person_id in sorted(set(people)):
            chunks.setdefault(chunk_of(person_id), []).append(person_id)
        for number, members in chunks.items():
            self.collection.update_one({"_id": f"{survey_id}|{number:02d}"},
                                       {"$set": {"survey_id": survey_id, "people": members}}, upsert=True)
        return sum(len(m) for m in chunks.values())

    def add(self, survey_id: str, person_id: str) -> None:
        """Invite one more person (again: no change)."""
        self.collection.update_one({"_id": f"{survey_id}|{chunk_of(person_id):02d}"},
                                   {"$set": {"survey_id": survey_id}, "$addToSet": {"people": person_id}}, upsert=True)

    def has(self, survey_id: str, person_id: str) -> bool:
        doc = self.collection.find_one({"_id": f"{survey_id}|{chunk_of(person_id):02d}"})
        return bool(doc) and person_id in doc.get("people", ())

    def count(self, survey_id: str) -> int:
        return sum(len(d.get("people", ())) for d in self.collection.find({"survey_id": survey_id}))

    def remove(self, survey_id: str, person_id: str) -> None:
        self.collection.update_one({"_id": f"{survey_id}|{chunk_of(person_id):02d}"},
                                   {"$pullAll": {"people": [person_id]}})


def branch_of(db: Database, branch_id: str) -> dict | None:
    return db[BRANCHES].find_one({"_id": branch_id})
