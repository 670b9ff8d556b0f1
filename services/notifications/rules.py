"""Who is told what: the whole policy in one table, read top to bottom.

Each rule says: on this event, tell these people, under this category (the unit of each person's
preferences), with this message (messages.py), and optionally only when a condition holds. Two principles
sit outside the table (and one rule option):
- nobody is told of what they did themselves (the event's actor);
- within one event a person is told once, by the first rule that reaches them: an author who also follows
  their idea hears as the author, a volunteer who follows hears as a volunteer.
- a rule may leave out the branch's staff: outcome surveys ask the clients, not who carried the idea out.
Pure: the fan-out (services.notify) resolves audiences and writes; here nothing touches a database."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol

from services.notifications.domain import (ACCOUNT, BRANCH_ACTIVITY, FOLLOWED_IDEAS, MY_FEEDBACK, MY_IDEAS,
                                           VOLUNTEERING, followers_of, staff_of, supporters_of, volunteers_of)
from shared.events import Event

SUBMITTED = "cocreate.idea.submitted.v1"
STATUS_CHANGED = "cocreate.idea.status_changed.v1"
COMMENT_POSTED = "cocreate.comment.posted.v1"
MERGED = "cocreate.idea.merged.v1"
ADOPTED = "cocreate.idea.adopted.v1"
FLAGGED = "cocreate.idea.flagged.v1"
ROLES_CHANGED = "cocreate.person.roles_changed.v1"
SURVEY_OPENED = "cocreate.survey.opened.v1"
FEEDBACK_SUBMITTED = "cocreate.feedback.submitted.v1"
FEEDBACK_REPLIED = "cocreate.feedback.replied.v1"

# A low score, which the branch's staff hear of at once: 1 or 2 of 5 (CSAT and quick ratings), 0 to 4 of 10
# (NPS: the lower half of its detractors, so that staff hear of the clearly unhappy, not of every 6).
LOW_CSAT, LOW_NPS = 2, 4

# Who a rule reaches.
AUTHOR = "the idea's author"
FOLLOWERS = "the idea's followers"
SUPPORTERS = "the idea's supporters (who voted for it)"
VOLUNTEERS = "the idea's volunteers"
BRANCH_STAFF = "staff of the branch (org admins for an organization-wide idea or feedback)"
MENTIONED = "the staff mentioned"
PERSON = "the person the event is about"
RESPONDENT = "who gave the feedback (only identified feedback is replied to)"


def always(data: Mapping[str, Any]) -> bool:
    return True


def moved_to_in_progress(data: Mapping[str, Any]) -> bool:
    return data.get("to") == "in_progress"


def official(data: Mapping[str, Any]) -> bool:
    return bool(data.get("official"))


def not_official(data: Mapping[str, Any]) -> bool:
    return not data.get("official")


def about_an_idea(data: Mapping[str, Any]) -> bool:
    """An outcome survey: it asks how an implemented idea worked."""
    return bool(data.get("idea_id"))


def low_score(data: Mapping[str, Any]) -> bool:
    return lowest(data) is not None


def lowest(data: Mapping[str, Any]) -> tuple[int, int] | None:
    """The lowest low score among the answers, as (score, out of), or None when no score is low."""
    low = [(a["value"], 5) for a in data.get("answers") or () if a.get("type") == "csat" and a["value"] <= LOW_CSAT]
    low += [(a["value"], 10) for a in data.get("answers") or () if a.get("type") == "nps" and a["value"] <= LOW_NPS]
    return min(low, key=lambda score: score[0] / score[1]) if low else None


@dataclass(frozen=True)
class Rule:
    event: str
    audience: str
    category: str
    message: str
    when: Callable[[Mapping[str, Any]], bool] = always
    not_staff: bool = False  # not the staff of the branch (they carried the idea out; they do not rate it)


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
    Rule(FLAGGED,        BRANCH_STAFF, BRANCH_ACTIVITY, "idea.flagged.staff"),
    Rule(SURVEY_OPENED,  AUTHOR,       MY_FEEDBACK,     "survey.outcome.author",         about_an_idea, not_staff=True),
    Rule(SURVEY_OPENED,  SUPPORTERS,   MY_FEEDBACK,     "survey.outcome.supporter",      about_an_idea, not_staff=True),
    Rule(SURVEY_OPENED,  FOLLOWERS,    MY_FEEDBACK,     "survey.outcome.supporter",      about_an_idea, not_staff=True),
    Rule(FEEDBACK_SUBMITTED, BRANCH_STAFF, BRANCH_ACTIVITY, "feedback.low_score.staff",  low_score),
    Rule(FEEDBACK_REPLIED, RESPONDENT, MY_FEEDBACK,     "feedback.replied.respondent"),
    Rule(ROLES_CHANGED,  PERSON,       ACCOUNT,         "account.roles_changed"),
)

# Besides the event's `actorid`, the field of its data that names who acted.
ACTED_BY = {STATUS_CHANGED: "by", COMMENT_POSTED: "author_id", MERGED: "by", ADOPTED: "by", SUBMITTED: "entered_by",
            FLAGGED: "person_id", SURVEY_OPENED: "by", FEEDBACK_SUBMITTED: "entered_by", FEEDBACK_REPLIED: "by"}


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
    if audience == SUPPORTERS:
        return Group(supporters_of(data["idea_id"]))
    if audience == VOLUNTEERS:
        return Group(volunteers_of(data["idea_id"]))
    if audience == BRANCH_STAFF:
        return Group(staff_of(data.get("branch_id")))
    if audience == MENTIONED:
        return Named(tuple(dict.fromkeys(data.get("mentions") or ())))
    if audience == PERSON:
        return Named((data.get("person_id") or event.subject,))
    if audience == RESPONDENT:
        return Named((data["person_id"],))
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
    if event.type == FLAGGED:
        return {"idea_id": data["idea_id"], "title": title, "branch": _branch(data.get("branch_id"), known),
                "target": data["target"], "note": data["reason"]}
    if event.type == SURVEY_OPENED:
        return {"idea_id": data["idea_id"], "title": idea.get("title", ""), "survey_id": data["survey_id"]}
    if event.type == FEEDBACK_SUBMITTED:
        score, out_of = lowest(data) or (0, 0)
        said = [a["value"] for a in data.get("answers") or () if a.get("type") == "text"]
        return {"feedback_id": data["feedback_id"], "branch": _branch(data.get("branch_id"), known),
                "score": score, "out_of": out_of, **({"note": said[0]} if said else {})}
    if event.type == FEEDBACK_REPLIED:
        return {"feedback_id": data["feedback_id"], "note": data["text"]}
    return {}


def _branch(branch_id: str | None, known: Known) -> Mapping[str, str] | None:
    """A branch's names by language (its id while the branch is unknown); None: the whole organization."""
    if branch_id is None:
        return None
    return known.branch_names(branch_id) or {"he": branch_id, "en": branch_id}
