"""The public "you said, we did" board of a branch through the Flask client, against the real store: no sign-in
needed, Hebrew (right to left, the default) and English; "you said" lists only themes of 5 or more people, "we did"
the branch's implemented ideas, newest first, with their measured outcome; the feedback home pages link to it."""
from __future__ import annotations

import pytest
from conftest import PageVisitor, direction, text_of

from services.feedback.domain import outcome_id
from services.feedback.tests.conftest import days_ago, idea_submitted, status_changed, tell

FIVE = ("p1", "p2", "p3", "p4", "p5")


@pytest.fixture
def visit(feedback_app, org):
    app, _ = feedback_app

    def make(who: str | None, lang: str | None = None) -> PageVisitor:
        visitor = PageVisitor(app, "/feedback", org.tokens[who] if who else None, lang or "en")
        if lang is None:  # no language chosen: the frame's default
            visitor.client.delete_cookie("cocreate_lang")
        return visitor

    return make


def sections(page: str) -> tuple[str, str]:
    """The text of the board's "you said" and "we did" sections."""
    said, did = page.split('<h2 id="said">', 1)[1].split('<h2 id="did">', 1)
    return text_of(said), text_of(did)


def _implement(org, idea: str, title: str, days: float, supporters=()) -> None:
    tell(org.db, "cocreate.idea.submitted.v1", idea, dict(idea_submitted(idea, org.a, org.region, org.ids["p1"],
                                                                          days_ago(days + 30)), title=title))
    for who in supporters:
        tell(org.db, "cocreate.vote.cast.v1", idea, {"idea_id": idea, "branch_id": org.a, "person_id": org.ids[who]})
    for frm, to in (("submitted", "planned"), ("planned", "implemented")):
        tell(org.db, "cocreate.idea.status_changed.v1", idea,
             status_changed(idea, org.a, frm, to, days_ago(days), org.ids["staff_a"], org.ids["p1"]))


def test_the_board_shows_themes_of_five_people_and_implemented_ideas_in_both_languages(org, visit):
    survey = org.survey()
    for who in FIVE:
        org.answer(who, survey["id"], {"q1": 4, "q2": 8, "q3": "החניה קטנה"})
    for who in ("p1", "p2", "p3", "p4"):
        org.api.ok("POST", "/feedback", org.tokens[who], 201, json={"branch_id": org.a, "rating": 2,
                                                                    "comment": "מזגן"})
    _implement(org, f"id_old{org.a}", "חניה לאופניים", 20, supporters=("p2", "p3", "p4", "p5"))
    _implement(org, f"id_new{org.a}", "מזגן חדש", 2)
    tell(org.db, "cocreate.idea.submitted.v1", f"id_sub{org.a}",
         dict(idea_submitted(f"id_sub{org.a}", org.a, org.region, org.ids["p2"], days_ago(3)), title="רעיון פתוח"))
    for who, rating in zip(FIVE, (5, 5, 4, 4, 2)):  # the older idea's outcome: 4 of 5 found it helpful
        org.answer(who, outcome_id(f"id_old{org.a}"), {"q1": rating})

    page = visit(None).page(f"/board/{org.a}")  # nobody signed in, no language chosen: Hebrew
    assert direction(page) == ("he", "rtl")
    text = text_of(page)
    assert "אמרתם, עשינו" in text and "אמרתם" in text and "עשינו" in text
    assert "חניה" in text and "מזגן" in text  # the theme of five; "מזגן" only as an idea's title
    said, did = sections(page)
    assert said.startswith("אמרתם") and did.startswith("עשינו")
    assert "חניה" in said and "מזגן" not in said and "קטנה" in said
    assert did.index("מזגן חדש") < did.index("חניה לאופניים")  # newest first
    assert "80%" in did and "רעיון פתוח" not in did  # its outcome; an idea not implemented is not listed

    english = visit(None, "en").page(f"/board/{org.a}")
    assert direction(english) == ("en", "ltr")
    text = text_of(english)
    assert "You said, we did" in text and "raised in 5 responses" in text and "80%" in text
    said, did = sections(english)
    assert "חניה" in said and "מזגן" not in said and "מזגן חדש" in did


def test_a_board_with_nothing_to_show_and_an_unknown_branch(org, visit):
    text = text_of(visit(None, "en").page(f"/board/{org.b}"))
    assert "5 or more people" in text and "No ideas have been implemented" in text
    visit(None, "en").page("/board/br_nowhere", 404)
    visit(None).page("/board/br_nowhere", 404)


def test_the_feedback_home_pages_link_to_the_board(org, visit):
    board = f"/feedback/board/{org.a}"
    assert board in visit(None, "en").page("/")
    assert board in visit("staff_a", "en").page(f"/?branch_id={org.a}")
    assert board in visit("p1", "en").page("/")
