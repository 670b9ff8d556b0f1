"""Surveys and responses through the HTTP API, against the real store: the survey lifecycle and its events, who
may do what, one response per person (exactly once, counted once), staff entering a client's answers, anonymous
surveys, the walk-in link, and bad input refused with a problem and nothing changed."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from services.feedback.repository import person_key
from services.feedback.tests.conftest import CSAT_NPS_TEXT, apply, event_of, soon


def test_staff_draft_change_open_and_close_a_survey_with_exactly_the_contracts_events(org):
    draft = org.survey(open=False)
    assert (draft["status"], draft["scope"], draft["region_id"]) == ("draft", "branch", org.region)
    assert [q["id"] for q in draft["questions"]] == ["q1", "q2", "q3"] and draft["public_token"]
    url = f"/surveys/{draft['id']}"
    assert org.api.call("GET", url, org.tokens["p1"]).status_code == 404  # drafts are the staff's
    changed = org.api.ok("PATCH", url, org.tokens["manager_a"], json={"anonymous": True, "version": draft["version"]})
    assert changed["anonymous"] is True and changed["version"] == draft["version"] + 1
    assert org.api.call("PATCH", url, org.tokens["staff_a"], json={"anonymous": False,
                                                                   "version": draft["version"]}).status_code == 409
    assert org.outbox_types("surveys", draft["id"]) == []  # a draft is nobody else's business yet
    opened = org.api.ok("POST", f"{url}/open", org.tokens["staff_a"])
    assert opened["status"] == "open" and org.outbox_types("surveys", draft["id"]) == ["cocreate.survey.opened.v1"]
    [event] = org.outbox("surveys", draft["id"])
    assert event["data"]["anonymous"] is True and event["actorid"] == org.ids["staff_a"]
    assert event["branchid"] == org.a and event["subject"] == draft["id"]
    assert org.api.call("PATCH", url, org.tokens["staff_a"], json={"anonymous": False}).status_code == 422
    assert org.api.call("POST", f"{url}/open", org.tokens["staff_a"]).status_code == 422
    public = org.api.ok("GET", f"/surveys/public/{draft['public_token']}")  # the walk-in link, no sign-in
    assert public["id"] == draft["id"] and public["public_token"] is None and public["title"]["he"] == "איך היה?"
    closed = org.api.ok("POST", f"{url}/close", org.tokens["staff_a"])
    assert closed["status"] == "closed"
    assert org.outbox_types("surveys", draft["id"]) == ["cocreate.survey.closed.v1", "cocreate.survey.opened.v1"]
    assert org.db["surveys"].find_one({"_id": draft["id"]}).get("salt") is None  # the anonymous claims' key is gone
    refused = org.api.call("POST", f"{url}/responses", org.tokens["p1"], json={"answers": {"q1": 5, "q2": 9}})
    assert refused.status_code == 422


def test_who_may_create_surveys_for_a_branch_a_program_or_the_organization(org):
    body = {"title": {"he": "סקר", "en": "Survey"}, "questions": CSAT_NPS_TEXT, "closes_at": soon()}
    assert org.api.call("POST", "/surveys", org.tokens["staff_b"], json=dict(body, branch_id=org.a)).status_code == 403
    assert org.api.call("POST", "/surveys", org.tokens["p1"], json=dict(body, branch_id=org.a)).status_code == 403
    assert org.api.call("POST", "/surveys", org.tokens["manager_a"], json=body).status_code == 403
    assert org.api.call("POST", "/surveys", None, json=body).status_code == 401
    whole = org.api.ok("POST", "/surveys", org.tokens["admin"], 201, json=body)
    program = org.api.ok("POST", "/surveys", org.tokens["admin"], 201, json=dict(body, program="youth-club"))
    at_branch = org.api.ok("POST", "/surveys", org.tokens["staff_a"], 201, json=dict(body, branch_id=org.a,
                                                                                    program="youth-club"))
    assert (whole["scope"], program["scope"], at_branch["scope"]) == ("org", "program", "program")
    unknown = org.api.call("POST", "/surveys", org.tokens["admin"], json=dict(body, branch_id="br_nope"))
    assert unknown.status_code == 422
    listed = org.api.ok("GET", f"/surveys?branch_id={org.a}", org.tokens["staff_a"])["items"]
    assert [s["id"] for s in listed] == [at_branch["id"]]
    assert org.api.ok("GET", f"/surveys?branch_id={org.a}", org.tokens["p1"])["items"] == []  # a draft


@pytest.mark.parametrize("change, field", [
    ({"title": "How was it?"}, "title"),
    ({"title": {"he": "x" * 141, "en": "x"}}, "title"),
    ({"title": {"he": "איך", "en": "How", "fr": "Comment"}}, "title"),
    ({"branch_id": 7}, "branch_id"),
    ({"questions": []}, "questions"),
    ({"questions": [{"type": "stars", "text": {"he": "x", "en": "x"}}]}, "questions"),
    ({"questions": [{"type": "single", "text": {"he": "x", "en": "x"}, "options": [{"text": {"he": "a", "en": "a"}}]}]},
     "questions"),
    ({"questions": [{"type": "text", "text": {"he": "x" * 10_001, "en": "x"}}]}, "questions"),
    ({"closes_at": "tomorrow"}, "closes_at"),
    ({"closes_at": "2020-01-01T00:00:00Z"}, "closes_at"),
    ({"program": {"$ne": None}}, None),
    ({"program": "two words"}, "program"),
    ({"surprise": 1}, "surprise"),
])
def test_a_bad_survey_is_refused_with_a_problem_and_changes_nothing(org, change, field):
    before = org.db["surveys"].count_documents({})
    body = {"title": {"he": "סקר", "en": "Survey"}, "branch_id": org.a, "questions": CSAT_NPS_TEXT,
            "closes_at": soon(), **change}
    response = org.api.call("POST", "/surveys", org.tokens["staff_a"], json=body)
    assert response.status_code == 422, response.json
    assert response.headers["Content-Type"].startswith("application/problem+json")
    if field:
        assert field in response.json["errors"]["body"], response.json
    assert org.db["surveys"].count_documents({}) == before


def test_one_response_per_person_even_when_sent_at_once_and_it_is_counted_once(org):
    survey = org.survey()
    url = f"/surveys/{survey['id']}/responses"
    body = {"answers": {"q1": 4, "q2": 9, "q3": "The staff were kind"}}
    with ThreadPoolExecutor(6) as pool:
        codes = sorted(pool.map(lambda _: org.api.call("POST", url, org.tokens["p1"], json=body).status_code,
                                range(6)))
    assert codes == [201] + [409] * 5
    [doc] = list(org.db["responses"].find({"survey_id": survey["id"]}))
    assert doc["person_id"] == org.ids["p1"] and doc["segment"]["age_group"] == "18_29" and "uncounted" not in doc
    assert doc["segment"]["branch_id"] == org.a and doc["segment"]["region_id"] == org.region
    [event] = org.outbox("responses", doc["_id"])
    assert event["type"] == "cocreate.feedback.submitted.v1" and event["actorid"] == org.ids["p1"]
    assert event["data"]["person_id"] == org.ids["p1"] and event["data"]["age_group"] == "18_29"
    assert [a["value"] for a in event["data"]["answers"]] == [4, 9, "The staff were kind"]
    results = org.db["insights"].find_one({"_id": f"s|{survey['id']}"})
    assert results["n"] == 1 and results["q"]["q1"]["v4"] == 1
    # the worker's safety net gets the same event (and a redelivery of it): nothing is counted again
    for _ in range(2):
        apply(org.db, event_of(event["type"], event["subject"], event["data"]))
    assert org.db["insights"].find_one({"_id": f"s|{survey['id']}"})["n"] == 1


def test_a_response_left_uncounted_by_a_crash_is_counted_by_the_worker_once(org):
    from services.feedback import services

    survey = org.survey()
    org.answer("p2", survey["id"], {"q1": 5, "q2": 10})
    doc = org.db["responses"].find_one({"survey_id": survey["id"]})
    # as if the web process died right after storing it: uncounted, nothing in the insights
    org.db["responses"].update_one({"_id": doc["_id"]}, {"$set": {"uncounted": True}})
    org.db["insights"].update_one({"_id": f"s|{survey['id']}"}, {"$inc": {"n": -1}})
    [event] = org.outbox("responses", doc["_id"])
    apply(org.db, event_of(event["type"], event["subject"], event["data"]))
    apply(org.db, event_of(event["type"], event["subject"], event["data"]))
    assert org.db["insights"].find_one({"_id": f"s|{survey['id']}"})["n"] == 1
    assert services.count_pending(services.Feedback.of(org.db)) == 0


@pytest.mark.parametrize("answers", [
    {"q1": 6, "q2": 9}, {"q1": "5", "q2": 9}, {"q1": True, "q2": 9}, {"q1": 4.5, "q2": 9}, {"q2": 9},
    {"q1": 4, "q2": 9, "q3": "x" * 2001}, {"q1": 4, "q2": 9, "q7": 1}, {"q1": {"$gt": 0}, "q2": 9},
    {"q1": [4], "q2": 9},
])
def test_bad_answers_are_refused_and_store_nothing(org, answers):
    survey = org.survey()
    response = org.api.call("POST", f"/surveys/{survey['id']}/responses", org.tokens["p1"], json={"answers": answers})
    assert response.status_code == 422 and response.headers["Content-Type"].startswith("application/problem+json")
    assert org.db["responses"].count_documents({"survey_id": survey["id"]}) == 0
    assert org.api.call("POST", "/surveys/sv_0000000000000000/responses", org.tokens["p1"],
                        json={"answers": {"q1": 4}}).status_code == 404


def test_staff_enter_a_clients_answers_recording_the_channel_and_the_clients_consent(org):
    survey = org.survey()
    url = f"/surveys/{survey['id']}/responses"
    answers = {"q1": 3, "q2": 6}
    behalf = {"person_id": org.ids["p6"], "consent": True}
    assert org.api.call("POST", url, org.tokens["staff_a"], json={
        "answers": answers, "channel": "phone", "on_behalf_of": dict(behalf, consent=False)}).status_code == 422
    assert org.api.call("POST", url, org.tokens["staff_a"], json={
        "answers": answers, "channel": "web", "on_behalf_of": behalf}).status_code == 422
    assert org.api.call("POST", url, org.tokens["staff_b"], json={
        "answers": answers, "channel": "phone", "on_behalf_of": behalf}).status_code == 403
    assert org.api.call("POST", url, org.tokens["p2"], json={"answers": answers, "channel": "kiosk"}).status_code == 422
    entered = org.api.ok("POST", url, org.tokens["staff_a"], 201, json={
        "answers": answers, "channel": "phone", "on_behalf_of": behalf})
    assert (entered["person_id"], entered["entered_by"], entered["channel"]) == (org.ids["p6"], org.ids["staff_a"],
                                                                                "phone")
    org.answer("p6", survey["id"], answers, status=409)  # the client answered already, through the staff
    doc = org.db["responses"].find_one({"_id": entered["id"]})
    assert doc["segment"]["age_group"] == "65_plus" and doc["segment"]["channel"] == "phone"
    walk_in = {"answers": answers, "channel": "in_person", "on_behalf_of": {"person_id": None, "consent": True}}
    for _ in range(2):  # a walk-in client without an account
        assert org.api.ok("POST", url, org.tokens["manager_a"], 201, json=walk_in)["person_id"] is None


def test_staff_of_branch_a_list_its_identified_responses_and_staff_of_b_cannot(org):
    survey = org.survey()
    for who in ("p1", "p2"):
        org.answer(who, survey["id"], {"q1": 4, "q2": 8, "q3": f"from {who}"})
    url = f"/surveys/{survey['id']}/responses"
    first = org.api.ok("GET", f"{url}?limit=1", org.tokens["staff_a"])
    rest = org.api.ok("GET", f"{url}?limit=1&after={first['next_cursor']}", org.tokens["staff_a"])
    assert {first["items"][0]["person_id"], rest["items"][0]["person_id"]} == set(org.people("p1", "p2"))
    assert rest["next_cursor"] is None
    assert org.api.call("GET", url, org.tokens["staff_b"]).status_code == 403
    assert org.api.call("GET", f"{url}?branch_id={org.b}", org.tokens["staff_b"]).status_code == 422
    assert org.api.call("GET", url, org.tokens["p1"]).status_code == 403
    mine = org.api.ok("GET", f"/responses/{first['items'][0]['id']}", org.tokens["staff_a"])
    assert mine["id"] == first["items"][0]["id"]
    assert org.api.call("GET", f"/responses/{first['items'][0]['id']}", org.tokens["staff_b"]).status_code == 403
    assert org.api.call("GET", f"/surveys/{survey['id']}/results", org.tokens["staff_b"]).status_code == 403


def test_an_anonymous_survey_stores_no_identity_with_the_answers_and_publishes_none(org):
    survey = org.survey(anonymous=True)
    made = org.answer("p3", survey["id"], {"q1": 2, "q2": 3, "q3": "The room was cold"})
    assert made["person_id"] is None and made["anonymous"] is True
    org.answer("p3", survey["id"], {"q1": 2, "q2": 3}, status=409)  # still one per person
    doc = org.db["responses"].find_one({"_id": made["id"]})
    stored = repr(doc)
    assert org.ids["p3"] not in stored and person_key(org.ids["p3"]) not in stored
    [event] = org.outbox("responses", made["id"])
    assert event["data"]["person_id"] is None and "actorid" not in event
    assert event["data"]["age_group"] is None and event["data"]["has_text"] is True
    assert [a["type"] for a in event["data"]["answers"]] == ["csat", "nps"]  # the free text stays here
    assert org.api.ok("GET", f"/surveys/{survey['id']}/responses", org.tokens["staff_a"])["items"] == []
    assert org.api.call("GET", f"/responses/{made['id']}", org.tokens["staff_a"]).status_code == 403
