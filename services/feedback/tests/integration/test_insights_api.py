"""Insights through the HTTP API, against the real store: NPS and CSAT of known answer sets, the privacy
threshold (4 people hidden, 5 shown) and secondary suppression, quick feedback and staff replies, the idea funnel
and lead times from known event histories (a redelivered event counts once), erasure, and the rebuild."""
from __future__ import annotations

from services.feedback.repository import person_key
from services.feedback.services import months_back
from services.feedback.tests.conftest import apply, days_ago, idea_submitted, status_changed, tell

CSAT, NPS = [5, 4, 4, 2, 1], [10, 9, 8, 7, 0]


def test_nps_and_csat_of_a_known_answer_set(org):
    survey = org.survey()
    for who, csat, nps in zip(("p1", "p2", "p3", "p4", "p5"), CSAT, NPS):
        org.answer(who, survey["id"], {"q1": csat, "q2": nps})
    surveys = org.satisfaction()["totals"]["surveys"]
    assert (surveys["people"], surveys["responses"]) == (5, 5)
    assert surveys["nps"] == {"answers": 5, "score": 20.0, "promoters": 2, "passives": 2, "detractors": 1}
    assert (surveys["csat"]["average"], surveys["csat"]["satisfied_share"], surveys["csat"]["median"]) == (3.2, 0.6, 4)
    results = org.api.ok("GET", f"/surveys/{survey['id']}/results", org.tokens["staff_a"])
    q1, q2, q3 = results["questions"]
    assert results["responses"] == 5 and q1["average"] == 3.2 and q2["score"] == 20.0 and q3["answers"] == 0
    assert q2["distribution"]["0"] == 1 and q2["distribution"]["10"] == 1
    # the same figures in the region and, for the org admin, in the organization's totals (which hold more)
    region = org.satisfaction("admin", scope=f"region:{org.region}")["totals"]["surveys"]
    assert region["nps"]["score"] == 20.0 and region["csat"]["average"] == 3.2
    assert org.api.call("GET", "/insights/satisfaction", org.tokens["staff_a"],
                        query_string={"scope": f"region:{org.region}"}).status_code == 403
    assert org.api.call("GET", "/insights/satisfaction", org.tokens["staff_b"],
                        query_string={"scope": f"branch:{org.a}"}).status_code == 403


def test_a_cell_of_four_people_shows_no_figures_and_five_show_them(org):
    survey = org.survey()
    for who in ("p1", "p2", "p3", "p4"):
        org.answer(who, survey["id"], {"q1": 5, "q2": 10, "q3": f"{who} liked it"})
    assert org.satisfaction()["totals"]["surveys"] == {"suppressed": True}
    assert org.satisfaction(age_group="18_29")["totals"]["surveys"] == {"suppressed": True}
    results = org.api.ok("GET", f"/surveys/{survey['id']}/results", org.tokens["staff_a"])
    assert results["suppressed"] is True and results["responses"] is None and results["questions"] == []
    org.answer("p5", survey["id"], {"q1": 4, "q2": 9})
    assert org.satisfaction()["totals"]["surveys"]["people"] == 5
    assert org.satisfaction(age_group="18_29")["totals"]["surveys"]["csat"]["average"] == 4.8
    assert not org.api.ok("GET", f"/surveys/{survey['id']}/results", org.tokens["staff_a"])["suppressed"]
    # one person of 65+: their row is hidden, and so is the other row, or subtraction would reveal it
    org.answer("p6", survey["id"], {"q1": 1, "q2": 0})
    view = org.satisfaction(by="age_group")
    assert view["totals"]["surveys"]["people"] == 6
    assert {r["value"]: r["surveys"] for r in view["rows"]} == {"18_29": {"suppressed": True},
                                                                 "65_plus": {"suppressed": True}}
    assert org.satisfaction(age_group="65_plus")["totals"]["surveys"] == {"suppressed": True}
    nobody = org.satisfaction(channel="phone")["totals"]["surveys"]
    assert (nobody["people"], nobody["responses"]) == (0, 0)  # an empty cell discloses nothing
    # combined filters read the cubes: the same threshold there
    assert org.satisfaction(age_group="65_plus", channel="web")["totals"]["surveys"] == {"suppressed": True}
    assert org.satisfaction(age_group="18_29", channel="web")["totals"]["surveys"]["people"] == 5
    assert {r["value"]: r["surveys"].get("people") for r in org.satisfaction(
        channel="web", by="age_group")["rows"]} == {"18_29": None, "65_plus": None}  # both hidden, as above
    by_month = org.satisfaction(by="month", months=months_back(1)[0])["rows"]
    assert by_month[0]["surveys"]["people"] == 6


def test_quick_feedback_and_a_staff_reply_that_tells_the_respondent(org):
    made = org.api.ok("POST", "/feedback", org.tokens["p1"], 201, json={"branch_id": org.a, "rating": 2,
                                                                         "comment": "The queue was long"})
    assert made["kind"] == "quick" and made["person_id"] == org.ids["p1"]
    for bad in ({"branch_id": org.a, "rating": 6}, {"branch_id": org.a, "rating": "5"}, {"rating": 3},
                {"program": "two words", "rating": 3}, {"branch_id": "br_nope", "rating": 3},
                {"branch_id": org.a, "rating": 3, "comment": "x" * 2001}):
        response = org.api.call("POST", "/feedback", org.tokens["p2"], json=bad)
        assert response.status_code == 422, (bad, response.json)
    assert org.db["responses"].count_documents({"list_key": f"quick|{org.a}"}) == 1
    url = f"/responses/{made['id']}/replies"
    assert org.api.call("POST", url, org.tokens["staff_b"], json={"text": "Sorry"}).status_code == 403
    assert org.api.call("POST", url, org.tokens["p2"], json={"text": "Sorry"}).status_code == 403
    assert org.api.call("POST", url, org.tokens["staff_a"], json={"text": ""}).status_code == 422
    reply = org.api.ok("POST", url, org.tokens["staff_a"], 201, json={"text": "We opened a second desk."})
    assert org.outbox_types("responses", made["id"]) == ["cocreate.feedback.replied.v1",
                                                         "cocreate.feedback.submitted.v1"]
    replied = [e for e in org.outbox("responses", made["id"]) if e["type"] == "cocreate.feedback.replied.v1"][0]
    assert replied["data"]["person_id"] == org.ids["p1"] and replied["data"]["reply_id"] == reply["id"]
    assert [r["text"] for r in org.api.ok("GET", url, org.tokens["p1"])["items"]] == ["We opened a second desk."]
    assert org.api.call("GET", url, org.tokens["p2"]).status_code == 403
    listed = org.api.ok("GET", f"/feedback?branch_id={org.a}", org.tokens["manager_a"])["items"]
    assert [i["id"] for i in listed] == [made["id"]] and listed[0]["replies"][0]["id"] == reply["id"]
    assert org.api.call("GET", f"/feedback?branch_id={org.a}", org.tokens["staff_b"]).status_code == 403
    # a response without words is not replied to
    survey = org.survey()
    plain = org.answer("p2", survey["id"], {"q1": 3, "q2": 5})
    assert org.api.call("POST", f"/responses/{plain['id']}/replies", org.tokens["staff_a"],
                        json={"text": "Thanks"}).status_code == 422
    assert org.api.call("POST", "/responses/rs_0000000000000000/replies", org.tokens["staff_a"],
                        json={"text": "Thanks"}).status_code == 404
    quick = org.satisfaction()["totals"]["quick"]
    assert quick == {"suppressed": True}  # one person


def test_the_funnel_and_lead_times_of_known_event_histories_and_a_redelivery_counts_once(org):
    # five ideas: submitted -> planned after 1, 2, 3, 4, 10 days; planned -> implemented after 5, 5, 5, 5, 30;
    # first official response after 0, 1, 1, 2, 3 days. A sixth waits, a seventh is declined.
    to_planned, to_done, to_answer = [1, 2, 3, 4, 10], [5, 5, 5, 5, 30], [0, 1, 1, 2, 3]
    staff = org.ids["staff_a"]
    for n, (plan, done, answer) in enumerate(zip(to_planned, to_done, to_answer)):
        idea, start = f"id_lead{n}{org.a}", days_ago(60)
        tell(org.db, "cocreate.idea.submitted.v1", idea, idea_submitted(idea, org.a, org.region, org.ids["p1"], start),
             at=start)
        tell(org.db, "cocreate.comment.posted.v1", idea, {
            "idea_id": idea, "branch_id": org.a, "comment_id": f"cm_{n}", "parent_id": None, "author_id": staff,
            "official": True, "mentions": [], "text": "We are on it"}, at=start + _days(answer))
        moments = [("submitted", "under_review", start + _days(0.5)),
                   ("under_review", "planned", start + _days(plan)),
                   ("planned", "in_progress", start + _days(plan + 1)),
                   ("in_progress", "implemented", start + _days(plan + done))]
        for frm, to, at in moments:
            event = tell(org.db, "cocreate.idea.status_changed.v1", idea,
                         status_changed(idea, org.a, frm, to, at, staff, org.ids["p1"]), at=at)
        apply(org.db, event)  # the last one redelivered
    tell(org.db, "cocreate.idea.submitted.v1", "id_wait" + org.a,
         idea_submitted("id_wait" + org.a, org.a, org.region, org.ids["p2"], days_ago(3)))
    late = "id_no" + org.a
    tell(org.db, "cocreate.idea.submitted.v1", late,
         idea_submitted(late, org.a, org.region, org.ids["p3"], days_ago(9)))
    declined = tell(org.db, "cocreate.idea.status_changed.v1", late,
                    status_changed(late, org.a, "submitted", "declined", days_ago(8), staff))
    apply(org.db, declined)
    view = org.api.ok("GET", "/insights/ideas", org.tokens["staff_a"],
                      query_string={"branch_id": org.a, "months": ",".join(months_back(4))})
    assert {k: v for k, v in view["funnel"].items() if v} == {"submitted": 1, "implemented": 5, "declined": 1}
    assert view["lead_times"] == {"first_response": {"ideas": 5, "median_days": 1, "p90_days": 3},
                                  "planned": {"ideas": 5, "median_days": 3, "p90_days": 10},
                                  "implemented": {"ideas": 5, "median_days": 5, "p90_days": 30}}
    participation = view["participation"]
    assert participation["registered"] == 7
    assert sum(m["submitted"] for m in participation["months"]) >= 1
    assert org.api.call("GET", "/insights/ideas", org.tokens["staff_b"],
                        query_string={"branch_id": org.a}).status_code == 403
    assert org.api.call("GET", "/insights/ideas", org.tokens["staff_a"]).status_code == 403  # the organization's


def _days(n: float):
    from datetime import timedelta

    return timedelta(days=n)


def test_an_erased_respondents_feedback_stays_counted_and_belongs_to_nobody(org):
    survey = org.survey()
    made = org.answer("p1", survey["id"], {"q1": 5, "q2": 10, "q3": "I am Noa from the third floor"})
    quick = org.api.ok("POST", "/feedback", org.tokens["p1"], 201, json={"branch_id": org.a, "rating": 5,
                                                                          "comment": "Noa again"})
    anonymous = org.survey(anonymous=True)
    org.answer("p1", anonymous["id"], {"q1": 4, "q2": 9})
    for _ in range(2):  # a redelivered erasure changes nothing more
        tell(org.db, "cocreate.person.erased.v1", org.ids["p1"], {"person_id": org.ids["p1"]})
    for doc_id in (made["id"], quick["id"]):
        doc = org.db["responses"].find_one({"_id": doc_id})
        assert doc.get("person_id") is None and doc["anonymous"] is True and "list_key" not in doc
        assert all(a["type"] != "text" for a in doc["answers"]) and doc["claim"].startswith("erased:")
    assert org.db["people"].find_one({"_id": org.ids["p1"]}, {"_id": 0, "as_of": 0}) == {"erased": True}
    pk = person_key(org.ids["p1"])
    for collection in ("segments", "insight_people", "participation_claims"):
        assert org.db[collection].count_documents({"pk": pk}) == 0
    assert org.db["insights"].find_one({"_id": f"s|{survey['id']}"})["n"] == 1  # still counted
    assert org.api.ok("GET", f"/surveys/{survey['id']}/responses", org.tokens["staff_a"])["items"] == []
    # the anonymous survey's claim no longer leads to them
    from services.feedback.repository import anonymous_claim

    salt = org.db["surveys"].find_one({"_id": anonymous["id"]})["salt"]
    assert org.db["responses"].count_documents({"claim": anonymous_claim(anonymous["id"], salt, org.ids["p1"])}) == 0
    assert org.api.ok("GET", "/insights/ideas", org.tokens["staff_a"],
                      query_string={"branch_id": org.a})["participation"]["registered"] == 6


def test_rebuild_insights_recomputes_what_a_crash_left_short(org):
    from services.feedback.maintenance import rebuild_insights

    survey = org.survey()
    for who, csat, nps in zip(("p1", "p2", "p3", "p4", "p5", "p6"), CSAT + [3], NPS + [6]):
        org.answer(who, survey["id"], {"q1": csat, "q2": nps})
    org.api.ok("POST", "/feedback", org.tokens["p7"], 201, json={"branch_id": org.a, "rating": 4})
    before = org.satisfaction(by="age_group")
    before_combined = org.satisfaction(age_group="18_29", channel="web")
    assert before_combined["totals"]["surveys"]["people"] == 5
    month = months_back(1)[0]
    # as if crashes had left the branch's month document and the survey's results short
    org.db["insights"].delete_one({"_id": f"m|br:{org.a}|{month}"})
    org.db["insights"].delete_one({"_id": f"c|br:{org.a}|{month}|18_29|families"})
    org.db["insights"].update_one({"_id": f"s|{survey['id']}"}, {"$inc": {"n": -2}})
    assert org.satisfaction()["totals"]["surveys"]["people"] == 0
    written = rebuild_insights(org.db)
    assert written["summary"] >= 3 and written["cube"] >= 6 and written["results"] >= 1
    assert org.satisfaction(by="age_group") == before
    assert org.satisfaction(age_group="18_29", channel="web") == before_combined
    assert org.db["insights"].find_one({"_id": f"s|{survey['id']}"})["n"] == 6


def test_three_dimensions_with_age_free_read_the_service_cube_and_agree_with_the_age_and_population_cube(org):
    for who, rating in zip(("p1", "p2", "p3", "p4", "p5"), (5, 4, 4, 3, 5)):  # five of 18-29, families, web
        org.api.ok("POST", "/feedback", org.tokens[who], 201,
                   json={"branch_id": org.a, "rating": rating, "program": "pg_club"})
    org.api.ok("POST", "/feedback", org.tokens["p6"], 201, json={"branch_id": org.a, "rating": 1})  # no program
    by_age = org.satisfaction(channel="web", program="pg_club", by="age_group")
    assert by_age["totals"]["quick"]["people"] == 5 and by_age["totals"]["quick"]["average"] == 4.2
    assert [(row["value"], row["quick"]["average"]) for row in by_age["rows"]] == [("18_29", 4.2)]
    free = org.satisfaction(channel="web", program="pg_club", age_group="18_29")  # population free
    fixed = org.satisfaction(channel="web", program="pg_club", age_group="18_29", population_group="families")
    assert free["totals"] == fixed["totals"] and fixed["totals"]["quick"]["answers"] == 5
    month = months_back(1)[0]
    assert org.db["insights"].find_one({"_id": f"k|br:{org.a}|{month}|web|pg_club"})["f"]["18_29|families"] == {
        "q3": 1, "q4": 2, "q5": 2}
    every_program = org.satisfaction(channel="web", age_group="18_29", by="population_group")  # service cube web|*
    assert [(row["value"], row["quick"]["people"]) for row in every_program["rows"]] == [("families", 5)]
    assert every_program["rows"][0]["quick"] == org.satisfaction(
        channel="web", age_group="18_29", population_group="families")["totals"]["quick"]  # the cube's figures
    every_channel = org.satisfaction(program="pg_club", population_group="families", by="age_group")  # *|pg_club
    assert [(row["value"], row["quick"]["average"]) for row in every_channel["rows"]] == [("18_29", 4.2)]
    elsewhere = org.satisfaction(channel="phone", program="pg_club", by="age_group")
    assert elsewhere["rows"] == [] and elsewhere["totals"]["quick"]["answers"] == 0
