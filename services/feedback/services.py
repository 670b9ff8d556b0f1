"""Feedback use cases: plain data in, who may do what checked, domain rules applied, changes and their events
stored together. The API and the event handlers stay thin."""
from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping

from pymongo.database import Database

from services.feedback import SERVICE, comparison, domain, exports, insights
from services.feedback.domain import OUTCOME, QUICK, now
from services.feedback.insights import Filter, Segment
from services.feedback.repository import (CubeCache, IdeasReadModel, Insights, Invites, Participation, People,
                                          ResponseRepository, Segments, SurveyRepository, Volunteers,
                                          anonymous_claim, branch_of, person_key, survey_of)
from shared.auth import ORG_ADMIN, STAFF_ROLES, Actor, Forbidden, Principal, require_signed_in
from shared.errors import Conflict, DomainError, N_, NotFound
from shared.events import Event, Recorded, envelop_all
from shared.readmodels import BRANCHES

log = logging.getLogger(__name__)
IDEA_STATUSES, LEAD_TIMES = insights.IDEA_STATUSES, insights.LEAD_TIMES
EXPORT_BATCH = 1000  # responses read per round trip while an export streams
MAX_LEAD_DAYS = 366  # longer lead times are kept in the last bucket ("366 days or more")


@dataclass
class Feedback:
    """The feedback service's storage, as the use cases see it."""

    db: Database
    surveys: SurveyRepository
    responses: ResponseRepository
    insights: Insights
    people: People
    segments: Segments
    participation: Participation
    ideas: IdeasReadModel
    invites: Invites

    @classmethod
    def of(cls, db: Database, cache: CubeCache | None = None) -> "Feedback":
        return cls(db, SurveyRepository(db), ResponseRepository(db), Insights(db, cache), People(db), Segments(db),
                   Participation(db), IdeasReadModel(db), Invites(db))


def _events(recorded, actor: Actor) -> list[Event]:
    return envelop_all(recorded, service=SERVICE, actor=actor)


# --- who may do what -----------------------------------------------------------------------------------

def may_manage(principal: Principal | None, branch_id: str | None) -> bool:
    """Staff of a branch manage its surveys and read its feedback; surveys without a branch are org admins'."""
    return principal is not None and principal.has_role_in(branch_id, STAFF_ROLES)


def _require_manager(actor: Actor, branch_id: str | None) -> Principal:
    principal = require_signed_in(actor.principal)
    if not may_manage(principal, branch_id):
        raise Forbidden(N_("Only staff of the branch may do this.") if branch_id
                        else N_("Only organization admins may do this for the whole organization."))
    return principal


def _require_person(actor: Actor) -> Principal:
    principal = require_signed_in(actor.principal)
    if principal.kind != "person":
        raise Forbidden(N_("Feedback comes from people."))
    return principal


def _known_branch(s: Feedback, branch_id: str) -> dict:
    branch = branch_of(s.db, branch_id)
    if branch is None or not branch.get("open", True):
        raise DomainError(N_("Unknown or closed branch."), "branch_id")
    return branch


# --- surveys -------------------------------------------------------------------------------------------

def create_survey(s: Feedback, actor: Actor, *, title, questions, closes_at: datetime, branch_id: str | None = None,
                  program: str | None = None, intro=None, opens_at: datetime | None = None,
                  anonymous: bool = False) -> dict:
    """A draft survey for a branch (its staff), or for a program or the whole organization (org admins; a
    program survey at a branch is its staff's)."""
    principal = _require_manager(actor, branch_id)
    region_id = _known_branch(s, branch_id).get("region_id") if branch_id else None
    survey = domain.new_survey(title=title, intro=intro, branch_id=branch_id, region_id=region_id, program=program,
                               questions=questions, opens_at=opens_at, closes_at=closes_at, anonymous=anonymous,
                               created_by=principal.id)
    s.surveys.add(survey, ())
    return s.surveys.get_doc(survey.id)


def _survey_doc(s: Feedback, actor: Actor, survey_id: str, *, with_salt: bool = False) -> dict:
    """A survey the asker may see: staff of its branch see every survey; others see open and closed ones, and
    an outcome survey only if they were invited to it."""
    principal = require_signed_in(actor.principal)
    doc = s.surveys.get_doc(survey_id, with_salt=with_salt)
    if doc is None:
        raise NotFound(f"No survey {survey_id}.")
    if may_manage(principal, doc.get("branch_id")):
        return doc
    if doc["status"] == domain.DRAFT:
        raise NotFound(f"No survey {survey_id}.")
    if doc["kind"] == OUTCOME and not s.invites.has(survey_id, principal.id):
        raise Forbidden(N_("This survey is for the people who took part in the idea."))
    return doc


def get_survey(s: Feedback, actor: Actor, survey_id: str) -> dict:
    return _survey_doc(s, actor, survey_id)


def list_surveys(s: Feedback, actor: Actor, *, branch_id: str | None = None, status: str | None = None,
                 after: str | None = None, limit: int = 20) -> tuple[list[dict], str | None]:
    """Surveys of a branch (or, without one, of programs and the whole organization), newest first. Staff see
    every status; others see the surveys they can answer."""
    principal = require_signed_in(actor.principal)
    staff = may_manage(principal, branch_id)
    at = now()
    found = []
    for doc in s.surveys.of_branch(branch_id or domain.ORG):
        if status and doc["status"] != status:
            continue
        if not staff and (doc["status"] != domain.OPEN or not survey_of(doc).accepting(at) or (
                doc["kind"] == OUTCOME and not s.invites.has(doc["_id"], principal.id))):
            continue
        found.append(doc)
    found.sort(key=lambda d: (d["created_at"], d["_id"]), reverse=True)
    keys = [f"{d['created_at'].isoformat()}|{d['_id']}" for d in found]
    start = sum(1 for k in keys if after and k >= after) if after else 0
    page = found[start:start + limit]
    more = start + limit < len(found)
    return page, keys[start + limit - 1] if more and page else None


def public_survey(s: Feedback, token: str) -> dict:
    """The survey behind a walk-in link, for anyone; answering it needs a sign-in (one response per person)."""
    doc = s.surveys.by_token(token)
    if doc is None or doc["status"] == domain.DRAFT or doc["kind"] == OUTCOME:
        raise NotFound(N_("This link does not lead to a survey."))
    return doc


def edit_survey(s: Feedback, actor: Actor, survey_id: str, *, version: int | None = None, **changes) -> dict:
    doc = _survey_doc(s, actor, survey_id)
    _require_manager(actor, doc.get("branch_id"))
    survey = survey_of(doc)
    if version is not None and version != survey.version:
        raise Conflict(N_("The survey was changed by someone else; reload and try again."))
    edited = domain.edit(survey, **changes)
    if edited is not survey:
        s.surveys.save(edited, ())
    return s.surveys.get_doc(survey_id)


def open_survey(s: Feedback, actor: Actor, survey_id: str) -> dict:
    doc = _survey_doc(s, actor, survey_id)
    principal = _require_manager(actor, doc.get("branch_id"))
    opened = domain.publish(survey_of(doc), by=principal.id)
    s.surveys.save(opened, _events(opened.events, actor))
    return s.surveys.get_doc(survey_id)


def _responses_of(s: Feedback, survey_id: str) -> int:
    return max(0, (s.insights.survey_results(survey_id) or {}).get("n", 0))


def close_survey(s: Feedback, actor: Actor, survey_id: str) -> dict:
    """Stop accepting responses. An anonymous survey's salt goes with it: from then on nobody can tell whose
    its answers are."""
    doc = _survey_doc(s, actor, survey_id)
    principal = _require_manager(actor, doc.get("branch_id"))
    closed = domain.close(survey_of(doc), by=principal.id, responses=_responses_of(s, survey_id))
    s.surveys.save(closed, _events(closed.events, actor), unset=["salt"])
    return s.surveys.get_doc(survey_id)


def close_due(s: Feedback, at: datetime | None = None) -> int:
    """Close the open surveys whose closing date has passed (`maintenance close-due`); returns how many."""
    at = at or now()
    closed = 0
    for doc in s.surveys.with_status(domain.OPEN):
        if doc["closes_at"] <= at:
            survey = domain.close(survey_of(doc), by=None, responses=_responses_of(s, doc["_id"]), at=at)
            try:
                s.surveys.save(survey, _events(survey.events, Actor(None)), unset=["salt"])
                closed += 1
            except Conflict:
                pass  # closed by someone else meanwhile
    return closed


def survey_results(s: Feedback, actor: Actor, survey_id: str) -> dict:
    doc = _survey_doc(s, actor, survey_id)
    _require_manager(actor, doc.get("branch_id"))
    results = insights.results_figures(s.insights.survey_results(survey_id), doc["questions"])
    return dict(results, survey_id=survey_id, threshold=insights.THRESHOLD)


def export_responses(s: Feedback, actor: Actor, survey_id: str) -> tuple[list[str], Iterator[list]]:
    """A survey's responses as a table, for staff of its branch, read from the store as they are written out
    (exports.response_table: the privacy threshold, and nobody named)."""
    doc = _survey_doc(s, actor, survey_id)
    _require_manager(actor, doc.get("branch_id"))
    return exports.response_table(
        doc["questions"], s.responses.of_survey(survey_id, {"segment": 1}).batch_size(EXPORT_BATCH),
        s.responses.of_survey(survey_id, {"segment": 1, "answers": 1, "submitted_at": 1}).batch_size(EXPORT_BATCH))


def export_satisfaction(s: Feedback, actor: Actor, *, scope: str, months: list[str], flt: Filter,
                        by: str | None = None) -> tuple[list[str], list[list]]:
    """The satisfaction view as a table: the same cells, hidden the same way (exports.insight_table)."""
    found = satisfaction(s, actor, scope=scope, months=months, flt=flt, by=by)
    return exports.insight_table(by, found["totals"], found["rows"])


def export_branches(s: Feedback, actor: Actor, *, months: list[str], region_id: str | None = None,
                    sort: str = "name") -> tuple[list[str], Iterator[list]]:
    """The comparison of branches as a table: the same cells, hidden the same way (exports.branch_table)."""
    return exports.branch_table(compare_branches(s, actor, months=months, region_id=region_id, sort=sort)["branches"])


# --- responses -----------------------------------------------------------------------------------------

def _segment_of(s: Feedback, person: Mapping | None, branch_id: str | None, channel: str, program: str | None,
                pk: str | None, at: datetime) -> Segment:
    """Who answered, stamped at submit time: the branch and its region, the person's consented age and
    population group (frozen for the month), program, channel and month."""
    region_id = (branch_of(s.db, branch_id) or {}).get("region_id") if branch_id else None
    age = (person or {}).get("age_group")
    age = age if age in domain.AGE_GROUPS else None
    population = domain.safe_code((person or {}).get("population_group"))
    month = domain.month_of(at)
    if pk:
        age, population = s.segments.freeze(pk, month, age, population)
    return Segment(branch_id, region_id, age, population, channel, program, month)


def _submitted_fact(doc: Mapping) -> Recorded:
    segment = doc["segment"]
    anonymous = doc["anonymous"]
    answers = [a for a in doc["answers"] if not (anonymous and a["type"] == domain.TEXT)]
    return Recorded("cocreate.feedback.submitted.v1", doc["_id"], {
        "feedback_id": doc["_id"], "kind": doc["kind"], "survey_id": doc.get("survey_id"),
        "idea_id": doc.get("idea_id"), "branch_id": segment["branch_id"], "region_id": segment["region_id"],
        "program": segment["program"], "channel": segment["channel"], "anonymous": anonymous,
        "person_id": None if anonymous else doc.get("person_id"), "entered_by": doc.get("entered_by"),
        "age_group": None if anonymous else segment["age_group"],
        "population_group": None if anonymous else segment["population_group"],
        "answers": answers, "has_text": any(a["type"] == domain.TEXT for a in doc["answers"]),
        "submitted_at": doc["submitted_at"].isoformat()}, segment["branch_id"])


def _store(s: Feedback, doc: dict, actor: Actor) -> dict:
    """Store new feedback with its event (the respondent is not the event's actor when anonymous), then count
    it in the insights at once; the worker counts whatever a crash left uncounted."""
    who = Actor(None, actor.correlation_id) if doc["anonymous"] and not doc.get("entered_by") else actor
    s.responses.add(doc, _events([_submitted_fact(doc)], who))
    try:
        count_response(s, doc)
    except Exception:  # the response stands: uncounted, the worker counts it; half-counted, a rebuild repairs it
        log.exception("response stored but not counted", extra={"feedback_id": doc["_id"]})
    return doc


def submit_response(s: Feedback, actor: Actor, survey_id: str, *, answers: Mapping[str, Any], channel: str = "web",
                    on_behalf_of: Mapping[str, Any] | None = None) -> dict:
    """One response per person per survey. On the web the respondent is who signed in; staff entering a
    client's answers (in person, by phone, at a kiosk) give the client's person id when the client has an
    account, and record the client's consent."""
    principal = _require_person(actor)
    doc = _survey_doc(s, actor, survey_id, with_salt=True) if on_behalf_of is None else s.surveys.get_doc(
        survey_id, with_salt=True)
    if doc is None:
        raise NotFound(f"No survey {survey_id}.")
    survey = survey_of(doc)
    at = now()
    if on_behalf_of is not None:
        staff_branch = survey.branch_id or next(iter(principal.branches_with(STAFF_ROLES)), None)
        _require_manager(actor, staff_branch)
        domain.check_channel(channel, entered_by_staff=True)
        if not on_behalf_of.get("consent"):
            raise DomainError(N_("Record the client's consent before entering their answers."), "on_behalf_of")
        person_id, entered_by = on_behalf_of.get("person_id"), principal.id
    else:
        domain.check_channel(channel, entered_by_staff=False)
        person_id, entered_by, staff_branch = principal.id, None, None
    if not survey.accepting(at):
        raise DomainError(N_("The survey is not open for responses."))
    if survey.kind == OUTCOME and (person_id is None or not s.invites.has(survey.id, person_id)):
        raise Forbidden(N_("This survey is for the people who took part in the idea."))
    checked = domain.check_answers(survey.questions, answers)
    person = s.people.get(person_id) if person_id else None
    if person and person.get("erased"):
        raise DomainError(N_("Unknown person."), "on_behalf_of")
    if person_id and entered_by and person is None:
        raise DomainError(N_("Unknown person."), "on_behalf_of")
    home = (person or {}).get("home_branch") or (principal.home_branch if entered_by is None else staff_branch)
    response_id = domain.new_id("rs")
    pk = person_key(person_id) if person_id else None
    segment = _segment_of(s, person, survey.branch_id or home, channel, survey.program, pk, at)
    anonymous = survey.anonymous
    if person_id is None:
        claim = response_id  # a walk-in client without an account: nothing to hold them to one response
    elif anonymous:
        claim = anonymous_claim(survey.id, doc.get("salt") or "", person_id)
    else:
        claim = f"{survey.id}:{person_id}"
    branch_key = segment.branch_id or domain.ORG
    response = {"_id": response_id, "kind": survey.kind, "claim": claim, "survey_id": survey.id,
                "idea_id": survey.idea_id, "segment": segment.as_dict(), "branch_key": branch_key,
                "anonymous": anonymous, "person_id": None if anonymous else person_id, "entered_by": entered_by,
                "answers": [{"question_id": q.id, "type": q.type, "value": v} for q, v in checked],
                "submitted_at": at, "uncounted": True}
    if anonymous and pk:
        response["pk"] = pk  # only until counted: the people counters need it once
    if not anonymous and person_id:
        response["list_key"] = f"{survey.id}|{branch_key}"
    return _store(s, response, actor)


def quick_feedback(s: Feedback, actor: Actor, *, rating: int, branch_id: str | None = None,
                   program: str | None = None, comment: str | None = None) -> dict:
    """Any participant rates a branch or a program (1-5), with an optional comment, any time."""
    principal = _require_person(actor)
    if branch_id is None and program is None:
        raise DomainError(N_("Rate a branch or a program."), "branch_id")
    if branch_id is not None:
        _known_branch(s, branch_id)
    if program is not None and domain.safe_code(program) is None:
        raise DomainError(N_("A program code is 1-32 letters, digits, '-' or '_'."), "program")
    value, text = domain.rating(rating), domain.comment_text(comment)
    at = now()
    response_id = domain.new_id("qf")
    segment = _segment_of(s, s.people.get(principal.id), branch_id, "web", program, person_key(principal.id), at)
    answers = [{"question_id": "rating", "type": domain.CSAT, "value": value}]
    if text:
        answers.append({"question_id": "comment", "type": domain.TEXT, "value": text})
    branch_key = branch_id or domain.ORG
    doc = {"_id": response_id, "kind": QUICK, "claim": response_id, "survey_id": None, "idea_id": None,
           "segment": segment.as_dict(), "branch_key": branch_key, "anonymous": False, "person_id": principal.id,
           "entered_by": None, "answers": answers, "submitted_at": at, "uncounted": True,
           "list_key": f"quick|{branch_key}"}
    return _store(s, doc, actor)


def count_response(s: Feedback, doc: Mapping) -> bool:
    """Count a response in the insights and in participation, once (see Insights.count)."""
    pk = doc.get("pk") or (person_key(doc["person_id"]) if doc.get("person_id") else None)
    if not s.insights.count(doc):
        return False
    segment = doc["segment"]
    s.participation.record(None, pk, segment["branch_id"], segment["region_id"], doc["submitted_at"],
                           "rated" if doc["kind"] == QUICK else "answered")
    return True


def count_pending(s: Feedback, limit: int = 500) -> int:
    """Count responses a crash left uncounted (the worker does it for each feedback.submitted as well)."""
    return sum(1 for doc in s.responses.uncounted(limit) if count_response(s, doc))


def _listed(docs: list[dict], after: str | None, limit: int) -> tuple[list[dict], str | None]:
    docs.sort(key=lambda d: (d["submitted_at"], d["_id"]), reverse=True)
    keys = [f"{d['submitted_at'].isoformat()}|{d['_id']}" for d in docs]
    start = sum(1 for k in keys if k >= after) if after else 0
    page = docs[start:start + limit]
    return page, keys[start + limit - 1] if start + limit < len(docs) and page else None


def list_responses(s: Feedback, actor: Actor, survey_id: str, *, branch_id: str | None = None,
                   after: str | None = None, limit: int = 20) -> tuple[list[dict], str | None]:
    """Identified responses, for staff of the branch they are about (anonymous ones are never listed: their
    figures are in the results, under the privacy threshold)."""
    doc = _survey_doc(s, actor, survey_id)
    branch = doc.get("branch_id") or branch_id
    if doc.get("branch_id") and branch_id and branch_id != doc["branch_id"]:
        raise DomainError(N_("The survey belongs to another branch."), "branch_id")
    _require_manager(actor, branch)
    if branch is None:  # an org admin over a survey without a branch: every identified response
        docs = [d for d in s.responses.of_survey(survey_id) if d.get("list_key")]
    else:
        docs = s.responses.listed(f"{survey_id}|{branch}")
    return _listed(docs, after, limit)


ANONYMOUS_TEXTS = 200  # written answers of an anonymous survey shown, at most


def anonymous_texts(s: Feedback, actor: Actor, survey_id: str, limit: int = ANONYMOUS_TEXTS) -> list[dict]:
    """The written answers of an anonymous survey, for staff of its branch, once 5 or more people have answered:
    the text alone (no person, no time), in alphabetical order rather than the order they came in, so nothing
    ties an answer to who gave it; up to `limit`. Under the threshold, none."""
    doc = _survey_doc(s, actor, survey_id)
    _require_manager(actor, doc.get("branch_id"))
    texts = {q["id"] for q in doc["questions"] if q["type"] == domain.TEXT}
    results = s.insights.survey_results(survey_id) or {}
    if not doc.get("anonymous") or not texts or max(0, results.get("n", 0)) < insights.THRESHOLD:
        return []
    found = [{"question_id": a["question_id"], "text": a["value"]}
             for r in s.responses.of_survey(survey_id, {"answers": 1})
             for a in r.get("answers", []) if a["question_id"] in texts and a.get("value")]
    return sorted(found, key=lambda t: (t["question_id"], t["text"].casefold()))[:limit]


def list_quick(s: Feedback, actor: Actor, *, branch_id: str | None, after: str | None = None,
               limit: int = 20) -> tuple[list[dict], str | None]:
    _require_manager(actor, branch_id)
    return _listed(s.responses.listed(f"quick|{branch_id or domain.ORG}"), after, limit)


def my_feedback(s: Feedback, actor: Actor, response_id: str) -> dict:
    """A response or quick feedback, for its respondent or the staff of its branch."""
    principal = require_signed_in(actor.principal)
    doc = s.responses.get(response_id)
    if doc is None:
        raise NotFound(f"No feedback {response_id}.")
    if doc.get("person_id") != principal.id and not may_manage(principal, doc["segment"].get("branch_id")):
        raise Forbidden(N_("Only the respondent and the branch's staff see this feedback."))
    if doc.get("anonymous") and doc.get("person_id") != principal.id:
        raise Forbidden(N_("Anonymous answers are seen only in the survey's results."))
    return doc


def reply(s: Feedback, actor: Actor, response_id: str, *, text: str) -> dict:
    """Staff of the feedback's branch answer identified feedback; the respondent is told (feedback.replied)."""
    doc = s.responses.get(response_id)
    if doc is None:
        raise NotFound(f"No feedback {response_id}.")
    principal = _require_manager(actor, doc["segment"].get("branch_id"))
    if not domain.may_be_replied(doc):
        raise DomainError(N_("Only identified feedback with something written (or quick feedback) can be replied to."))
    at = now()
    entry = {"id": domain.new_id("rp"), "by": principal.id, "by_name": principal.name or principal.id,
             "text": domain.reply_text(text), "at": at}
    fact = Recorded("cocreate.feedback.replied.v1", response_id, {
        "feedback_id": response_id, "reply_id": entry["id"], "kind": doc["kind"], "survey_id": doc.get("survey_id"),
        "branch_id": doc["segment"].get("branch_id"), "person_id": doc["person_id"], "by": principal.id,
        "text": entry["text"], "replied_at": at.isoformat()}, doc["segment"].get("branch_id"))
    s.responses.add_reply(response_id, entry, _events([fact], actor))
    return entry


def replies(s: Feedback, actor: Actor, response_id: str) -> list[dict]:
    return list(my_feedback(s, actor, response_id).get("replies", []))


# --- insights ------------------------------------------------------------------------------------------

def _scope_of(actor: Actor, scope: str) -> str:
    """`org`, `branch:<id>` or `region:<id>`: staff read their branch; regions and the organization are the org
    admins'."""
    principal = require_signed_in(actor.principal)
    kind, _, ident = scope.partition(":")
    if kind == "branch":
        if not may_manage(principal, ident):
            raise Forbidden(N_("Only staff of the branch read its insights."))
        return insights.scope_key("branch", ident)
    if not principal.has_role_in(None, [ORG_ADMIN]):
        raise Forbidden(N_("Only organization admins read regional and organization-wide insights."))
    return "org" if kind == "org" else insights.scope_key("region", ident)


class _Reader:
    """What one view reads, each document once: for a cell of no or one dimension the month summaries, of two
    dimensions the pair table of its first value, of three or four the cube of its age and population, or
    (when age or population is free, or the breakdown's) the service cube of its channel and program (either
    may be `*`)."""

    def __init__(self, s: Feedback, key: str, months: list[str]):
        self.s, self.key, self.months = s, key, months
        self.summaries = s.insights.summaries(key, months)
        self._pairs: dict[tuple, list[dict]] = {}
        self._cubes: dict[tuple, list[dict]] = {}

    def _pair(self, pair: str, first: str) -> list[dict]:
        if (pair, first) not in self._pairs:
            self._pairs[pair, first] = self.s.insights.pairs(self.key, self.months, pair, first)
        return self._pairs[pair, first]

    def _flat(self, flt: Filter, across: str | None = None) -> list[dict]:
        """The flat cells a cell of three or four dimensions is summed from; `across` names the dimension a
        breakdown varies (a breakdown by age or population reads the one document holding them all)."""
        free = None in (flt.age_group, flt.population_group) or across in ("age_group", "population_group")
        if free and (flt.channel, flt.program) != (None, None):
            # age x population for the channel and program (either may be every one: `*`)
            key = ("service", flt.channel or insights.ANY, flt.program or insights.ANY)
            if key not in self._cubes:
                self._cubes[key] = insights.flat_months(self.s.insights.service_cubes(self.key, self.months,
                                                                                    key[1], key[2]))
            return self._cubes[key]
        narrow = (flt.age_group, flt.population_group)
        if narrow not in self._cubes:
            self._cubes[narrow] = insights.flat_months(self.s.insights.cubes(
                self.key, self.summaries, Filter(age_group=narrow[0], population_group=narrow[1])))
        return self._cubes[narrow]

    def cell(self, flt: Filter, month: str | None = None, across: str | None = None) -> dict:
        def pick(docs: list[dict]) -> list[dict]:
            return [d for d in docs if d["month"] == month] if month else docs

        dims = flt.dimensions
        if len(dims) <= 1:
            code, value = (insights.DIMENSION_CODES[dims[0]], getattr(flt, dims[0])) if dims else ("t", "all")
            return insights.marginal(pick(self.summaries), code, value)
        if len(dims) == 2:
            first, second = (getattr(flt, d) for d in dims)
            return insights.pair_cell(pick(self._pair(insights.pair_of(dims), first)), second)
        return insights.summarize(pick(self._flat(flt, across)), flt)


def _empty(row: Mapping) -> bool:
    return all(not v.get("suppressed") and not v.get("people") for k, v in row.items() if isinstance(v, dict))


def view(s: Feedback, key: str, months: list[str], flt: Filter, by: str | None = None,
         reader: _Reader | None = None) -> tuple[dict, list[dict]]:
    """Totals and rows (`by` a dimension or month) of a scope's insights over months, from the documents the
    view needs (no scan; a `reader` already used for the same scope and months reads none twice); every cell
    is hidden where 1 to 4 people stand behind it."""
    reader = reader or _Reader(s, key, months)
    totals = reader.cell(flt)
    rows: list[dict] = []
    if by == "month":
        rows = [dict(reader.cell(flt, month), value=month) for month in months]
    elif by:
        values = ([getattr(flt, by)] if getattr(flt, by) is not None
                  else insights.marginal_values(reader.summaries, insights.DIMENSION_CODES[by]))
        rows = [dict(reader.cell(flt.with_(by, value), across=by),
                     value=None if value == insights.UNKNOWN else value) for value in values]
        rows = [row for row in rows if not _empty(row)]
        insights.suppress_complements(rows, ("surveys", "quick", "outcomes"))
    return totals, rows


def satisfaction(s: Feedback, actor: Actor, *, scope: str, months: list[str], flt: Filter,
                 by: str | None = None) -> dict:
    """CSAT, NPS, quick ratings and outcome answers for a scope, months and segment filter, from the month
    documents only (no scan); every figure is hidden where fewer than the threshold of people stand behind it."""
    key = _scope_of(actor, scope)
    totals, rows = view(s, key, months, flt, by)
    return {"scope": scope, "months": months, "threshold": insights.THRESHOLD, "by": by,
            "filters": {d: getattr(flt, d) for d in insights.DIMENSIONS}, "totals": totals, "rows": rows}


def satisfaction_by(s: Feedback, actor: Actor, *, scope: str, months: list[str], flt: Filter,
                    by: tuple[str, ...]) -> dict:
    """satisfaction() broken down by each of several dimensions, reading each document once (the dashboards'
    view): the totals, and the rows of each dimension."""
    key = _scope_of(actor, scope)
    reader = _Reader(s, key, months)
    found = {dim: view(s, key, months, flt, dim, reader) for dim in by}
    totals = next(iter(found.values()))[0] if found else view(s, key, months, flt, None, reader)[0]
    return {"scope": scope, "months": months, "threshold": insights.THRESHOLD, "totals": totals,
            "rows": {dim: rows for dim, (_, rows) in found.items()}}


def themes(s: Feedback, actor: Actor, *, scope: str, months: list[str], age_group: str | None = None,
           population_group: str | None = None, limit: int = 10) -> dict:
    """The top themes of the free text (keywords and two-word phrases) of a scope's feedback over months, for
    everyone or one age or population group, each with its responses and per-month trend, from the theme
    documents only (no scan); a theme behind fewer than 5 distinct people is not listed at all."""
    key = _scope_of(actor, scope)
    return dict(theme_figures(s, key, months, age_group, population_group, limit), scope=scope)


def theme_figures(s: Feedback, key: str, months: list[str], age_group: str | None = None,
                  population_group: str | None = None, limit: int = 10) -> dict:
    if age_group is not None and population_group is not None:
        raise DomainError(N_("Filter themes by an age group or by a population group, not both."), "age_group")
    group = insights.theme_group(age_group, population_group)
    found = {month: s.insights.themes.of(key, month, group) for month in months}
    return {"months": months, "threshold": insights.THRESHOLD,
            "filters": {"age_group": age_group, "population_group": population_group},
            "themes": insights.themes_view(found, months, limit)}


BOARD_MONTHS = 3
BOARD_THEMES = 10
BOARD_IDEAS = 20


def _stamp(at: datetime | None) -> float:
    if at is None:
        return 0.0
    return (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp()


def board(s: Feedback, branch_id: str) -> dict:
    """The public "you said, we did" board of a branch (no sign-in): its top themes of the last 3 months (only
    those of 5 or more people), and its implemented ideas, newest first, with their measured outcome where it
    may be shown (5 or more answers)."""
    branch = branch_of(s.db, branch_id)
    if branch is None:
        raise NotFound(f"No branch {branch_id}.")
    months = months_back(BOARD_MONTHS)
    said = theme_figures(s, insights.scope_key("branch", branch_id), months, limit=BOARD_THEMES)["themes"]
    done = [i for i in s.ideas.of_branch(branch_id) if i.get("status") == "implemented"]
    done.sort(key=lambda i: (_stamp(i.get("implemented_at") or i.get("submitted_at")), i["_id"]), reverse=True)
    ideas = []
    for idea in done[:BOARD_IDEAS]:
        survey = s.surveys.get_doc(domain.outcome_id(idea["_id"]))
        success = _outcome_of(s, survey)["success"] if survey else {"suppressed": True}
        ideas.append({"idea_id": idea["_id"], "title": idea.get("title") or "",
                      "submitted_at": idea.get("submitted_at"), "implemented_at": idea.get("implemented_at"),
                      "outcome": None if success.get("suppressed") or not success.get("answers") else success})
    return {"branch_id": branch_id, "months": months, "themes": said, "ideas": ideas}


def _idea_scopes(idea: Mapping) -> list[str]:
    found = []
    if idea.get("branch_id"):
        found.append(f"br:{idea['branch_id']}")
    if idea.get("region_id"):
        found.append(f"rg:{idea['region_id']}")
    return found + ["org"]


def idea_insights(s: Feedback, actor: Actor, *, scope: str, months: list[str]) -> dict:
    """The idea funnel (ideas per status now), lead times of the steps completed in the months (median and
    90th percentile in whole days, from kept day histograms), and participation per month."""
    key = _scope_of(actor, scope)
    funnel = s.insights.get(f"f|{key}") or {}
    hist: dict[str, dict[str, int]] = {name: {} for name in LEAD_TIMES}
    for month in months:
        doc = s.insights.get(f"l|{key}|{month}") or {}
        for name in LEAD_TIMES:
            for bucket, n in (doc.get(name) or {}).items():
                hist[name][bucket] = hist[name].get(bucket, 0) + n
    registered = max(0, (s.insights.get(f"r|{key}") or {}).get("participants", 0))
    participation = []
    for month in months:
        doc = s.insights.get(f"p|{key}|{month}") or {}
        row = {name: max(0, doc.get(name, 0)) for name in (*Participation.ACTIVITIES, "any")}
        row.update(month=month, share_of_registered=round(row["any"] / registered, 4) if registered else None)
        participation.append(row)
    return {"scope": scope, "months": months,
            "funnel": {status: max(0, funnel.get(status, 0)) for status in IDEA_STATUSES},
            "lead_times": {name: insights.lead_figures(hist[name]) for name in LEAD_TIMES},
            "participation": {"registered": registered, "months": participation}}


def compare_branches(s: Feedback, actor: Actor, *, months: list[str], region_id: str | None = None,
                     sort: str = "name", offset: int = 0, limit: int | None = None, lang: str = "en") -> dict:
    """For org admins: every branch (of a region, or all) side by side over the months: survey satisfaction and
    NPS, quick ratings, outcome answers (each hidden where 1 to 4 people stand behind it), the idea funnel now and
    the lead times of the months; sorted by a column (names in `lang`), `limit` rows from `offset`. From the
    packs (comparison.py): at most a minute behind."""
    principal = require_signed_in(actor.principal)
    if not principal.has_role_in(None, [ORG_ADMIN]):
        raise Forbidden(N_("Only organization admins compare branches."))
    as_of, rows = s.insights.comparison.rows(months, region_id, now())
    if rows is None:  # no branch of the region packed: a region newer than the last pack, or none
        if s.db[BRANCHES].find_one({"region_id": region_id}, {"_id": 1}) is None:
            raise NotFound(f"No region {region_id}.")
        rows = []
    rows = comparison.sorted_rows(rows, sort, lang)
    return {"months": months, "region_id": region_id, "threshold": insights.THRESHOLD, "sort": sort,
            "as_of": as_of, "total": len(rows), "offset": offset,
            "branches": rows[offset:None if limit is None else offset + limit]}


def pack_comparison(s: Feedback, at: datetime | None = None) -> int:
    """The worker's chore: pack the current month's comparison (and the last month's, in its first two hours)
    and any of the last 36 months never packed (closed months are packed once), combine the periods the pages
    offer, and pack the branches and their funnel. Returns how many months it packed."""
    at = at or now()
    done = s.insights.comparison.packed_months()
    current, previous = months_back(2, at)[::-1]
    due = [current] + ([previous] if at.day == 1 and at.hour < 2 else [])
    due += [m for m in months_back(36, at) if m not in done and m not in due]
    packs = {month: s.insights.comparison.pack(month, at) for month in due}
    for month in months_back(max(comparison.PERIODS), at):
        if month not in packs:
            packs[month] = s.insights.comparison.month_pack(month, at)[0]
    for period in comparison.PERIODS:
        s.insights.comparison.pack_period(period, packs, months_back(period, at), at)
    s.insights.comparison.pack_now(at)
    return len(due)


AMBASSADORS = 10  # people listed in each of a branch's ambassador lists


def spread_and_ambassadors(s: Feedback, actor: Actor, *, branch_id: str) -> dict:
    """For a branch's staff: how its implemented ideas spread (the branches that adopted each), how many ideas it
    adopted from others, and its ambassadors: participants whose ideas it implemented or others adopted, and its
    top volunteers (staff left out; erased people are gone from the read models)."""
    _scope_of(actor, f"branch:{branch_id}")
    if branch_of(s.db, branch_id) is None:  # closed branches keep their history; unknown ones have none
        raise NotFound(f"No branch {branch_id}.")
    ideas = s.ideas.of_branch(branch_id)
    spread, ideas_of = [], Counter()
    for idea in ideas:
        if idea.get("adopted_from") or idea["status"] != "implemented":
            continue
        adoptions = s.ideas.adoptions_of(idea["_id"])
        if adoptions:
            spread.append({"idea_id": idea["_id"], "title": idea.get("title", ""), "adoptions": len(adoptions),
                           "branches": sorted({a["branch_id"] for a in adoptions if a.get("branch_id")})})
        if idea.get("author_id"):
            ideas_of[idea["author_id"]] += 1
    volunteered = Counter(v["person_id"] for v in Volunteers(s.db).of_branch(branch_id))
    makers = _makers(s, branch_id)

    def listed(counts: Counter, field: str) -> list[dict]:
        people = [(n, p) for p, n in counts.items() if p not in makers]
        return [{"person_id": p, "name": (s.people.get(p) or {}).get("name") or "", field: n}
                for n, p in sorted(people, key=lambda item: (-item[0], item[1]))[:AMBASSADORS]]

    spread.sort(key=lambda row: (-row["adoptions"], row["title"]))
    return {"branch_id": branch_id, "spread": spread,
            "adopted_from_elsewhere": sum(1 for idea in ideas if idea.get("adopted_from")),
            "ambassadors": listed(ideas_of, "ideas_implemented"), "volunteers": listed(volunteered, "ideas")}


def volunteer_joined(s: Feedback, event: Event) -> None:
    Volunteers(s.db).join(event.data["idea_id"], event.data["person_id"], event.data.get("branch_id"))


def volunteer_left(s: Feedback, event: Event) -> None:
    Volunteers(s.db).leave(event.data["idea_id"], event.data["person_id"])


def _outcome_of(s: Feedback, survey: Mapping) -> dict:
    doc = s.insights.survey_results(survey["_id"]) or {}
    totals: dict[str, int] = {}
    for counters in (doc.get("by") or {}).values():
        for name, value in counters.items():
            if name.startswith("c"):
                totals[f"o{name[1:]}"] = totals.get(f"o{name[1:]}", 0) + value
    success = insights.section(insights.OUTCOME, totals, max(0, doc.get("n", 0)))
    return {"idea_id": survey.get("idea_id"), "survey_id": survey["_id"], "survey_status": survey["status"],
            "title": survey["title"], "success": success, "results": doc}


def outcomes(s: Feedback, actor: Actor, *, idea_id: str | None = None, branch_id: str | None = None,
             months: list[str]) -> dict:
    """An idea's measured success (the share of positive answers, CSAT 4-5, to its outcome survey), or a
    branch's: each implemented idea's, how many turned out positive, and the outcome answers by age group."""
    if idea_id is not None:
        survey = s.surveys.get_doc(domain.outcome_id(idea_id))
        idea = s.ideas.get(idea_id)
        if survey is None and idea is None:
            raise NotFound(f"No idea {idea_id}.")
        branch = (survey or idea or {}).get("branch_id")
        _require_manager(actor, branch)
        if survey is None:
            return {"idea_id": idea_id, "branch_id": branch, "survey_id": None, "survey_status": None,
                    "invited": 0, "success": {"suppressed": True}, "by_age_group": [], "by_population_group": []}
        found = _outcome_of(s, survey)
        return {"idea_id": idea_id, "branch_id": branch, "survey_id": survey["_id"],
                "survey_status": survey["status"], "invited": survey.get("invited", 0), "success": found["success"],
                "by_age_group": insights.outcome_by(found["results"], "age_group"),
                "by_population_group": insights.outcome_by(found["results"], "population_group")}
    scope = f"branch:{branch_id}" if branch_id else "org"
    key = _scope_of(actor, scope)
    ideas = [_outcome_of(s, d) for d in s.surveys.of_branch(branch_id or domain.ORG) if d["kind"] == OUTCOME]
    measured = [i for i in ideas if not i["success"]["suppressed"]]
    positive = [i for i in measured if i["success"]["positive_share"] >= 0.5]
    totals, by_age = view(s, key, months, Filter(), "age_group")
    rows = [{"age_group": r["value"], "outcomes": r["outcomes"]} for r in by_age
            if r["outcomes"].get("suppressed") or r["outcomes"].get("people")]
    insights.suppress_complements(rows, ["outcomes"])
    return {"scope": scope, "months": months, "threshold": insights.THRESHOLD,
            "ideas": [{k: i[k] for k in ("idea_id", "survey_id", "survey_status", "title", "success")}
                      for i in sorted(ideas, key=lambda i: i["survey_id"])],
            "implemented_with_outcome": len(measured), "positive": len(positive),
            "positive_share": round(len(positive) / len(measured), 4) if measured else None,
            "totals": totals["outcomes"], "by_age_group": rows}


# --- what other services tell us: people ---------------------------------------------------------------

def _registered_at(state: Mapping | None) -> str | None:
    """The branch a person counts as a registered participant of."""
    if not state or state.get("erased") or not state.get("active", True) or state.get("kind") != "participant":
        return None
    return state.get("home_branch")


def _registered_delta(s: Feedback, before: str | None, after: str | None) -> None:
    if before == after:
        return
    updates = []
    for branch_id, delta in ((before, -1), (after, 1)):
        if branch_id:
            region = (branch_of(s.db, branch_id) or {}).get("region_id")
            for scope in [f"br:{branch_id}"] + ([f"rg:{region}"] if region else []) + ["org"]:
                updates.append((f"r|{scope}", {"participants": delta}, {"kind": "registered", "scope": scope}))
    s.insights.inc(updates)


def learn_person(s: Feedback, event: Event) -> None:
    data = event.data
    if event.type == "cocreate.person.deactivated.v1":
        fields: dict[str, Any] = {"active": data.get("active", False)}
    else:
        age = data.get("age_group")
        fields = {"kind": data.get("kind"), "home_branch": data.get("home_branch"),
                  "age_group": age if age in domain.AGE_GROUPS else None,
                  "population_group": domain.safe_code(data.get("population_group")),
                  "branch_roles": data.get("branch_roles") or {}, "org_roles": data.get("org_roles") or [],
                  "active": data.get("active", True), "name": data.get("display_name") or ""}
    applied, before = s.people.learn(event.subject, fields, event.time)
    if applied:
        _registered_delta(s, _registered_at(before), _registered_at({**(before or {}), **fields}))


def forget_person(s: Feedback, person_id: str, as_of: str) -> None:
    """person.erased: their identified feedback stays counted and becomes anonymous, without its free text (we
    cannot tell whether a text names them); their people entry, month segments and claims go; open anonymous
    surveys forget their claim; they leave every idea's supporters and followers and every open invitation."""
    before = s.people.erase(person_id, as_of)
    _registered_delta(s, _registered_at(before), None)
    for doc in s.responses.of_person(person_id):
        kept = [a for a in doc.get("answers", []) if a["type"] != domain.TEXT]
        s.responses.anonymize(doc["_id"], kept)
    pk = person_key(person_id)
    s.segments.forget(pk)
    s.insights.forget_person(pk)
    s.insights.themes.forget_person(person_id)
    s.participation.forget(pk)
    for survey in s.surveys.with_status(domain.OPEN, {"anonymous": 1, "salt": 1, "kind": 1}):
        if survey.get("anonymous") and survey.get("salt"):
            s.responses.unlink_claim(anonymous_claim(survey["_id"], survey["salt"], person_id))
        if survey.get("kind") == OUTCOME:
            s.invites.remove(survey["_id"], person_id)
    s.ideas.forget_author(person_id)
    Volunteers(s.db).forget(person_id)
    for group in ("s", "f"):
        for doc in s.db["idea_members"].find({group: person_id}, {"_id": 1}):
            s.db["idea_members"].update_one({"_id": doc["_id"]}, {"$pullAll": {group: [person_id]}})


# --- what other services tell us: ideas ----------------------------------------------------------------

def _at(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _days(start: datetime | None, end: datetime) -> int | None:
    if start is None:
        return None
    if start.tzinfo is None:
        start = start.replace(tzinfo=timezone.utc)
    return min(MAX_LEAD_DAYS, max(0, math.floor((end - start).total_seconds() / 86400)))


def _is_staff(s: Feedback, person_id: str | None) -> bool:
    return bool(person_id) and (s.people.get(person_id) or {}).get("kind") == "staff"


def _funnel(s: Feedback, idea: Mapping, moves: Mapping[str, int]) -> None:
    updates = [(f"f|{scope}", dict(moves), {"kind": "funnel", "scope": scope}) for scope in _idea_scopes(idea)]
    if idea.get("branch_id"):
        updates.append(comparison.funnel_update(idea["branch_id"], moves))
    s.insights.inc(updates)


def _lead(s: Feedback, idea: Mapping, name: str, days: int | None, at: datetime) -> None:
    if days is None:
        return
    month = domain.month_of(at)
    updates = [(f"l|{scope}|{month}", {f"{name}.d{days}": 1}, {"kind": "lead", "scope": scope, "month": month})
               for scope in _idea_scopes(idea)]
    if idea.get("branch_id"):
        updates.append(comparison.lead_update(idea["branch_id"], month, name, days))
    s.insights.inc(updates)


def _idea_or_stub(s: Feedback, event: Event, status: str) -> dict:
    """The idea as feedback knows it; an idea submitted before feedback listened is taken up as it is now."""
    idea = s.ideas.get(event.data["idea_id"])
    if idea is not None:
        return idea
    branch_id = event.data.get("branch_id")
    stub = {"_id": event.data["idea_id"], "branch_id": branch_id,
            "region_id": (branch_of(s.db, branch_id) or {}).get("region_id") if branch_id else None,
            "title": "", "author_id": event.data.get("author_id"), "status": status, "submitted_at": None,
            "as_of": ""}
    if s.ideas.add(stub):
        _funnel(s, stub, {status: 1})
    return s.ideas.get(stub["_id"]) or stub


def idea_submitted(s: Feedback, event: Event) -> None:
    data = event.data
    at = _at(data["submitted_at"]) or now()
    idea = {"_id": data["idea_id"], "branch_id": data.get("branch_id"), "region_id": data.get("region_id"),
            "title": data.get("title", ""), "author_id": data.get("author_id"), "status": data["status"],
            "submitted_at": at, "adopted_from": data.get("adopted_from"), "as_of": event.time}
    if data["status"] == "planned":
        idea["planned_at"] = at  # an adoption starts planned: it never waited for a plan
    if s.ideas.add(idea):
        _funnel(s, idea, {data["status"]: 1})
        if data.get("author_id") and not _is_staff(s, data["author_id"]):
            s.participation.record(data["author_id"], None, idea["branch_id"], idea["region_id"], at, "submitted")


def idea_edited(s: Feedback, event: Event) -> None:
    s.ideas.set(event.data["idea_id"], {}, {"title": event.data.get("title", "")})


def idea_status_changed(s: Feedback, event: Event) -> None:
    """Move the funnel, record the lead time of a first plan or implementation, and open the outcome survey
    when the idea is implemented. The move is conditional on the idea being where the event says it was and
    on the event being newer: a redelivery moves nothing twice."""
    data = event.data
    to, previous = data["to"], data["from"]
    at = _at(data.get("at")) or _at(event.time) or now()
    idea = _idea_or_stub(s, event, previous)
    fields: dict[str, Any] = {"status": to}
    leads = []
    if to == "planned" and not idea.get("planned_at"):
        fields["planned_at"] = at
        if not idea.get("adopted_from"):
            leads.append(("planned", _days(idea.get("submitted_at"), at)))
    if to == "implemented" and not idea.get("implemented_at"):
        fields["implemented_at"] = at
        leads.append(("implemented", _days(idea.get("planned_at"), at)))
    if s.ideas.move(idea["_id"], status_from=previous, as_of=event.time, fields=fields):
        _funnel(s, idea, {previous: -1, to: 1})
        for name, days in leads:
            _lead(s, idea, name, days, at)
    if to == "implemented" and (s.ideas.get(idea["_id"]) or {}).get("status") == "implemented":
        open_outcome_survey(s, idea["_id"], Actor(None, event.correlation_id))


def idea_merged(s: Feedback, event: Event) -> None:
    idea = _idea_or_stub(s, event, "submitted")
    if idea["status"] != "merged" and s.ideas.move(idea["_id"], status_from=idea["status"], as_of=event.time,
                                                   fields={"status": "merged"}):
        _funnel(s, idea, {idea["status"]: -1, "merged": 1})


def idea_unmerged(s: Feedback, event: Event) -> None:
    idea = _idea_or_stub(s, event, "merged")
    back = event.data["status"]
    if s.ideas.move(idea["_id"], status_from="merged", as_of=event.time, fields={"status": back}):
        _funnel(s, idea, {"merged": -1, back: 1})


def comment_posted(s: Feedback, event: Event) -> None:
    """The first official response sets the idea's first-response lead time; a participant's comment counts
    in participation."""
    data = event.data
    at = _at(event.time) or now()
    idea = s.ideas.get(data["idea_id"])
    if data.get("official") and idea is not None and not idea.get("responded"):
        if s.ideas.set(idea["_id"], {"responded": {"$ne": True}}, {"responded": True, "first_response_at": at}):
            _lead(s, idea, "first_response", _days(idea.get("submitted_at"), at), at)
    author = data.get("author_id")
    if author and not data.get("official") and not _is_staff(s, author):
        branch_id = data.get("branch_id")
        s.participation.record(author, None, branch_id, (idea or {}).get("region_id"), at, "commented")


def vote_cast(s: Feedback, event: Event) -> None:
    data = event.data
    s.ideas.join(data["idea_id"], data["person_id"], "s")
    idea = s.ideas.get(data["idea_id"]) or {}
    _invite_late(s, idea, data["person_id"], _at(event.time))
    if not _is_staff(s, data["person_id"]):
        s.participation.record(data["person_id"], None, data.get("branch_id"), idea.get("region_id"),
                               _at(event.time) or now(), "voted")


def vote_withdrawn(s: Feedback, event: Event) -> None:
    s.ideas.leave(event.data["idea_id"], event.data["person_id"], "s")


def idea_followed(s: Feedback, event: Event) -> None:
    s.ideas.join(event.data["idea_id"], event.data["person_id"], "f")
    _invite_late(s, s.ideas.get(event.data["idea_id"]) or {}, event.data["person_id"], _at(event.time))


def _invite_late(s: Feedback, idea: Mapping, person_id: str, at: datetime | None) -> None:
    """A supporter or follower whose event arrives after the idea's outcome survey opened, who joined before the
    idea was implemented, is invited then. An idea's events leave the ideas service from different outboxes
    (the idea's own, its votes', its follows'), so a vote cast just before the idea was implemented may arrive
    after the status change. The survey's count of invited people is counted again from the invitations."""
    survey_id = idea.get("outcome_survey_id")
    implemented = idea.get("implemented_at")
    if not survey_id or at is not None and implemented is not None and at > implemented:
        return
    if person_id in _makers(s, idea.get("branch_id")):
        return
    s.invites.add(survey_id, person_id)
    s.surveys.set_invited(survey_id, s.invites.count(survey_id))


def idea_unfollowed(s: Feedback, event: Event) -> None:
    s.ideas.leave(event.data["idea_id"], event.data["person_id"], "f")


def _makers(s: Feedback, branch_id: str | None) -> set[str]:
    """Those who carried an idea out and so do not rate it: staff of its branch, and org admins."""
    found = set()
    for person in s.people.staff_ids():
        if ORG_ADMIN in (person.get("org_roles") or []) or (branch_id and branch_id in (person.get("branch_roles")
                                                                                        or {})):
            found.add(person["_id"])
    return found


def open_outcome_survey(s: Feedback, idea_id: str, actor: Actor) -> bool:
    """The outcome survey of an implemented idea, for exactly its author, supporters and followers as they are
    when it is implemented (not the staff who carried it out). Its id comes from the idea's: opening it
    twice stores nothing the second time. The invitations are written first, the survey (with its event)
    last, so a crash in between is completed by the redelivered event."""
    survey_id = domain.outcome_id(idea_id)
    if s.surveys.get_doc(survey_id) is not None:
        return False
    idea = s.ideas.get(idea_id) or {"_id": idea_id}
    people = s.ideas.people_of(idea_id)
    if idea.get("author_id"):
        people.add(idea["author_id"])
    people -= _makers(s, idea.get("branch_id"))
    invited = s.invites.put(survey_id, people)
    survey = domain.outcome_survey(idea_id=idea_id, idea_title=idea.get("title", ""), branch_id=idea.get("branch_id"),
                                   region_id=idea.get("region_id"), invited=invited, at=now())
    opened = s.surveys.add(survey, _events(survey.events, actor), invited=invited)
    if opened:
        s.ideas.set(idea_id, {}, {"outcome_survey_id": survey_id})
        log.info("outcome survey opened", extra={"idea_id": idea_id, "survey_id": survey_id, "invited": invited})
    return opened


def feedback_submitted(s: Feedback, event: Event) -> None:
    """The safety net: count a response its web process stored but did not count (it crashed in between)."""
    doc = s.responses.get(event.data["feedback_id"])
    if doc is not None and doc.get("uncounted"):
        count_response(s, doc)


def months_back(count: int = 12, at: datetime | None = None) -> list[str]:
    at = at or now()
    year, month = at.year, at.month
    found = []
    for _ in range(count):
        found.append(f"{year:04d}{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(found))
