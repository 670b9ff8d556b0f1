"""Feedback rules without I/O: questions and answers, the survey lifecycle and its facts, outcome surveys."""
from datetime import datetime, timedelta, timezone

import pytest

from services.feedback import domain
from shared.errors import DomainError

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
TEXT = {"he": "שאלה", "en": "Question"}
QUESTIONS = [
    {"type": "csat", "text": TEXT},
    {"type": "nps", "text": TEXT},
    {"type": "single", "text": TEXT,
     "options": [{"text": {"he": "כן", "en": "Yes"}}, {"text": {"he": "לא", "en": "No"}}]},
    {"type": "multiple", "text": TEXT, "max_choices": 2,
     "options": [{"text": {"he": x, "en": x}} for x in ("a", "b", "c")]},
    {"type": "text", "text": TEXT, "required": False},
]


def new(**kw):
    fields = dict(title={"he": "סקר", "en": "Survey"}, branch_id="br_a", region_id="rg_1", questions=QUESTIONS,
                  closes_at=NOW + timedelta(days=10), created_by="pe_s", at=NOW)
    fields.update(kw)
    return domain.new_survey(**fields)


def test_questions_get_ids_by_position_and_texts_in_both_languages():
    survey = new()
    assert [q.id for q in survey.questions] == ["q1", "q2", "q3", "q4", "q5"]
    assert [o.id for o in survey.questions[3].options] == ["o1", "o2", "o3"]
    assert survey.status == domain.DRAFT and survey.scope == "branch" and survey.events == ()
    assert new(branch_id=None, program="youth-club").scope == "program"
    assert new(branch_id=None).scope == "org"


@pytest.mark.parametrize("kw, field", [
    ({"title": {"he": "סקר"}}, "title"),
    ({"title": {"he": "", "en": "x"}}, "title"),
    ({"questions": []}, "questions"),
    ({"questions": [{"type": "stars", "text": TEXT}]}, "questions"),
    ({"questions": [{"type": "single", "text": TEXT, "options": [{"text": TEXT}]}]}, "questions"),
    ({"questions": [{"type": "csat", "text": TEXT, "options": [{"text": TEXT}, {"text": TEXT}]}]}, "questions"),
    ({"questions": [{"type": "csat", "text": TEXT, "max_choices": 1}]}, "questions"),
    ({"questions": [{"type": "csat", "text": {"he": "x" * 301, "en": "x"}}]}, "questions"),
    ({"closes_at": NOW - timedelta(days=1)}, "closes_at"),
    ({"closes_at": NOW + timedelta(days=400)}, "closes_at"),
    ({"program": "no spaces"}, "program"),
])
def test_a_bad_survey_is_refused_naming_the_field(kw, field):
    with pytest.raises(DomainError) as refused:
        new(**kw)
    assert refused.value.field == field


def test_dates_outside_the_years_served_are_refused_without_overflowing():
    with pytest.raises(DomainError):
        new(opens_at=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))
    assert new(opens_at=datetime(2026, 3, 11)).opens_at.tzinfo is not None  # naive is UTC


def test_a_draft_changes_until_it_is_published_and_then_records_opened_and_closed():
    survey = domain.edit(new(), anonymous=True)
    assert survey.anonymous and survey.version == 2
    assert domain.edit(survey, anonymous=True) is survey  # nothing changed
    opened = domain.publish(survey, by="pe_s", at=NOW)
    [fact] = opened.events
    assert fact.type == "cocreate.survey.opened.v1" and fact.data["questions"] == 5 and fact.data["invited"] is None
    with pytest.raises(DomainError):
        domain.edit(opened, anonymous=False)
    assert opened.accepting(NOW) and not opened.accepting(NOW + timedelta(days=10))
    closed = domain.close(opened, by="pe_s", responses=12, at=NOW)
    assert closed.status == domain.CLOSED and closed.events[0].data["responses"] == 12
    with pytest.raises(DomainError):
        domain.close(closed, by="pe_s", responses=12)


def test_answers_are_checked_against_their_questions():
    questions = new().questions
    clean = domain.check_answers(questions, {"q1": 5, "q2": 0, "q3": "o2", "q4": ["o3", "o1"]})
    assert [(q.id, v) for q, v in clean] == [("q1", 5), ("q2", 0), ("q3", "o2"), ("q4", ["o1", "o3"])]
    for bad in ({"q1": 6, "q2": 0, "q3": "o1", "q4": ["o1"]}, {"q1": True, "q2": 0, "q3": "o1", "q4": ["o1"]},
                {"q1": 4.0, "q2": 0, "q3": "o1", "q4": ["o1"]}, {"q1": 4, "q2": 11, "q3": "o1", "q4": ["o1"]},
                {"q1": 4, "q2": 1, "q3": "o9", "q4": ["o1"]}, {"q1": 4, "q2": 1, "q3": "o1", "q4": ["o1", "o2", "o3"]},
                {"q1": 4, "q2": 1, "q3": "o1", "q4": ["o1", "o1"]}, {"q1": 4, "q2": 1, "q3": "o1"},
                {"q1": 4, "q2": 1, "q3": "o1", "q4": ["o1"], "q5": "x" * 2001},
                {"q1": 4, "q2": 1, "q3": "o1", "q4": ["o1"], "q9": 1}, ["q1"]):
        with pytest.raises(DomainError) as refused:
            domain.check_answers(questions, bad)
        assert refused.value.field == "answers"


def test_channels_other_than_the_web_are_staff_entering_for_a_client():
    assert domain.check_channel("phone", entered_by_staff=True) == "phone"
    for channel, staff in (("phone", False), ("web", True), ("fax", True)):
        with pytest.raises(DomainError):
            domain.check_channel(channel, entered_by_staff=staff)


def test_an_outcome_survey_is_open_at_once_with_its_id_from_the_idea():
    survey = domain.outcome_survey(idea_id="id_1", idea_title="x" * 140, branch_id="br_a", region_id=None,
                                   invited=7, at=NOW)
    assert survey.id == domain.outcome_id("id_1") and survey.status == domain.OPEN and survey.kind == domain.OUTCOME
    assert [q.type for q in survey.questions] == ["csat", "text"] and len(survey.title["en"]) <= 140
    assert survey.events[0].data["invited"] == 7 and survey.events[0].data["by"] is None


def test_only_identified_feedback_with_words_or_quick_feedback_takes_replies():
    assert domain.may_be_replied({"person_id": "pe", "kind": "quick", "answers": []})
    assert domain.may_be_replied({"person_id": "pe", "kind": "survey", "answers": [{"type": "text"}]})
    assert not domain.may_be_replied({"person_id": "pe", "kind": "survey", "answers": [{"type": "csat"}]})
    assert not domain.may_be_replied({"person_id": None, "kind": "quick", "answers": []})
