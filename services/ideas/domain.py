"""Ideas rules: what an idea is, how it moves through its lifecycle, and the facts each change records.
Plain objects, no Flask, no database."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from shared.errors import DomainError, N_
from shared.events import Recorded

SUBMITTED, UNDER_REVIEW, PLANNED, IN_PROGRESS = "submitted", "under_review", "planned", "in_progress"
IMPLEMENTED, DECLINED, MERGED = "implemented", "declined", "merged"
STATUSES = (SUBMITTED, UNDER_REVIEW, PLANNED, IN_PROGRESS, IMPLEMENTED, DECLINED, MERGED)
# Where an idea may go from each status. Forward one step at a time, declined from any open step, and a
# declined idea may be reopened for review. Merging has its own command (and its own undo).
TRANSITIONS = {
    SUBMITTED: (UNDER_REVIEW, DECLINED),
    UNDER_REVIEW: (PLANNED, DECLINED),
    PLANNED: (IN_PROGRESS, UNDER_REVIEW, DECLINED),
    IN_PROGRESS: (IMPLEMENTED, PLANNED, DECLINED),
    IMPLEMENTED: (),
    DECLINED: (UNDER_REVIEW,),
    MERGED: (),
}
OPEN_FOR_VOTES = (SUBMITTED, UNDER_REVIEW, PLANNED, IN_PROGRESS)
REASON_CODES = ("not_feasible", "out_of_scope", "policy", "budget", "already_exists", "other")
CHANNELS = ("web", "in_person", "phone", "kiosk")
SCOPES = ("branch", "org")
AGE_GROUPS = ("under_18", "18_29", "30_44", "45_64", "65_plus")
GROUP_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
MAX_TAGS, MAX_TAG = 8, 40
ORG = "org"  # the branch key of organization-wide ideas


def now() -> datetime:
    return datetime.now(timezone.utc)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True)
class StatusEntry:
    """One line of an idea's public, append-only history."""

    status: str
    at: datetime
    by: str | None
    by_name: str
    previous: str | None = None
    reason_code: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Idea:
    id: str
    branch_id: str | None  # None: organization-wide
    region_id: str | None
    title: str
    description: str
    tags: tuple[str, ...] = ()
    age_groups: tuple[str, ...] = ()
    population_groups: tuple[str, ...] = ()
    channel: str = "web"
    author_id: str | None = None
    author_name: str = ""
    entered_by: str | None = None
    consent_recorded: bool = False
    status: str = SUBMITTED
    status_since: datetime = field(default_factory=now)
    history: tuple[StatusEntry, ...] = ()
    durations: dict[str, float] = field(default_factory=dict)  # seconds spent in each status left so far
    merged_into: str | None = None
    adopted_from: str | None = None
    adopted_from_branch: str | None = None
    owner_id: str | None = None
    hidden: bool = False
    created_at: datetime = field(default_factory=now)
    edited_at: datetime | None = None
    version: int = 1
    events: tuple[Recorded, ...] = field(default=(), compare=False)

    @property
    def scope(self) -> str:
        return "org" if self.branch_id is None else "branch"

    @property
    def branch_key(self) -> str:
        return self.branch_id or ORG

    @property
    def open_for_votes(self) -> bool:
        return self.status in OPEN_FOR_VOTES

    def fact(self, type: str, data: dict) -> Recorded:
        return Recorded(f"cocreate.{type}.v1", self.id, {"idea_id": self.id, "branch_id": self.branch_id, **data},
                        self.branch_id)


# --- validation --------------------------------------------------------------------------------------

def _title(value: str) -> str:
    value = " ".join(value.split())
    if not 3 <= len(value) <= 140:
        raise DomainError(N_("A title is 3 to 140 characters."), "title")
    return value


def _description(value: str) -> str:
    value = value.strip()
    if not 1 <= len(value) <= 5000:
        raise DomainError(N_("A description is 1 to 5,000 characters."), "description")
    return value


def _tags(values) -> tuple[str, ...]:
    tags = []
    for raw in values:
        tag = " ".join(str(raw).split()).lower()
        if not 1 <= len(tag) <= MAX_TAG:
            raise DomainError(f"A tag is 1 to {MAX_TAG} characters.", "tags")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise DomainError(f"At most {MAX_TAGS} tags.", "tags")
    return tuple(tags)


def _age_groups(values) -> tuple[str, ...]:
    if any(v not in AGE_GROUPS for v in values):
        raise DomainError(N_("Unknown age group."), "age_groups")
    return tuple(dict.fromkeys(values))


def _population_groups(values) -> tuple[str, ...]:
    if any(not GROUP_CODE.match(v) for v in values):
        raise DomainError(N_("A population group is a code of 1-32 letters, digits, '-' or '_'."), "population_groups")
    return tuple(dict.fromkeys(values))


def _snapshot(idea: Idea) -> dict:
    return {"title": idea.title, "description": idea.description, "tags": list(idea.tags),
            "age_groups": list(idea.age_groups), "population_groups": list(idea.population_groups)}


# --- commands ------------------------------------------------------------------------------------------

def submit(*, title: str, description: str, branch_id: str | None, region_id: str | None, tags=(),
           age_groups=(), population_groups=(), channel: str = "web", author_id: str | None,
           author_name: str, entered_by: str | None = None, entered_by_name: str = "",
           consent_recorded: bool = False, idea_id: str | None = None, at: datetime | None = None) -> Idea:
    """A new idea. On the web the author is the signed-in participant; staff entering an idea for a client
    met in person, by phone or at a kiosk record the channel and that the client agreed."""
    if channel not in CHANNELS:
        raise DomainError(N_("Unknown channel."), "channel")
    if entered_by is None and channel != "web":
        raise DomainError(N_("Only staff enter ideas from other channels."), "channel")
    if entered_by is not None:
        if channel == "web":
            raise DomainError(N_("Say how the client gave the idea: in person, by phone or at a kiosk."), "channel")
        if not consent_recorded:
            raise DomainError(N_("Record the client's consent before entering their idea."), "on_behalf_of")
    at = at or now()
    idea = Idea(id=idea_id or new_id("id"), branch_id=branch_id, region_id=region_id, title=_title(title),
                description=_description(description), tags=_tags(tags), age_groups=_age_groups(age_groups),
                population_groups=_population_groups(population_groups), channel=channel, author_id=author_id,
                author_name=author_name.strip(), entered_by=entered_by, consent_recorded=consent_recorded,
                status=SUBMITTED, status_since=at, created_at=at,
                history=(StatusEntry(SUBMITTED, at, entered_by or author_id, entered_by_name or author_name),))
    return replace(idea, events=(idea.fact("idea.submitted", {
        **_snapshot(idea), "region_id": region_id, "scope": idea.scope, "channel": channel,
        "author_id": author_id, "entered_by": entered_by, "consent_recorded": consent_recorded,
        "adopted_from": None, "status": SUBMITTED, "submitted_at": at.isoformat()}),))


def edit(idea: Idea, *, by: str, at: datetime | None = None, **changes) -> Idea:
    if idea.status in (MERGED, DECLINED, IMPLEMENTED):
        raise DomainError(N_("A closed idea cannot be edited."))
    clean = {}
    for name, check in (("title", _title), ("description", _description), ("tags", _tags),
                        ("age_groups", _age_groups), ("population_groups", _population_groups)):
        if name in changes:
            clean[name] = check(changes[name])
    changed = [name for name, value in clean.items() if getattr(idea, name) != value]
    if not changed:
        return idea
    edited = replace(idea, **clean, edited_at=at or now(), version=idea.version + 1)
    return replace(edited, events=(edited.fact("idea.edited", {**_snapshot(edited), "edited_by": by,
                                                                "changed": changed}),))


def change_status(idea: Idea, to: str, *, by: str, by_name: str, reason_code: str | None = None,
                  note: str | None = None, at: datetime | None = None) -> Idea:
    if to not in STATUSES or to == MERGED:
        raise DomainError(N_("Unknown status."), "status")
    if to not in TRANSITIONS[idea.status]:
        raise DomainError(f"An idea cannot go from {idea.status} to {to}.", "status")
    note = note.strip() if note else None
    if note and len(note) > 2000:
        raise DomainError(N_("A note is at most 2,000 characters."), "note")
    if to == DECLINED:
        if reason_code not in REASON_CODES:
            raise DomainError(N_("A decline needs a reason code."), "reason_code")
        if not note:
            raise DomainError(N_("Tell the client why: a decline needs a note."), "note")
    elif reason_code is not None:
        raise DomainError(N_("Only a decline takes a reason code."), "reason_code")
    at = at or now()
    spent = max(0.0, (at - idea.status_since).total_seconds())
    durations = dict(idea.durations)
    durations[idea.status] = durations.get(idea.status, 0.0) + spent
    moved = replace(idea, status=to, status_since=at, durations=durations, version=idea.version + 1,
                    history=idea.history + (StatusEntry(to, at, by, by_name, idea.status, reason_code, note),))
    return replace(moved, events=(moved.fact("idea.status_changed", {
        "from": idea.status, "to": to, "reason_code": reason_code, "note": note, "by": by, "at": at.isoformat(),
        "seconds_in_previous": spent, "author_id": idea.author_id}),))


def merge(idea: Idea, into: Idea, *, by: str, by_name: str, at: datetime | None = None) -> Idea:
    """Mark `idea` as a duplicate of `into`. Moving its supporters, followers and comments is the use case's."""
    if idea.id == into.id:
        raise DomainError(N_("An idea cannot be merged into itself."), "into_idea_id")
    if idea.status in (MERGED, IMPLEMENTED):
        raise DomainError(f"A {idea.status} idea cannot be merged.")
    if into.status == MERGED:
        raise DomainError(N_("Merge into the idea this one was merged into."), "into_idea_id")
    at = at or now()
    durations = dict(idea.durations)
    durations[idea.status] = durations.get(idea.status, 0.0) + max(0.0, (at - idea.status_since).total_seconds())
    return replace(idea, status=MERGED, status_since=at, durations=durations, merged_into=into.id,
                   version=idea.version + 1,
                   history=idea.history + (StatusEntry(MERGED, at, by, by_name, idea.status, None, into.id),))


def unmerge(idea: Idea, *, by: str, by_name: str, at: datetime | None = None) -> Idea:
    if idea.status != MERGED or not idea.merged_into:
        raise DomainError(N_("The idea is not merged."))
    back = idea.history[-1].previous if idea.history and idea.history[-1].status == MERGED else SUBMITTED
    at = at or now()
    return replace(idea, status=back or SUBMITTED, status_since=at, merged_into=None, version=idea.version + 1,
                   history=idea.history + (StatusEntry(back or SUBMITTED, at, by, by_name, MERGED, None,
                                                       "merge undone"),))


def adopt(source: Idea, *, branch_id: str, region_id: str | None, owner_id: str, owner_name: str,
          at: datetime | None = None) -> Idea:
    """A branch takes up an idea implemented elsewhere: a new idea at that branch, planned, with its own
    owner and lifecycle, linking back to where it came from."""
    if source.status != IMPLEMENTED:
        raise DomainError(N_("Only an implemented idea can be adopted."))
    if source.branch_id == branch_id:
        raise DomainError(N_("The idea was implemented at this branch already."), "branch_id")
    at = at or now()
    idea = Idea(id=new_id("id"), branch_id=branch_id, region_id=region_id, title=source.title,
                description=source.description, tags=source.tags, age_groups=source.age_groups,
                population_groups=source.population_groups, channel="web", author_id=source.author_id,
                author_name=source.author_name, status=PLANNED, status_since=at, created_at=at,
                adopted_from=source.id, adopted_from_branch=source.branch_id, owner_id=owner_id,
                history=(StatusEntry(PLANNED, at, owner_id, owner_name, None, None, f"adopted from {source.id}"),))
    return replace(idea, events=(
        idea.fact("idea.submitted", {**_snapshot(idea), "region_id": region_id, "scope": idea.scope,
                                     "channel": "web", "author_id": source.author_id, "entered_by": owner_id,
                                     "consent_recorded": False, "adopted_from": source.id, "status": PLANNED,
                                     "submitted_at": at.isoformat()}),
        idea.fact("idea.adopted", {"source_idea_id": source.id, "source_branch_id": source.branch_id,
                                   "owner_id": owner_id, "by": owner_id}),
    ))


# --- comments ------------------------------------------------------------------------------------------

def comment_text(value: str) -> str:
    value = value.strip()
    if not 1 <= len(value) <= 4000:
        raise DomainError(N_("A comment is 1 to 4,000 characters."), "text")
    return value

