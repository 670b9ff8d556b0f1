"""Themes from free text through the HTTP API, against the real store: keywords of known texts (Hebrew and
English, with prefixes and stop words), the privacy threshold (a theme of 4 people is not listed at all, one of 5
is), by age and population group, the per-month trend, a redelivered feedback.submitted counted once, anonymous
surveys' text counted without its person, who may read them, and the rebuild."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from services.feedback import services
from services.feedback.repository import theme_key
from services.feedback.services import months_back
from services.feedback.tests.conftest import apply, event_of

TEXTS = {  # "חניה" (parking) from five people, "מזגן" (air conditioning) from four
    "p1": "החניה מלאה, המזגן לא עובד",
    "p2": "אין חניה בערב. המזגן רועש",
    "p3": "בחניה אין מקום! מזגן",
    "p4": "צריך עוד חניה, מזגן חדש",
    "p5": "לחניה קשה להגיע",
}


def themes(org, who: str = "staff_a", status: int = 200, **query) -> dict:
    query.setdefault("scope", f"branch:{org.a}")
    return org.api.ok("GET", "/insights/themes", org.tokens[who], status, query_string=query)


def listed(view: dict) -> dict[str, int]:
    return {t["term"]: t["responses"] for t in view["themes"]}


def answer_texts(org, texts: dict[str, str], **survey_fields) -> dict:
    survey = org.survey(**survey_fields)
    for who, text in texts.items():
        org.answer(who, survey["id"], {"q1": 4, "q2": 8, "q3": text})
    return survey


def test_a_theme_of_five_people_is_listed_with_its_count_and_one_of_four_is_not(org):
    answer_texts(org, TEXTS)
    view = themes(org)
    assert view["threshold"] == 5
    assert listed(view) == {"חניה": 5}  # prefixes taken off: החניה, בחניה, לחניה are one theme
    [parking] = view["themes"]
    assert parking["label"] == "חניה"
    body = json.dumps(view, ensure_ascii=False)
    assert "מזגנ" not in body and "מזגן" not in body  # four people: neither the word nor its count
    # a sixth person, 65 or over: the theme grows; by age group, only the group of five shows it
    org.answer("p6", org.survey()["id"], {"q1": 3, "q2": 5, "q3": "חניה"})
    assert listed(themes(org)) == {"חניה": 6}
    assert listed(themes(org, age_group="18_29")) == {"חניה": 5}
    assert listed(themes(org, age_group="65_plus")) == {}
    assert listed(themes(org, population_group="families")) == {"חניה": 6}
    assert listed(themes(org, age_group="unknown")) == {}
    # the region and the organization count it too (the organization holds other tests' themes as well)
    assert listed(themes(org, "admin", scope=f"region:{org.region}")) == {"חניה": 6}
    assert listed(themes(org, "admin", scope="org", limit=50)).get("חניה", 0) >= 6
    assert themes(org, status=422, age_group="18_29", population_group="families")


def test_english_quick_feedback_comments_and_two_word_phrases(org):
    comments = ["The PARKING garage is full", "parking garage again", "No parking garage at night", "Parking garage!",
                "the parking garage is dark"]
    for who, comment in zip(("p1", "p2", "p3", "p4", "p5"), comments):
        org.api.ok("POST", "/feedback", org.tokens[who], 201, json={"branch_id": org.a, "rating": 3,
                                                                    "comment": comment})
    found = listed(themes(org))
    assert found["parking"] == 5 and found["parking garage"] == 5 and found["garage"] == 5
    assert "full" not in found and "dark" not in found and "the" not in found


def quick(org, who: str, comment: str) -> None:
    org.api.ok("POST", "/feedback", org.tokens[who], 201, json={"branch_id": org.a, "rating": 3, "comment": comment})


def test_the_month_trend_and_secondary_suppression(org, monkeypatch):
    last_month, this_month = months_back(2)
    first = datetime.now(timezone.utc).replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    with monkeypatch.context() as patch:  # feedback given last month
        patch.setattr(services, "now", lambda: first - timedelta(days=3))
        for who in ("p1", "p2", "p3", "p4", "p5"):
            quick(org, who, "הגינה יבשה")
        for who in ("p6", "p7"):
            quick(org, who, "ספרייה")
    for who in ("p1", "p2", "p3", "p4", "p5"):
        quick(org, who, "גינה")
    quick(org, "p6", "יבשה")
    for who in ("p1", "p2", "p3"):
        quick(org, who, "ספרייה")
    view = themes(org, months=f"{last_month},{this_month}")
    by_term = {t["term"]: t for t in view["themes"]}
    assert by_term["גינה"]["responses"] == 10
    assert by_term["גינה"]["months"] == [{"month": last_month, "suppressed": False, "responses": 5},
                                         {"month": this_month, "suppressed": False, "responses": 5}]
    assert by_term["גינה יבשה"]["months"] == [{"month": last_month, "suppressed": False, "responses": 5},
                                              {"month": this_month, "suppressed": False, "responses": 0}]
    # one person this month: that month is hidden, and so is last month, or the total would reveal it
    assert by_term["יבשה"]["responses"] == 6
    assert by_term["יבשה"]["months"] == [{"month": last_month, "suppressed": True},
                                         {"month": this_month, "suppressed": True}]
    # two people last month and three others this month: five distinct people over the two months, so the
    # theme is listed, and each month (fewer than five) is hidden
    assert by_term["ספרייה"]["responses"] == 5
    assert by_term["ספרייה"]["months"] == [{"month": last_month, "suppressed": True},
                                           {"month": this_month, "suppressed": True}]
    # this month alone: three people are not enough; last month alone: "יבשה" of five
    assert "ספרייה" not in listed(themes(org, months=this_month))
    assert listed(themes(org, months=last_month)) == {"גינה": 5, "יבשה": 5, "גינה יבשה": 5}


def test_a_redelivered_feedback_submitted_counts_once(org, monkeypatch):
    survey = org.survey()
    with monkeypatch.context() as patch:  # as if the web process died after storing each response
        patch.setattr(services, "count_response", lambda s, doc: (_ for _ in ()).throw(RuntimeError("crash")))
        for who in ("p1", "p2", "p3", "p4", "p5"):
            org.answer(who, survey["id"], {"q1": 4, "q2": 8, "q3": "גלידה"})
    assert listed(themes(org)) == {}
    for doc in org.db["responses"].find({"survey_id": survey["id"]}):
        assert doc.get("uncounted") is True
        [event] = org.outbox("responses", doc["_id"])
        for _ in range(2):  # the worker's safety net, and a redelivery
            apply(org.db, event_of(event["type"], event["subject"], event["data"]))
    assert listed(themes(org)) == {"גלידה": 5}
    [doc] = org.db["themes"].find({"_id": f"t|br:{org.a}|{months_back(1)[0]}|*|גלידה"})
    assert doc["n"] == 5 and len(doc["k"]) == 5


def test_anonymous_survey_text_counts_without_its_person(org):
    survey = answer_texts(org, {who: "ספרייה גדולה" for who in ("p1", "p2", "p3", "p4", "p5")}, anonymous=True)
    assert listed(themes(org)) == {"ספרייה": 5, "גדולה": 5, "ספרייה גדולה": 5}
    people = {theme_key({"person_id": org.ids[who]}) for who in ("p1", "p2", "p3", "p4", "p5")}
    stored = {k for doc in org.db["themes"].find({"scope": f"br:{org.a}"}) for k in doc.get("k", ())}
    assert len(stored) == 5 and not stored & people  # counted under the responses, never the people
    # and the responses still carry no person (the survey is anonymous)
    assert all(d.get("person_id") is None for d in org.db["responses"].find({"survey_id": survey["id"]}))


def test_who_may_read_themes(org):
    answer_texts(org, TEXTS)
    assert listed(themes(org, "manager_a")) == {"חניה": 5}
    themes(org, "staff_b", 403)  # staff of another branch
    themes(org, "p1", 403)  # a participant
    themes(org, "staff_a", 403, scope=f"region:{org.region}")  # regions and the organization are the admins'
    themes(org, "staff_a", 403, scope="org")
    assert org.api.call("GET", "/insights/themes", None, query_string={"scope": f"branch:{org.a}"}).status_code == 401


def test_rebuild_insights_gives_the_same_themes(org):
    from services.feedback.maintenance import rebuild_insights

    answer_texts(org, TEXTS)
    org.answer("p6", org.survey()["id"], {"q1": 3, "q2": 5, "q3": "חניה ומזגן"})
    before = [themes(org), themes(org, age_group="18_29"), themes(org, population_group="families"),
              themes(org, "admin", scope=f"region:{org.region}")]
    month = months_back(1)[0]
    stored = {d["_id"]: (d["n"], len(d.get("k", ()))) for d in org.db["themes"].find({"scope": f"br:{org.a}"})}
    # as if a crash had left the branch's themes short
    org.db["themes"].delete_many({"tl": f"br:{org.a}|{month}|*"})
    assert listed(themes(org)) == {}
    written = rebuild_insights(org.db)
    assert written["themes"] >= len(stored)
    after = [themes(org), themes(org, age_group="18_29"), themes(org, population_group="families"),
             themes(org, "admin", scope=f"region:{org.region}")]
    assert after == before
    assert listed(after[0]) == {"חניה": 6, "מזגנ": 5}
    assert {d["_id"]: (d["n"], len(d.get("k", ()))) for d in org.db["themes"].find(
        {"scope": f"br:{org.a}"})} == stored


def test_erasure_takes_the_persons_key_out_of_every_theme_and_keeps_the_counts(org):
    from services.feedback.tests.conftest import tell

    answer_texts(org, TEXTS)
    key = theme_key({"person_id": org.ids["p1"]})
    assert org.db["themes"].count_documents({"k": key}) > 0
    tell(org.db, "cocreate.person.erased.v1", org.ids["p1"], {"person_id": org.ids["p1"]})
    assert org.db["themes"].count_documents({"k": key}) == 0
    [parking] = org.db["themes"].find({"_id": f"t|br:{org.a}|{months_back(1)[0]}|*|חניה"})
    assert parking["n"] == 5 and len(parking["k"]) == 4
    assert listed(themes(org)) == {}  # four known people now: hidden until a fifth raises it again
