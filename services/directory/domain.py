"""Directory rules: the organization tree (regions, branches) and its people. Plain objects, no Flask, no
database; every change records the facts other services learn from."""
from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from shared.auth import BRANCH_MANAGER, BRANCH_STAFF, ORG_ADMIN
from shared.errors import DomainError
from shared.events import Recorded

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
AGE_GROUPS = ("under_18", "18_29", "30_44", "45_64", "65_plus")
LANGUAGES = ("he", "en")
BRANCH_ROLES = (BRANCH_STAFF, BRANCH_MANAGER)
ORG_ROLES = (ORG_ADMIN,)
STAFF, PARTICIPANT = "staff", "participant"
INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed from paper
MIN_PASSWORD = 10


def now() -> datetime:
    return datetime.now(timezone.utc)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


# --- regions and branches ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    id: str
    code: str
    name_he: str
    name_en: str


def define_region(code: str, name_he: str, name_en: str, region_id: str | None = None) -> Region:
    if not CODE.match(code):
        raise DomainError("A region code is 1-32 letters, digits, '-' or '_'.", "code")
    if not name_he.strip() or not name_en.strip():
        raise DomainError("A region needs a name in Hebrew and in English.", "name")
    return Region(region_id or new_id("rg"), code, name_he.strip(), name_en.strip())


@dataclass(frozen=True)
class Branch:
    id: str
    code: str
    name_he: str
    name_en: str
    region_id: str | None = None
    address: str | None = None
    open: bool = True
    version: int = 1
    events: tuple[Recorded, ...] = field(default=(), compare=False)

    def snapshot(self) -> dict:
        return {"branch_id": self.id, "code": self.code, "name": {"he": self.name_he, "en": self.name_en},
                "region_id": self.region_id, "address": self.address, "open": self.open}


def new_branch_id() -> str:
    return new_id("br")


def open_branch(code: str, name_he: str, name_en: str, region_id: str | None = None,
                address: str | None = None, branch_id: str | None = None) -> Branch:
    if not CODE.match(code):
        raise DomainError("A branch code is 1-32 letters, digits, '-' or '_'.", "code")
    branch = Branch(id=branch_id or new_branch_id(), code=code, name_he=name_he.strip(), name_en=name_en.strip(),
                    region_id=region_id, address=address)
    if not branch.name_he or not branch.name_en:
        raise DomainError("A branch needs a name in Hebrew and in English.", "name")
    return replace(branch, events=(Recorded("cocreate.branch.created.v1", branch.id, branch.snapshot(), branch.id),))


def update_branch(branch: Branch, **changes) -> Branch:
    if not branch.open:
        raise DomainError("A closed branch cannot be changed.")
    updated = replace(branch, **changes, version=branch.version + 1)
    if not updated.name_he.strip() or not updated.name_en.strip():
        raise DomainError("A branch needs a name in Hebrew and in English.", "name")
    return replace(updated, events=(Recorded("cocreate.branch.updated.v1", branch.id, updated.snapshot(),
                                             branch.id),))


def close_branch(branch: Branch) -> Branch:
    if not branch.open:
        raise DomainError("The branch is already closed.")
    closed = replace(branch, open=False, version=branch.version + 1)
    return replace(closed, events=(Recorded("cocreate.branch.closed.v1", branch.id, {"branch_id": branch.id},
                                            branch.id),))


# --- people --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Consented:
    """An optional attribute a participant chose to share, with when they agreed."""

    value: str
    at: datetime


@dataclass(frozen=True)
class Person:
    id: str
    kind: str  # staff | participant
    name: str
    lang: str = "he"
    email: str | None = None
    home_branch: str | None = None
    org_roles: frozenset[str] = frozenset()
    branch_roles: dict[str, frozenset[str]] = field(default_factory=dict)
    age_group: Consented | None = None
    population_group: Consented | None = None
    active: bool = True
    erased: bool = False
    version: int = 1
    events: tuple[Recorded, ...] = field(default=(), compare=False)

    @property
    def branch_ids(self) -> list[str]:
        return sorted(set(self.branch_roles) | ({self.home_branch} if self.home_branch else set()))

    def snapshot(self) -> dict:
        return {
            "person_id": self.id, "kind": self.kind, "display_name": self.name, "lang": self.lang,
            "email": self.email, "home_branch": self.home_branch, "org_roles": sorted(self.org_roles),
            "branch_roles": {b: sorted(r) for b, r in sorted(self.branch_roles.items())},
            "age_group": self.age_group.value if self.age_group else None,
            "population_group": self.population_group.value if self.population_group else None,
            "active": self.active,
        }

    def record(self, type: str, data: dict | None = None) -> "Person":
        return replace(self, events=self.events + (
            Recorded(type, self.id, data if data is not None else self.snapshot(),
                     self.home_branch or (min(self.branch_roles) if self.branch_roles else None)),))


def normalize_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    email = email.strip().lower()
    if not EMAIL.match(email) or len(email) > 254:
        raise DomainError("That is not an e-mail address.", "email")
    return email


def _check_roles(org_roles, branch_roles) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
    org = frozenset(org_roles)
    if org - set(ORG_ROLES):
        raise DomainError(f"Organization roles are {', '.join(ORG_ROLES)}.", "org_roles")
    branches = {b: frozenset(r) for b, r in branch_roles.items() if r}
    for roles in branches.values():
        if roles - set(BRANCH_ROLES):
            raise DomainError(f"Branch roles are {', '.join(BRANCH_ROLES)}.", "branch_roles")
    return org, branches


def register_staff(name: str, email: str, *, lang: str = "he", org_roles=(), branch_roles=None,
                   person_id: str | None = None) -> Person:
    if not name.strip():
        raise DomainError("A name is needed.", "name")
    if lang not in LANGUAGES:
        raise DomainError("Language is he or en.", "lang")
    org, branches = _check_roles(org_roles, branch_roles or {})
    if not org and not branches:
        raise DomainError("Staff need a role at a branch or in the organization.", "branch_roles")
    person = Person(id=person_id or new_id("pe"), kind=STAFF, name=name.strip(), lang=lang,
                    email=normalize_email(email), org_roles=org, branch_roles=branches)
    if person.email is None:
        raise DomainError("Staff sign in with an e-mail address.", "email")
    return person.record("cocreate.person.registered.v1")


def register_participant(home_branch: str, *, name: str | None = None, lang: str = "he", email: str | None = None,
                         age_group: str | None = None, population_group: str | None = None,
                         population_groups: tuple[str, ...] = (), at: datetime | None = None) -> Person:
    """A client joins at a branch; a pseudonym is fine, and group attributes are kept only with consent."""
    if lang not in LANGUAGES:
        raise DomainError("Language is he or en.", "lang")
    pseudonym = (name or "").strip() or f"{'משתתף' if lang == 'he' else 'Participant'} {secrets.randbelow(9000) + 1000}"
    person = Person(id=new_id("pe"), kind=PARTICIPANT, name=pseudonym, lang=lang, email=normalize_email(email),
                    home_branch=home_branch)
    person = _with_consents(person, age_group, population_group, population_groups, at or now())
    return person.record("cocreate.person.registered.v1")


def _with_consents(person: Person, age_group, population_group, population_groups, at) -> Person:
    if age_group is not None and age_group not in AGE_GROUPS:
        raise DomainError(f"Age group is one of {', '.join(AGE_GROUPS)}.", "age_group")
    if population_group is not None and population_group not in population_groups:
        raise DomainError("Unknown population group.", "population_group")
    return replace(person, age_group=Consented(age_group, at) if age_group else None,
                   population_group=Consented(population_group, at) if population_group else None)


_UNSET = object()


def update_profile(person: Person, *, name=_UNSET, lang=_UNSET, email=_UNSET, age_group=_UNSET,
                   population_group=_UNSET, population_groups: tuple[str, ...] = (), at: datetime | None = None) -> Person:
    """Change what a person may change of themselves. A consent given again keeps its original time;
    withdrawing it (None) removes the attribute."""
    _alive(person)
    changed = person
    if name is not _UNSET:
        if not (name or "").strip():
            raise DomainError("A name is needed.", "name")
        changed = replace(changed, name=name.strip())
    if lang is not _UNSET:
        if lang not in LANGUAGES:
            raise DomainError("Language is he or en.", "lang")
        changed = replace(changed, lang=lang)
    if email is not _UNSET:
        changed = replace(changed, email=normalize_email(email))
        if changed.kind == STAFF and changed.email is None:
            raise DomainError("Staff sign in with an e-mail address.", "email")
    at = at or now()
    for attr, value in (("age_group", age_group), ("population_group", population_group)):
        if value is _UNSET:
            continue
        current = getattr(changed, attr)
        if value is None:
            changed = replace(changed, **{attr: None})
        elif current is None or current.value != value:
            checked = _with_consents(replace(changed, age_group=None, population_group=None),
                                     value if attr == "age_group" else None,
                                     value if attr == "population_group" else None, population_groups, at)
            changed = replace(changed, **{attr: getattr(checked, attr)})
    if changed == person:
        return person
    return replace(changed, version=person.version + 1).record("cocreate.person.updated.v1")


def change_roles(person: Person, org_roles, branch_roles) -> Person:
    _alive(person)
    if person.kind != STAFF:
        raise DomainError("Only staff hold roles.")
    org, branches = _check_roles(org_roles, branch_roles)
    if not org and not branches:
        raise DomainError("Staff need a role at a branch or in the organization; deactivate them instead.",
                          "branch_roles")
    changed = replace(person, org_roles=org, branch_roles=branches, version=person.version + 1)
    return changed.record("cocreate.person.roles_changed.v1")


def deactivate(person: Person) -> Person:
    _alive(person)
    if not person.active:
        raise DomainError("Already deactivated.")
    changed = replace(person, active=False, version=person.version + 1)
    return changed.record("cocreate.person.deactivated.v1", {"person_id": person.id})


def erase(person: Person) -> Person:
    """The right to erasure: the directory keeps nothing that identifies the person; every other service
    removes or anonymizes their data when it sees the event."""
    if person.erased:
        raise DomainError("Already erased.")
    erased = Person(id=person.id, kind=person.kind, name="", lang=person.lang, active=False, erased=True,
                    version=person.version + 1, home_branch=person.home_branch)
    return erased.record("cocreate.person.erased.v1", {"person_id": person.id})


def _alive(person: Person) -> None:
    if person.erased:
        raise DomainError("This person's data was erased.")


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise DomainError(f"A password has at least {MIN_PASSWORD} characters.", "new_password")


# --- invites -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invite:
    code: str
    branch_id: str
    created_by: str
    expires_at: datetime
    max_uses: int | None = None
    uses: int = 0
    revoked: bool = False

    def usable(self, at: datetime | None = None) -> bool:
        return (not self.revoked and (at or now()) < self.expires_at
                and (self.max_uses is None or self.uses < self.max_uses))


def new_invite(branch_id: str, created_by: str, *, days: int = 90, max_uses: int | None = None) -> Invite:
    if not 1 <= days <= 365:
        raise DomainError("An invite is valid for 1 to 365 days.", "days")
    if max_uses is not None and max_uses < 1:
        raise DomainError("At least one use.", "max_uses")
    code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))
    return Invite(code=code, branch_id=branch_id, created_by=created_by, expires_at=now() + timedelta(days=days),
                  max_uses=max_uses)


def normalize_invite_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").upper()
