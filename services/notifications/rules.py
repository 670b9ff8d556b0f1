"""Who is told what: the whole policy in one table, read top to bottom.

Each rule says: on this event, tell these people, under this category (the unit of each person's
preferences), with this message (messages.py), and optionally only when a condition holds. Two principles
sit outside the table:
- nobody is told of what they did themselves (the event's actor);
- within one event a person is told once, by the first rule that reaches them: an author who also follows
  their idea hears as the author, a volunteer who follows hears as a volunteer.
Pure: the fan-out (services.notify) resolves audiences and writes; here nothing touches a database."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from services.notifications.domain import (ACCOUNT, BRANCH_ACTIVITY, FOLLOWED_IDEAS, MY_IDEAS, VOLUNTEERING,
                                           followers_of, staff_of, volunteers_of)
from shared.events import Event

SUBMITTED = "cocreate.idea.submitted.v1"
STATUS_CHANGED = "cocreate.idea.status_changed.v1"
COMMENT_POSTED = "cocreate.comment.posted.v1"
MERGED = "cocreate.idea.merged.v1"
ADOPTED = "cocreate.idea.adopted.v1"
ROLES_CHANGED = "cocreate.person.roles_changed.v1"

# Who a rule reaches.
AUTHOR = "the idea's author"
FOLLOWERS = "the idea's followers"
VOLUNTEERS = "the idea's volunteers"
BRANCH_STAFF = "staff of the idea's branch (org admins for an organization-wide idea)"
MENTIONED = "the staff mentioned"
PERSON = "the person the event is about"


def always(data: Mapping[str, Any]) -> bool:
    return True


def moved_to_in_progress(data: Mapping[str, Any]) -> bool:
    return data.get("to") == "in_progress"


def official(data: Mapping[str, Any]) -> bool:
    return bool(data.get("official"))


def not_official(data: Mapping[str, Any]) -> bool:
    return not data.get("official")


@dataclass(frozen=True)
class Rule:
    event: str
    audience: str
    category: str
    message: str
    when: Callable[[Mapping[str, Any]], bool] = always


RULES: tuple[Rule, ...] = (
    #    event           who           category         message                          only when
    Rule(STATUS_CHANGED, AUTHOR,       MY_IDEAS,        "idea.status_changed.author"),
    Rule(STATUS_CHANGED, VOLUNTEERS,   VOLUNTEERING,    "idea.in_progress.volunteer",    moved_to_in_progress),
    Rule(STATUS_CHANGED, FOLLOWERS,    FOLLOWED_IDEAS,  "idea.status_changed.follower"),
    Rule(COMMENT_POSTED, AUTHOR,       MY_IDEAS,        "comment.official.author",       official),
    Rule(COMMENT_POSTED, AUTHOR,       MY_IDEAS,        "comment.posted.author",         not_official),
    Rule(COMMENT_POSTED, MENTIONED,    BRANCH_ACTIVITY, "comment.mention"),
    Rule(MERGED,         AUTHOR,       MY_IDEAS,        "idea.merged.author"),
    Rule(ADOPTED,        AUTHOR,       MY_IDEAS,        "idea.adopted.author"),
    Rule(SUBMITTED,      BRANCH_STAFF, BRANCH_ACTIVITY, "idea.submitted.staff"),
    Rule(ROLES_CHANGED,  PERSON,       ACCOUNT,         "account.roles_changed"),
)

# Besides the event's `actorid`, the field of its data that names who acted.
ACTED_BY = {STATUS_CHANGED: "by", COMMENT_POSTED: "author_id", MERGED: "by", ADOPTED: "by", SUBMITTED: "entered_by"}


class Known(Protocol):
    """What the service knows from its read models, as the rules need it."""

    def idea(self, idea_id: str) -> Mapping[str, Any] | None: ...

    def branch_names(self, branch_id: str) -> Mapping[str, str] | None: ...


@dataclass(frozen=True)
class Named:
    """A few people named by the event or the idea: looked up one by one."""

    people: tuple[str, ...]


@dataclass(frozen=True)
class Group:
    """A group kept as a read model (followers, volunteers, a branch's staff): read in one query."""

    audience: str


@dataclass(frozen=True)
class Reach:
    """One rule applied to one event: whom it reaches and the message's parameters."""

    rule: Rule
    who: Named | Group
    params: dict[str, Any] = field(default_factory=dict)


def actors(event: Event) -> set[str]:
    """Who caused the event (never told of it)."""
    acted = {event.actor_id, event.data.get(ACTED_BY[event.type]) if event.type in ACTED_BY else None}
    return {a for a in acted if a}


def plan(event: Event, known: Known) -> list[Reach]:
    """The rules that apply to this event, in order, with whom each reaches and what it says."""
    rules = [r for r in RULES if r.event == event.type and r.when(event.data)]
    if not rules:
        return []
    data = event.data
    idea_id = data.get("idea_id")
    idea = dict(known.idea(idea_id) or {}) if idea_id else {}
    params = _params(event, idea, known)
    return [Reach(rule, _who(rule.audience, event, idea, known), params) for rule in rules]


def _who(audience: str, event: Event, idea: Mapping[str, Any], known: Known) -> Named | Group:
    data = event.data
    if audience == AUTHOR:
        author = data.get("author_id") if event.type == STATUS_CHANGED else None
        author = author or idea.get("author_id")
        if not author and event.type == ADOPTED:  # the adoption carries the source's author; else ask the source
            author = (known.idea(data["source_idea_id"]) or {}).get("author_id")
        return Named((author,) if author else ())
    if audience == FOLLOWERS:
        return Group(followers_of(data["idea_id"]))
    if audience == VOLUNTEERS:
        return Group(volunteers_of(data["idea_id"]))
    if audience == BRANCH_STAFF:
        return Group(staff_of(data.get("branch_id")))
    if audience == MENTIONED:
        return Named(tuple(dict.fromkeys(data.get("mentions") or ())))
    if audience == PERSON:
        return Named((data.get("person_id") or event.subject,))
    raise ValueError(f"unknown audience {audience!r}")


def _params(event: Event, idea: Mapping[str, Any], known: Known) -> dict[str, Any]:
    """The message's parameters, fixed when the event happens (an idea renamed later keeps its old title
    in notifications already sent)."""
    data = event.data
    title = data.get("title") or idea.get("title") or ""
    if event.type == STATUS_CHANGED:
        note = {"note": data["note"]} if data.get("note") else {}  # the staff's words to the client, if any
        return {"idea_id": data["idea_id"], "title": title, "status": data["to"], **note}
    if event.type == COMMENT_POSTED:
        return {"idea_id": data["idea_id"], "title": title, "comment_id": data["comment_id"]}
    if event.type == MERGED:
        into = known.idea(data["into_idea_id"]) or {}
        return {"idea_id": data["into_idea_id"], "title": title, "into_title": into.get("title", "")}
    if event.type == ADOPTED:
        return {"idea_id": data["idea_id"], "title": title, "branch": _branch(data["branch_id"], known)}
    if event.type == SUBMITTED:
        return {"idea_id": data["idea_id"], "title": title, "branch": _branch(data.get("branch_id"), known)}
    return {}


def _branch(branch_id: str | None, known: Known) -> Mapping[str, str] | None:
    """A branch's names by language (its id while the branch is unknown); None: the whole organization."""
    if branch_id is None:
        return None
    return known.branch_names(branch_id) or {"he": branch_id, "en": branch_id}
