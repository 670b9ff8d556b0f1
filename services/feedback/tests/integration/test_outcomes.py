"""Outcome surveys close the loop, against the real store: when an idea is implemented its outcome survey opens
for exactly its author, supporters and followers (not the staff who carried it out, nor anyone who left), only
they may answer, and their answers are the idea's measured success, by age group under the threshold."""
from __future__ import annotations

from services.feedback.domain import outcome_id
from services.feedback.repository import IdeasReadModel
from services.feedback.tests.conftest import apply, days_ago, idea_submitted, status_changed, tell


def _membership(org, type: str, idea: str, person: str, **extra) -> None:
    tell(org.db, f"cocreate.{type}.v1", idea, {"idea_id": idea, "branch_id": org.a, "person_id": person, **extra})


def _implemented_idea(org, idea: str) -> object:
    """An idea by p1, supported by p2, p3 and p5 (who withdrew the vote but still follows), followed by p4 and by
    the staff who answered it; p6 followed and left; p7 never took part. Returns the status_changed event."""
    tell(org.db, "cocreate.idea.submitted.v1", idea, idea_submitted(idea, org.a, org.region, org.ids["p1"],
                                                                     days_ago(30)))
    _membership(org, "idea.followed", idea, org.ids["p1"], reason="author")
    for who in ("p2", "p3", "p5"):
        _membership(org, "vote.cast", idea, org.ids[who])
        _membership(org, "idea.followed", idea, org.ids[who], reason="vote")
    _membership(org, "vote.withdrawn", idea, org.ids["p5"])
    _membership(org, "idea.followed", idea, org.ids["p4"], reason="explicit")
    _membership(org, "idea.followed", idea, org.ids["staff_a"], reason="comment")
    _membership(org, "idea.followed", idea, org.ids["p6"], reason="explicit")
    _membership(org, "idea.unfollowed", idea, org.ids["p6"], reason="explicit")
    event = None
    for frm, to in (("submitted", "under_review"), ("under_review", "planned"), ("planned", "in_progress"),
                    ("in_progress", "implemented")):
        event = tell(org.db, "cocreate.idea.status_changed.v1", idea,
                     status_changed(idea, org.a, frm, to, days_ago(1), org.ids["staff_a"], org.ids["p1"]))
    return event


def test_an_implemented_idea_opens_its_outcome_survey_for_exactly_its_people_whose_answers_are_its_success(org):
    idea = f"id_out{org.a}"
    implemented = _implemented_idea(org, idea)
    apply(org.db, implemented)  # redelivered: still one survey, one event
    survey_id = outcome_id(idea)
    assert org.outbox_types("surveys", survey_id) == ["cocreate.survey.opened.v1"]
    [opened] = org.outbox("surveys", survey_id)
    assert opened["data"]["kind"] == "outcome" and opened["data"]["idea_id"] == idea and opened["data"]["invited"] == 5
    assert "actorid" not in opened
    invited, others = ("p1", "p2", "p3", "p4", "p5"), ("p6", "p7", "staff_b")
    for who in invited:
        read = org.api.ok("GET", f"/surveys/{survey_id}", org.tokens[who])
        assert read["kind"] == "outcome" and [q["type"] for q in read["questions"]] == ["csat", "text"]
    for who in others:
        assert org.api.call("GET", f"/surveys/{survey_id}", org.tokens[who]).status_code == 403
        assert org.api.call("POST", f"/surveys/{survey_id}/responses", org.tokens[who],
                            json={"answers": {"q1": 5}}).status_code == 403
    assert org.api.call("POST", f"/surveys/{survey_id}/responses", org.tokens["staff_a"],
                        json={"answers": {"q1": 5}}).status_code == 403  # those who carried it out do not rate it
    listed = org.api.ok("GET", f"/surveys?branch_id={org.a}", org.tokens["p2"])["items"]
    assert survey_id in [s["id"] for s in listed]
    assert survey_id not in [s["id"] for s in org.api.ok("GET", f"/surveys?branch_id={org.a}",
                                                          org.tokens["p7"])["items"]]

    def success():
        return org.api.ok("GET", "/insights/outcomes", org.tokens["staff_a"], query_string={"idea_id": idea})

    assert success()["success"]["answers"] == 0  # nobody answered yet: nothing to hide
    for n, (who, csat) in enumerate(zip(invited, (5, 4, 4, 2, 5)), start=1):
        made = org.answer(who, survey_id, {"q1": csat, "q2": "More evening hours" if who == "p4" else ""})
        assert made["kind"] == "outcome" and made["idea_id"] == idea
        if n < 5:
            assert success()["success"] == {"suppressed": True}  # one to four answers: hidden
    org.answer("p1", survey_id, {"q1": 1}, status=409)
    view = success()
    assert view["invited"] == 5 and view["survey_status"] == "open"
    assert view["success"]["answers"] == 5 and view["success"]["positive"] == 4
    assert view["success"]["positive_share"] == 0.8 and view["success"]["average"] == 4.0
    assert [(r["age_group"], r["outcomes"]["positive_share"]) for r in view["by_age_group"]] == [("18_29", 0.8)]
    branch = org.api.ok("GET", "/insights/outcomes", org.tokens["staff_a"], query_string={"branch_id": org.a})
    assert (branch["implemented_with_outcome"], branch["positive"], branch["positive_share"]) == (1, 1, 1.0)
    assert [i["idea_id"] for i in branch["ideas"]] == [idea]
    assert branch["by_age_group"][0]["age_group"] == "18_29" and branch["by_age_group"][0]["outcomes"]["people"] == 5
    assert org.api.call("GET", "/insights/outcomes", org.tokens["staff_b"],
                        query_string={"idea_id": idea}).status_code == 403
    assert org.api.call("GET", "/insights/outcomes", org.tokens["staff_a"],
                        query_string={"idea_id": "id_0000000000000000"}).status_code == 404
    # outcome answers are the branch's outcome figures, not its satisfaction
    totals = org.satisfaction()["totals"]
    assert totals["surveys"]["people"] == 0 and totals["outcomes"]["positive"] == 4


def test_the_outcome_surveys_invitations_follow_an_erasure(org):
    idea = f"id_era{org.a}"
    _implemented_idea(org, idea)
    survey_id = outcome_id(idea)
    tell(org.db, "cocreate.person.erased.v1", org.ids["p4"], {"person_id": org.ids["p4"]})
    assert org.api.call("POST", f"/surveys/{survey_id}/responses", org.tokens["p4"],
                        json={"answers": {"q1": 5}}).status_code == 403
    assert org.db["ideas"].find_one({"_id": idea})["status"] == "implemented"
    members = IdeasReadModel(org.db).people_of(idea)
    assert org.ids["p4"] not in members and org.ids["p2"] in members  # they left the idea's followers too


def test_a_vote_cast_before_the_idea_was_implemented_but_heard_after_it_still_invites(org):
    """An idea's events leave the ideas service from different outboxes (the idea's, its votes', its follows'),
    so a vote cast just before the idea was implemented can arrive after the status change. Its supporter is
    invited then, once however often the vote is redelivered; a follow from after the implementation is not an
    invitation."""
    idea = f"id_late{org.a}"
    tell(org.db, "cocreate.idea.submitted.v1", idea, idea_submitted(idea, org.a, org.region, org.ids["p1"],
                                                                     days_ago(30)))
    for frm, to in (("submitted", "under_review"), ("under_review", "planned"), ("planned", "in_progress"),
                    ("in_progress", "implemented")):
        tell(org.db, "cocreate.idea.status_changed.v1", idea,
             status_changed(idea, org.a, frm, to, days_ago(1), org.ids["staff_a"], org.ids["p1"]))
    survey_id = outcome_id(idea)
    assert org.api.ok("GET", f"/surveys/{survey_id}", org.tokens["p1"])["invited"] == 1
    assert org.api.call("GET", f"/surveys/{survey_id}", org.tokens["p2"]).status_code == 403

    late = tell(org.db, "cocreate.vote.cast.v1", idea, {"idea_id": idea, "branch_id": org.a,
                                                         "person_id": org.ids["p2"]}, at=days_ago(1.01))
    apply(org.db, late)  # redelivered
    assert org.api.ok("GET", f"/surveys/{survey_id}", org.tokens["p2"])["invited"] == 2
    org.answer("p2", survey_id, {"q1": 4})

    tell(org.db, "cocreate.idea.followed.v1", idea, {"idea_id": idea, "branch_id": org.a, "person_id": org.ids["p3"],
                                                      "reason": "explicit"})  # now: after the implementation
    assert org.api.call("GET", f"/surveys/{survey_id}", org.tokens["p3"]).status_code == 403
    assert org.api.ok("GET", f"/surveys/{survey_id}", org.tokens["p1"])["invited"] == 2
