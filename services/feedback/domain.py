"""Feedback rules: what a survey is, how it opens and closes, which answers it accepts, what quick feedback and
replies are, and the facts each change records. Plain objects, no Flask, no database."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

from shared.errors import DomainError, N_
from shared.events import Recorded

DRAFT, OPEN, CLOSED = "draft", "open", "closed"
SURVEY, OUTCOME, QUICK = "survey", "outcome", "quick"  # kinds of surveys (the first two) and of feedback
CSAT, NPS, SINGLE, MULTIPLE, TEXT = "csat", "nps", "single", "multiple", "text"
QUESTION_TYPES = (CSAT, NPS, SINGLE, MULTIPLE, TEXT)
CHOICES = (SINGLE, MULTIPLE)
CHANNELS = ("web", "in_person", "phone", "kiosk")
AGE_GROUPS = ("under_18", "18_29", "30_44", "45_64", "65_plus")
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
LANGUAGES = ("he", "en")
MAX_QUESTIONS, MAX_OPTIONS = 30, 20
MAX_TITLE, MAX_INTRO, MAX_QUESTION, MAX_OPTION, MAX_ANSWER, MAX_REPLY = 140, 2000, 300, 120, 2000, 2000
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc)
MAX_OPEN_DAYS = 366
OUTCOME_OPEN_DAYS = 30
ORG = "org"  # the branch key of surveys without a branch


def now() -> datetime:
    return datetime.now(timezone.utc)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def month_of(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y%m")


def utc(value: datetime) -> datetime:
    """An aware UTC datetime (a naive one is taken as UTC), within the years the service deals with."""
    try:
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        value = EARLIEST - timedelta(days=1)
    if not EARLIEST <= value < LATEST:
        raise DomainError(N_("A date between the years 2000 and 2099."))
    return value


def safe_code(value: Any) -> str | None:
    """A code as it may appear in a counter's name (the directory's population groups, program codes)."""
    return value if isinstance(value, str) and CODE.match(value) else None


# --- questions ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Option:
    id: str
    text: dict[str, str]


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    text: dict[str, str]
    required: bool = True
    options: tuple[Option, ...] = ()
    max_choices: int | None = None

    def as_dict(self) -> dict:
        return {"id": self.id, "type": self.type, "text": dict(self.text), "required": self.required,
                "options": [{"id": o.id, "text": dict(o.text)} for o in self.options],
                "max_choices": self.max_choices}


def localized(value: Any, field_name: str, limit: int, *, required: bool = True) -> dict[str, str]:
    """A text in Hebrew and English: both given (or both empty when optional), each within the limit."""
    if not isinstance(value, Mapping) or set(value) - set(LANGUAGES):
        raise DomainError(N_("Give the text in Hebrew (he) and English (en)."), field_name)
    out = {}
    for lang in LANGUAGES:
        text = value.get(lang, "")
        if not isinstance(text, str) or "\x00" in text:
            raise DomainError(N_("Give the text in Hebrew (he) and English (en)."), field_name)
        text = " ".join(text.split()) if limit <= MAX_TITLE else text.strip()
        if len(text) > limit or (required and not text):
            raise DomainError(f"Each language's text is 1 to {limit} characters.", field_name)
        out[lang] = text
    return out


def questions_from(raw: Any) -> tuple[Question, ...]:
    """Questions as staff wrote them; ids are given by position (q1, q2, ...; options o1, o2, ...)."""
    if not isinstance(raw, (list, tuple)) or not 1 <= len(raw) <= MAX_QUESTIONS:
        raise DomainError(f"A survey has 1 to {MAX_QUESTIONS} questions.", "questions")
    found = []
    for i, q in enumerate(raw, start=1):
        if not isinstance(q, Mapping) or q.get("type") not in QUESTION_TYPES:
            raise DomainError(N_("Each question has a type: csat, nps, single, multiple or text."), "questions")
        qtype = q["type"]
        options = q.get("options") or []
        if qtype in CHOICES:
            if not isinstance(options, (list, tuple)) or not 2 <= len(options) <= MAX_OPTIONS:
                raise DomainError(f"A choice question has 2 to {MAX_OPTIONS} options.", "questions")
            opts = tuple(Option(f"o{j}", localized(o.get("text") if isinstance(o, Mapping) else None, "questions",
                                                   MAX_OPTION)) for j, o in enumerate(options, start=1))
        elif options:
            raise DomainError(N_("Only choice questions have options."), "questions")
        else:
            opts = ()
        max_choices = q.get("max_choices")
        if max_choices is not None:
            if qtype != MULTIPLE or isinstance(max_choices, bool) or not isinstance(max_choices, int) \
                    or not 1 <= max_choices <= len(opts):
                raise DomainError(N_("max_choices is for multiple choice, between 1 and the number of options."),
                                  "questions")
        required = q.get("required", True)
        if not isinstance(required, bool):
            raise DomainError(N_("required is true or false."), "questions")
        found.append(Question(f"q{i}", qtype, localized(q.get("text"), "questions", MAX_QUESTION), required, opts,
                              max_choices))
    return tuple(found)


def question_of(doc: Mapping) -> Question:
    return Question(doc["id"], doc["type"], dict(doc["text"]), doc.get("required", True),
                    tuple(Option(o["id"], dict(o["text"])) for o in doc.get("options", [])), doc.get("max_choices"))


# --- surveys -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Survey:
    id: str
    kind: str
    branch_id: str | None
    region_id: str | None
    program: str | None
    title: dict[str, str]
    intro: dict[str, str]
    questions: tuple[Question, ...]
    opens_at: datetime
    closes_at: datetime
    anonymous: bool = False
    status: str = DRAFT
    idea_id: str | None = None
    created_by: str | None = None
    created_at: datetime = field(default_factory=now)
    version: int = 1
    events: tuple[Recorded, ...] = field(default=(), compare=False)

    @property
    def scope(self) -> str:
        return "program" if self.program else "branch" if self.branch_id else "org"

    @property
    def branch_key(self) -> str:
        return self.branch_id or ORG

    def fact(self, type: str, data: dict) -> Recorded:
        return Recorded(f"cocreate.{type}.v1", self.id, {
            "survey_id": self.id, "kind": self.kind, "scope": self.scope, "branch_id": self.branch_id,
            "program": self.program, "idea_id": self.idea_id, **data}, self.branch_id)

    def accepting(self, at: datetime) -> bool:
        return self.status == OPEN and self.opens_at <= at < self.closes_at


def _window(opens_at: datetime, closes_at: datetime) -> tuple[datetime, datetime]:
    opens_at, closes_at = utc(opens_at), utc(closes_at)
    if closes_at <= opens_at:
        raise DomainError(N_("A survey closes after it opens."), "closes_at")
    if closes_at - opens_at > timedelta(days=MAX_OPEN_DAYS):
        raise DomainError(f"A survey is open for at most {MAX_OPEN_DAYS} days.", "closes_at")
    return opens_at, closes_at


def _program(value: Any) -> str | None:
    if value is None:
        return None
    if safe_code(value) is None:
        raise DomainError(N_("A program code is 1-32 letters, digits, '-' or '_'."), "program")
    return value


def new_survey(*, title, intro=None, branch_id: str | None, region_id: str | None, program=None, questions,
               opens_at: datetime | None = None, closes_at: datetime, anonymous: bool = False,
               created_by: str, at: datetime | None = None) -> Survey:
    """A draft survey for a branch, a program (at a branch or everywhere) or the whole organization."""
    at = at or now()
    opens, closes = _window(opens_at or at, closes_at)
    return Survey(id=new_id("sv"), kind=SURVEY, branch_id=branch_id, region_id=region_id, program=_program(program),
                  title=localized(title, "title", MAX_TITLE),
                  intro=localized(intro or {"he": "", "en": ""}, "intro", MAX_INTRO, required=False),
                  questions=questions_from(questions), opens_at=opens, closes_at=closes, anonymous=bool(anonymous),
                  created_by=created_by, created_at=at)


EDITABLE = ("title", "intro", "program", "questions", "opens_at", "closes_at", "anonymous")


def edit(survey: Survey, **changes) -> Survey:
    """Change a draft; once open, what respondents saw stays as it was."""
    if survey.status != DRAFT:
        raise DomainError(N_("Only a draft survey can be changed."))
    clean: dict[str, Any] = {}
    if "title" in changes:
        clean["title"] = localized(changes["title"], "title", MAX_TITLE)
    if "intro" in changes:
        clean["intro"] = localized(changes["intro"] or {"he": "", "en": ""}, "intro", MAX_INTRO, required=False)
    if "program" in changes:
        clean["program"] = _program(changes["program"])
    if "questions" in changes:
        clean["questions"] = questions_from(changes["questions"])
    if "anonymous" in changes:
        clean["anonymous"] = bool(changes["anonymous"])
    if "opens_at" in changes or "closes_at" in changes:
        clean["opens_at"], clean["closes_at"] = _window(changes.get("opens_at") or survey.opens_at,
                                                        changes.get("closes_at") or survey.closes_at)
    changed = {k: v for k, v in clean.items() if getattr(survey, k) != v}
    return replace(survey, **changed, version=survey.version + 1) if changed else survey


def publish(survey: Survey, *, by: str, at: datetime | None = None) -> Survey:
    at = at or now()
    if survey.status != DRAFT:
        raise DomainError(N_("The survey is open or closed already."))
    if survey.closes_at <= at:
        raise DomainError(N_("The survey's closing date has passed; change it first."), "closes_at")
    opened = replace(survey, status=OPEN, version=survey.version + 1)
    return replace(opened, events=(_opened(opened, by=by, invited=None),))


def _opened(survey: Survey, *, by: str | None, invited: int | None) -> Recorded:
    return survey.fact("survey.opened", {
        "region_id": survey.region_id, "title": dict(survey.title), "anonymous": survey.anonymous,
        "opens_at": survey.opens_at.isoformat(), "closes_at": survey.closes_at.isoformat(),
        "questions": len(survey.questions), "invited": invited, "by": by})


def close(survey: Survey, *, by: str | None, responses: int, at: datetime | None = None) -> Survey:
    if survey.status != OPEN:
        raise DomainError(N_("Only an open survey can be closed."))
    at = at or now()
    closed = replace(survey, status=CLOSED, version=survey.version + 1)
    return replace(closed, events=(closed.fact("survey.closed", {"closed_at": at.isoformat(),
                                                                 "responses": max(0, responses), "by": by}),))


OUTCOME_QUESTIONS = (
    Question("q1", CSAT, {"he": "האם השינוי הזה עזר לך?", "en": "Did this change help you?"}, True),
    Question("q2", TEXT, {"he": "מה היה עוזר עוד יותר?", "en": "What would have helped even more?"}, False),
)


def outcome_id(idea_id: str) -> str:
    """One outcome survey per idea: its id comes from the idea's, so a redelivered event opens nothing more."""
    return f"sv_{idea_id}"


def outcome_survey(*, idea_id: str, idea_title: str, branch_id: str | None, region_id: str | None,
                   invited: int, at: datetime) -> Survey:
    """The short survey that opens when an idea is implemented, for those who took part in it."""
    title = (idea_title or "").strip()
    survey = Survey(id=outcome_id(idea_id), kind=OUTCOME, branch_id=branch_id, region_id=region_id, program=None,
                    title={"he": (f"השינוי: {title}" if title else "השינוי שביקשתם")[:MAX_TITLE],
                           "en": (f"The change: {title}" if title else "The change you asked for")[:MAX_TITLE]},
                    intro={"he": "הרעיון שתמכת בו יושם. ספר/י לנו אם הוא עזר.",
                           "en": "An idea you took part in was implemented. Tell us whether it helped."},
                    questions=OUTCOME_QUESTIONS, opens_at=at, closes_at=at + timedelta(days=OUTCOME_OPEN_DAYS),
                    anonymous=False, status=OPEN, idea_id=idea_id, created_at=at)
    return replace(survey, events=(_opened(survey, by=None, invited=invited),))


# --- answers -----------------------------------------------------------------------------------------------

def _integer(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str) or "\x00" in value:
        return None
    value = value.strip()
    return value if 1 <= len(value) <= limit else None


def check_answers(questions: tuple[Question, ...], answers: Any) -> list[tuple[Question, Any]]:
    """The answers, in question order, each valid for its question; required questions answered."""
    if not isinstance(answers, Mapping):
        raise DomainError(N_("Answers are an object of question id to answer."), "answers")
    known = {q.id for q in questions}
    unknown = [k for k in answers if k not in known]
    if unknown:
        raise DomainError(f"No question {unknown[0]!s:.40} in this survey.", "answers")
    clean = []
    for q in questions:
        value = answers.get(q.id)
        if value is None or value == "" or value == []:
            if q.required:
                raise DomainError(f"Question {q.id} needs an answer.", "answers")
            continue
        option_ids = {o.id for o in q.options}
        if q.type == CSAT:
            checked = _integer(value, 1, 5)
        elif q.type == NPS:
            checked = _integer(value, 0, 10)
        elif q.type == SINGLE:
            checked = value if isinstance(value, str) and value in option_ids else None
        elif q.type == MULTIPLE:
            ok = (isinstance(value, list) and all(isinstance(v, str) and v in option_ids for v in value)
                  and len(set(value)) == len(value) and len(value) <= (q.max_choices or len(q.options)))
            checked = [o.id for o in q.options if o.id in value] if ok else None
        else:
            checked = _text(value, MAX_ANSWER)
        if checked is None:
            raise DomainError(_refusal(q), "answers")
        clean.append((q, checked))
    return clean


def _refusal(q: Question) -> str:
    return {CSAT: f"Question {q.id} is answered with a whole number from 1 to 5.",
            NPS: f"Question {q.id} is answered with a whole number from 0 to 10.",
            SINGLE: f"Question {q.id} is answered with one of its option ids.",
            MULTIPLE: f"Question {q.id} is answered with a list of distinct option ids"
                      f" (at most {q.max_choices or len(q.options)}).",
            TEXT: f"Question {q.id} is answered with a text of 1 to {MAX_ANSWER} characters."}[q.type]


def check_channel(channel: str, *, entered_by_staff: bool) -> str:
    """The web is the client's own; other channels are staff entering what a client told them."""
    if channel not in CHANNELS:
        raise DomainError(N_("Unknown channel."), "channel")
    if entered_by_staff and channel == "web":
        raise DomainError(N_("Say how the client answered: in person, by phone or at a kiosk."), "channel")
    if not entered_by_staff and channel != "web":
        raise DomainError(N_("Only staff enter feedback from other channels."), "channel")
    return channel


def rating(value: Any) -> int:
    checked = _integer(value, 1, 5)
    if checked is None:
        raise DomainError(N_("A rating is a whole number from 1 to 5."), "rating")
    return checked


def comment_text(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    checked = _text(value, MAX_ANSWER)
    if checked is None:
        raise DomainError(f"A comment is at most {MAX_ANSWER} characters.", "comment")
    return checked


def reply_text(value: Any) -> str:
    checked = _text(value, MAX_REPLY)
    if checked is None:
        raise DomainError(f"A reply is 1 to {MAX_REPLY} characters.", "text")
    return checked


def may_be_replied(doc: Mapping) -> bool:
    """Staff reply to identified feedback: quick feedback, or a response with free text."""
    if not doc.get("person_id"):
        return False
    return doc.get("kind") == QUICK or any(a.get("type") == TEXT for a in doc.get("answers", []))
