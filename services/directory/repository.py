"""Directory storage. Each aggregate is one document and carries its pending events (outbox). Unique rules
that span documents (an e-mail address belongs to one person) are claims: an insert under a unique key,
the one atomic primitive both MongoDB and FerretDB offer."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.directory.domain import Branch, Consented, Invite, Person, Region
from shared.errors import Conflict
from shared.events import Event
from shared.mongo import Index
from shared.outbox import PENDING, update_with_events, with_events

BRANCHES, REGIONS, PEOPLE, EMAILS = "branches", "regions", "people", "email_claims"
INVITES, SERVICE_ACCOUNTS, LOGIN_FAILURES, SETTINGS = "invites", "service_accounts", "login_failures", "org_settings"
OUTBOX_COLLECTIONS = [BRANCHES, PEOPLE, SETTINGS]
INDEXES = [
    Index.on(BRANCHES, "code", unique=True),
    Index.on(BRANCHES, "region_id", "code"),
    Index.on(REGIONS, "code", unique=True),
    Index.on(PEOPLE, "kind", "name"),
    Index.on(PEOPLE, "home_branch"),
    Index.on(INVITES, "branch_id"),
]
HIDDEN = {"_outbox": 0, "password_hash": 0, "device_hashes": 0}
IN_CHUNK = 1000  # values per `$in` query: FerretDB compares every document with the whole list
FEW = 50  # up to this many keys are looked up one by one (~1 ms each) rather than by reading a collection


# --- branches and regions ------------------------------------------------------------------------------

def _branch_doc(branch: Branch) -> dict:
    return {"_id": branch.id, "code": branch.code, "name": {"he": branch.name_he, "en": branch.name_en},
            "region_id": branch.region_id, "address": branch.address, "open": branch.open,
            "version": branch.version}


def _branch(doc: dict) -> Branch:
    return Branch(id=doc["_id"], code=doc["code"], name_he=doc["name"]["he"], name_en=doc["name"]["en"],
                  region_id=doc.get("region_id"), address=doc.get("address"), open=doc.get("open", True),
                  version=doc.get("version", 1))


class BranchRepository:
    def __init__(self, db: Database):
        self.collection = db[BRANCHES]

    def add(self, branch: Branch, events: Iterable[Event]) -> None:
        try:
            self.collection.insert_one(with_events(_branch_doc(branch), events))
        except DuplicateKeyError:
            raise Conflict(f"A branch with code {branch.code!r} exists already.") from None

    def add_many(self, branches: list[tuple[Branch, list[Event]]], *, hold_events: bool = False) -> None:
        """Insert branches with their events. Held events wait in the documents unseen by the relay until
        release_events: an all-or-nothing import that fails half-way deletes what it wrote, unpublished."""
        if branches:
            docs = [with_events(_branch_doc(b), e) for b, e in branches]
            if hold_events:
                for doc in docs:
                    doc.pop(PENDING, None)
            self.collection.insert_many(docs, ordered=True)

    def release_events(self, ids: list[str]) -> None:
        for chunk in _chunks(ids):
            self.collection.update_many({"_id": {"$in": chunk}, "_outbox": {"$exists": True}},
                                        {"$set": {PENDING: True}})

    def delete_many(self, ids: list[str]) -> None:
        """Undo an import that failed while writing (its events were held, so none was published)."""
        for chunk in _chunks(ids):
            self.collection.delete_many({"_id": {"$in": chunk}})

    def save(self, branch: Branch, events: Iterable[Event]) -> None:
        """Store a changed branch if nobody changed it meanwhile (optimistic concurrency on version)."""
        doc = _branch_doc(branch)
        doc.pop("_id")
        result = self.collection.update_one({"_id": branch.id, "version": branch.version - 1},
                                            update_with_events({"$set": doc}, events))
        if not result.matched_count:
            raise Conflict("The branch was changed by someone else; reload and try again.")

    def get(self, branch_id: str) -> Branch | None:
        doc = self.collection.find_one({"_id": branch_id}, HIDDEN)
        return _branch(doc) if doc else None

    def existing_codes(self, codes: Iterable[str]) -> set[str]:
        return {d["code"] for d in self.collection.find({"code": {"$in": list(codes)}}, {"code": 1})}

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        return {d["_id"] for d in self.collection.find({"_id": {"$in": list(ids)}}, {"_id": 1})}

    def ids_by_code(self, codes: Iterable[str]) -> dict[str, str]:
        return {d["code"]: d["_id"] for d in self.collection.find({"code": {"$in": list(codes)}}, {"code": 1})}

    def list(self, *, after_code: str | None = None, limit: int = 50, region_id: str | None = None,
             ids: list[str] | None = None) -> list[Branch]:
        query: dict[str, Any] = {}
        if after_code:
            query["code"] = {"$gt": after_code}
        if region_id:
            query["region_id"] = region_id
        if ids is not None:
            query["_id"] = {"$in": ids}
        return [_branch(d) for d in self.collection.find(query, HIDDEN).sort("code", 1).limit(limit)]


class RegionRepository:
    def __init__(self, db: Database):
        self.collection = db[REGIONS]

    def add(self, region: Region) -> None:
        try:
            self.collection.insert_one({"_id": region.id, "code": region.code,
                                        "name": {"he": region.name_he, "en": region.name_en}})
        except DuplicateKeyError:
            raise Conflict(f"A region with code {region.code!r} exists already.") from None

    def add_many(self, regions: list[Region]) -> None:
        if regions:
            self.collection.insert_many([{"_id": r.id, "code": r.code, "name": {"he": r.name_he, "en": r.name_en}}
                                         for r in regions], ordered=True)

    def delete_many(self, ids: list[str]) -> None:
        for chunk in _chunks(ids):
            self.collection.delete_many({"_id": {"$in": chunk}})

    def get(self, region_id: str) -> Region | None:
        doc = self.collection.find_one({"_id": region_id})
        return Region(doc["_id"], doc["code"], doc["name"]["he"], doc["name"]["en"]) if doc else None

    def all(self) -> list[Region]:
        return [Region(d["_id"], d["code"], d["name"]["he"], d["name"]["en"])
                for d in self.collection.find().sort("code", 1)]

    def ids_by_code(self) -> dict[str, str]:
        return {d["code"]: d["_id"] for d in self.collection.find({}, {"code": 1})}


# --- people -------------------------------------------------------------------------------------------

def _consent(value: Consented | None) -> dict | None:
    return {"value": value.value, "at": value.at} if value else None


def _person_doc(person: Person) -> dict:
    return {
        "_id": person.id, "kind": person.kind, "name": person.name, "lang": person.lang, "email": person.email,
        "home_branch": person.home_branch, "org_roles": sorted(person.org_roles),
        "branch_roles": {b: sorted(r) for b, r in person.branch_roles.items()},
        "age_group": _consent(person.age_group), "population_group": _consent(person.population_group),
        "active": person.active, "erased": person.erased, "version": person.version,
    }


def _person(doc: dict) -> Person:
    def consent(value):
        return Consented(value["value"], value["at"]) if value else None

    return Person(
        id=doc["_id"], kind=doc["kind"], name=doc.get("name", ""), lang=doc.get("lang", "he"),
        email=doc.get("email"), home_branch=doc.get("home_branch"), org_roles=frozenset(doc.get("org_roles", [])),
        branch_roles={b: frozenset(r) for b, r in (doc.get("branch_roles") or {}).items()},
        age_group=consent(doc.get("age_group")), population_group=consent(doc.get("population_group")),
        active=doc.get("active", True), erased=doc.get("erased", False), version=doc.get("version", 1),
    )


class PersonRepository:
    def __init__(self, db: Database):
        self.collection = db[PEOPLE]
        self.emails = db[EMAILS]

    # e-mail claims: an address belongs to one person ------------------------------------------------
    def claim_email(self, email: str, person_id: str) -> None:
        try:
            self.emails.insert_one({"_id": email, "person_id": person_id})
        except DuplicateKeyError:
            holder = self.emails.find_one({"_id": email})
            # a claim left by a write that never completed (crash) is taken over
            if holder and holder["person_id"] != person_id and self.collection.find_one(
                    {"_id": holder["person_id"], "email": email}, {"_id": 1}):
                raise Conflict("That e-mail address is used by someone else.") from None
            self.emails.update_one({"_id": email}, {"$set": {"person_id": person_id}})

    def release_email(self, email: str | None, person_id: str) -> None:
        if email:
            self.emails.delete_one({"_id": email, "person_id": person_id})

    def id_by_email(self, email: str) -> str | None:
        claim = self.emails.find_one({"_id": email})
        return claim["person_id"] if claim else None

    # people ---------------------------------------------------------------------------------------
    def add(self, person: Person, events: Iterable[Event], *, password_hash: str | None = None,
            device_hash: str | None = None) -> None:
        if person.email:
            self.claim_email(person.email, person.id)
        doc = _person_doc(person)
        if password_hash:
            doc["password_hash"] = password_hash
        if device_hash:
            doc["device_hashes"] = [device_hash]
        try:
            self.collection.insert_one(with_events(doc, events))
        except Exception:
            self.release_email(person.email, person.id)
            raise

    def add_many(self, people: list[tuple[Person, list[Event], str | None]], *,
                 emails_claimed: bool = False) -> None:
        """Bulk registration (imports, seeding): e-mails claimed first (unless claim_emails did it for a
        bigger whole), then people in one batch."""
        if not emails_claimed:
            self.claim_emails([p for p, _, _ in people])
        docs = []
        for person, events, password_hash in people:
            doc = _person_doc(person)
            if password_hash:
                doc["password_hash"] = password_hash
            docs.append(with_events(doc, events))
        if docs:
            self.collection.insert_many(docs, ordered=True)

    def claim_emails(self, people: list[Person]) -> int:
        """Claim the addresses of many people; on a duplicate, raises after claiming those before it.
        Returns how many were claimed."""
        claims = [{"_id": p.email, "person_id": p.id} for p in people if p.email]
        if claims:
            self.emails.insert_many(claims, ordered=True)
        return len(claims)

    def claimed_emails(self, emails: Iterable[str]) -> set[str]:
        """Which of these addresses somebody holds already. A few are looked up one by one (an indexed
        equality); many are compared with one pass over every claim: FerretDB scans the collection for
        `$in` and compares each claim with the whole list (12 s for 10,000 addresses and 10,000 claims;
        one pass: 1 s)."""
        wanted = set(emails)
        if len(wanted) <= FEW:
            return {e for e in wanted if self.emails.find_one({"_id": e}, {"_id": 1})}
        return {d["_id"] for d in self.emails.find({}, {"_id": 1}) if d["_id"] in wanted}

    def delete_many(self, people: list[Person]) -> None:
        """Undo a bulk registration that failed while writing: the people and the addresses they claimed."""
        for chunk in _chunks([p.id for p in people]):
            self.collection.delete_many({"_id": {"$in": chunk}})
            self.emails.delete_many({"person_id": {"$in": chunk}})

    def save(self, person: Person, events: Iterable[Event], *, previous_email: str | None = None,
             unset_credentials: bool = False) -> None:
        if person.email and person.email != previous_email:
            self.claim_email(person.email, person.id)
        doc = _person_doc(person)
        doc.pop("_id")
        update: dict[str, Any] = {"$set": doc}
        if unset_credentials:
            update["$unset"] = {"password_hash": "", "device_hashes": ""}
        result = self.collection.update_one({"_id": person.id, "version": person.version - 1},
                                            update_with_events(update, events))
        if not result.matched_count:
            self.release_email(person.email if person.email != previous_email else None, person.id)
            raise Conflict("This person was changed by someone else; reload and try again.")
        if previous_email and previous_email != person.email:
            self.release_email(previous_email, person.id)

    def get(self, person_id: str) -> Person | None:
        doc = self.collection.find_one({"_id": person_id}, HIDDEN)
        return _person(doc) if doc else None

    def credentials(self, person_id: str) -> dict:
        doc = self.collection.find_one({"_id": person_id}, {"password_hash": 1, "device_hashes": 1}) or {}
        return {"password_hash": doc.get("password_hash"), "device_hashes": doc.get("device_hashes", [])}

    def set_password_hash(self, person_id: str, password_hash: str) -> None:
        self.collection.update_one({"_id": person_id}, {"$set": {"password_hash": password_hash}})

    def add_device_hash(self, person_id: str, device_hash: str) -> None:
        self.collection.update_one({"_id": person_id}, {"$push": {"device_hashes": device_hash}})

    def list(self, *, kind: str | None = None, branch_ids: list[str] | None = None, after: str | None = None,
             limit: int = 50) -> list[Person]:
        query: dict[str, Any] = {"erased": {"$ne": True}}
        if kind:
            query["kind"] = kind
        if branch_ids is not None:
            query["$or"] = [{f"branch_roles.{b}": {"$exists": True}} for b in branch_ids] + [
                {"home_branch": {"$in": branch_ids}}]
        if after:
            query["_id"] = {"$gt": after}
        return [_person(d) for d in self.collection.find(query, HIDDEN).sort("_id", 1).limit(limit)]

    def count_participants(self, branch_id: str) -> int:
        return self.collection.count_documents({"kind": "participant", "home_branch": branch_id,
                                                "erased": {"$ne": True}})


# --- invites, service accounts, sign-in throttling, organization settings ----------------------------------

class InviteRepository:
    def __init__(self, db: Database):
        self.collection = db[INVITES]

    def add(self, invite: Invite) -> None:
        self.collection.insert_one({"_id": invite.code, "branch_id": invite.branch_id, "created_by": invite.created_by,
                                    "expires_at": invite.expires_at, "max_uses": invite.max_uses, "uses": 0,
                                    "revoked": False})

    def get(self, code: str) -> Invite | None:
        doc = self.collection.find_one({"_id": code})
        return Invite(code=doc["_id"], branch_id=doc["branch_id"], created_by=doc["created_by"],
                      expires_at=doc["expires_at"], max_uses=doc.get("max_uses"), uses=doc.get("uses", 0),
                      revoked=doc.get("revoked", False)) if doc else None

    def use(self, invite: Invite, at: datetime) -> bool:
        """Count one use if the invite is still usable; atomic, so a last use is taken once."""
        query: dict[str, Any] = {"_id": invite.code, "revoked": False, "expires_at": {"$gt": at}}
        if invite.max_uses is not None:
            query["uses"] = {"$lt": invite.max_uses}
        return self.collection.find_one_and_update(query, {"$inc": {"uses": 1}},
                                                   return_document=ReturnDocument.AFTER) is not None

    def revoke(self, code: str) -> bool:
        return self.collection.update_one({"_id": code}, {"$set": {"revoked": True}}).matched_count == 1

    def branches_with_usable_invites(self, at: datetime) -> set[str]:
        found = self.collection.find({"revoked": False, "expires_at": {"$gt": at}},
                                     {"branch_id": 1, "max_uses": 1, "uses": 1})
        return {d["branch_id"] for d in found if d.get("max_uses") is None or d.get("uses", 0) < d["max_uses"]}

    def for_branches(self, branch_ids: list[str] | None, limit: int = 100) -> list[Invite]:
        query = {"branch_id": {"$in": branch_ids}} if branch_ids is not None else {}
        return [self.get(d["_id"]) for d in self.collection.find(query, {"_id": 1}).limit(limit)]


class ServiceAccountRepository:
    def __init__(self, db: Database):
        self.collection = db[SERVICE_ACCOUNTS]

    def add(self, account_id: str, name: str, roles: list[str], key_hash: str, created_by: str) -> None:
        self.collection.insert_one({"_id": account_id, "name": name, "roles": roles, "key_hash": key_hash,
                                    "created_by": created_by, "active": True})

    def get(self, account_id: str) -> dict | None:
        return self.collection.find_one({"_id": account_id})

    def all(self) -> list[dict]:
        return list(self.collection.find({}, {"key_hash": 0}).sort("name", 1))

    def deactivate(self, account_id: str) -> bool:
        return self.collection.update_one({"_id": account_id}, {"$set": {"active": False}}).matched_count == 1


class LoginFailures:
    """Failed sign-ins per account in a sliding window, shared by every web process through the store."""

    def __init__(self, db: Database):
        self.collection = db[LOGIN_FAILURES]

    def recent(self, key: str, since: float) -> int:
        doc = self.collection.find_one({"_id": key})
        return len([t for t in (doc or {}).get("times", []) if t >= since])

    def add(self, key: str, at: float, keep_since: float) -> None:
        doc = self.collection.find_one({"_id": key}) or {}
        times = [t for t in doc.get("times", []) if t >= keep_since] + [at]
        self.collection.update_one({"_id": key}, {"$set": {"times": times[-50:]}}, upsert=True)

    def clear(self, key: str) -> None:
        self.collection.delete_one({"_id": key})


class OrgSettings:
    def __init__(self, db: Database):
        self.collection = db[SETTINGS]

    def population_groups(self) -> list[dict]:
        doc = self.collection.find_one({"_id": "population_groups"})
        return doc["items"] if doc else []

    def set_population_groups(self, items: list[dict], events: Iterable[Event]) -> None:
        """The list and its event, stored at once (the settings document carries its outbox)."""
        self.collection.update_one({"_id": "population_groups"},
                                   update_with_events({"$set": {"items": items}}, events), upsert=True)

    def seeded(self) -> dict[str, int]:
        """What the demo seed has made so far (services/directory/seed.py)."""
        doc = self.collection.find_one({"_id": "demo_seed"}) or {}
        return {k: v for k, v in doc.items() if k != "_id"}

    def count_seeded(self, **made: int) -> None:
        self.collection.update_one({"_id": "demo_seed"}, {"$inc": made}, upsert=True)


def _chunks(items: list, size: int = IN_CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]
