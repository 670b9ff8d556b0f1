"""The inbox and preferences through the HTTP API, against the real store: cursor pages newest first, unread
count, read one and read all, nobody reads another's inbox, bad input answered with problem+json."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.notifications.repository import NOTIFICATIONS
from services.notifications.tests.conftest import person_data, tell
from shared.auth import Principal

PROBLEM = "application/problem+json"


def told_at(org, who: str, days_ago: list[int]) -> str:
    """An idea `who` follows, moved once for each age given (events stamped that long ago)."""
    idea = org.idea("p1", followers=(who,))
    now = datetime.now(timezone.utc)
    for days in days_ago:
        org.move(idea, "under_review", at=now - timedelta(days=days, minutes=1))
    return idea


def test_the_inbox_pages_newest_first_across_months_with_a_cursor(org):
    told_at(org, "p2", [400, 0, 40, 1, 100, 800])  # 800 days ago is beyond the inbox's horizon
    pages, after = [], None
    while True:
        query = {"limit": 2, **({"after": after} if after else {})}
        page = org.api.ok("GET", "/inbox", org.tokens["p2"], query_string=query)
        pages.append(page["items"])
        after = page["next_cursor"]
        if after is None:
            break
    assert [len(p) for p in pages] == [2, 2, 1]
    items = [n for p in pages for n in p]
    ages = [(datetime.now(timezone.utc) - datetime.fromisoformat(n["created_at"])).days for n in items]
    assert ages == [0, 1, 40, 100, 400]
    assert len({n["id"] for n in items}) == 5 and all(n["read"] is False for n in items)


def test_unread_count_read_one_and_read_all(org):
    told_at(org, "p2", [0, 1, 2])
    assert org.api.ok("GET", "/inbox/unread-count", org.tokens["p2"]) == {"unread": 3, "capped": False}
    newest = org.inbox("p2")[0]
    read = org.api.ok("POST", f"/inbox/{newest['id']}/read", org.tokens["p2"])
    assert read["id"] == newest["id"] and read["read"] is True and read["read_at"]
    again = org.api.ok("POST", f"/inbox/{newest['id']}/read", org.tokens["p2"])  # harmless, keeps the first time
    assert again["read_at"] == read["read_at"]
    assert org.api.ok("GET", "/inbox/unread-count", org.tokens["p2"])["unread"] == 2
    assert org.api.ok("POST", "/inbox/read-all", org.tokens["p2"]) == {"marked": 2}
    assert org.api.ok("GET", "/inbox/unread-count", org.tokens["p2"])["unread"] == 0
    assert all(n["read"] for n in org.inbox("p2"))
    assert org.api.ok("POST", "/inbox/read-all", org.tokens["p2"]) == {"marked": 0}


def test_the_unread_count_stops_at_a_hundred(org):
    told_at(org, "p3", list(range(101)))
    assert org.api.ok("GET", "/inbox/unread-count", org.tokens["p3"]) == {"unread": 100, "capped": True}


def test_nobody_reads_or_marks_another_persons_inbox(org):
    told_at(org, "p2", [0])
    [theirs] = org.inbox("p2")
    assert org.inbox("p3") == []
    for path in (f"/inbox/{theirs['id']}/read", "/inbox/20260101T000000000000Z-00000000000000000000/read",
                 "/inbox/not-an-id/read"):
        refused = org.api.call("POST", path, org.tokens["p3"])
        assert refused.status_code == 404 and refused.headers["Content-Type"].startswith(PROBLEM)
    org.api.ok("POST", "/inbox/read-all", org.tokens["p3"])
    assert org.inbox("p2")[0]["read"] is False


def test_inboxes_belong_to_signed_in_people(org, issue_token):
    for method, path in (("GET", "/inbox"), ("GET", "/inbox/unread-count"), ("POST", "/inbox/read-all"),
                         ("GET", "/preferences")):
        anonymous = org.api.call(method, path)
        assert anonymous.status_code == 401 and anonymous.headers["Content-Type"].startswith(PROBLEM)
    service = issue_token(Principal(id="sa_crm", kind="service", name="CRM"))
    assert org.api.call("GET", "/inbox", service).status_code == 403


def test_the_inbox_speaks_the_language_the_person_chose_last(org):
    told_at(org, "p2", [0])
    assert org.inbox("p2")[0]["title"] == "News about an idea you follow"
    tell(org.db, "cocreate.person.updated.v1", org.ids["p2"], person_data(org.ids["p2"], lang="he", home=org.a))
    [told] = org.inbox("p2")
    assert told["title"] == "עדכון ברעיון שאתם עוקבים אחריו" and "בבדיקה" in told["body"]


@pytest.mark.parametrize("query, field", [
    ({"after": "nope"}, "after"),
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"unread": "true"}, "unread"),
])
def test_bad_inbox_queries_are_refused_with_a_problem(org, query, field):
    response = org.api.call("GET", "/inbox", org.tokens["p1"], query_string=query)
    assert response.status_code == 422 and response.headers["Content-Type"].startswith(PROBLEM)
    assert field in response.json["errors"]["query"]


def test_preferences_read_and_replace_with_defaults_for_what_is_left_out(org):
    defaults = org.api.ok("GET", "/preferences", org.tokens["p1"])["categories"]
    assert set(defaults) == {"my_ideas", "followed_ideas", "volunteering", "my_feedback", "branch_activity", "account"}
    assert defaults["my_feedback"]["email"] is True  # surveys to answer and replies to what one said
    assert defaults["followed_ideas"] == {"inapp": True, "email": False, "webhook": False,
                                          "email_frequency": "instant", "critical": False}
    chosen = org.api.ok("PUT", "/preferences", org.tokens["p1"], json={"categories": {
        "followed_ideas": {"email": True, "email_frequency": "daily"}, "my_ideas": {"webhook": True}}})
    assert chosen["categories"]["followed_ideas"] == {"inapp": True, "email": True, "webhook": False,
                                                      "email_frequency": "daily", "critical": False}
    assert org.api.ok("GET", "/preferences", org.tokens["p1"]) == chosen
    # what GET returns can be sent back as it is
    assert org.api.ok("PUT", "/preferences", org.tokens["p1"], json=chosen) == chosen
    assert org.api.ok("PUT", "/preferences", org.tokens["p1"], json={"categories": {}})["categories"] == defaults


@pytest.mark.parametrize("body, where", [
    ({"categories": {"gossip": {"inapp": False}}}, "categories"),
    ({"categories": {"my_ideas": {"inapp": "maybe"}}}, "categories"),
    ({"categories": {"my_ideas": {"email_frequency": "hourly"}}}, "categories"),
    ({"categories": {"my_ideas": {"sms": True}}}, "categories"),
    ({}, "categories"),
    ({"categories": {"my_ideas": {"$set": {"inapp": False}}}}, None),
])
def test_bad_preferences_are_refused_with_a_problem_and_change_nothing(org, body, where):
    before = org.api.ok("GET", "/preferences", org.tokens["p2"])
    response = org.api.call("PUT", "/preferences", org.tokens["p2"], json=body)
    assert response.status_code == 422 and response.headers["Content-Type"].startswith(PROBLEM), response.json
    if where:
        assert where in response.json["errors"]["body"]
    assert org.api.ok("GET", "/preferences", org.tokens["p2"]) == before


def test_a_body_that_is_not_json_is_a_400_problem(org):
    response = org.api.call("PUT", "/preferences", org.tokens["p2"], data="{not json",
                            content_type="application/json")
    assert response.status_code == 400 and response.headers["Content-Type"].startswith(PROBLEM)


def test_an_inbox_page_is_an_indexed_equality_on_one_person_and_month(org):
    told_at(org, "p2", [0])
    [doc] = org.db[NOTIFICATIONS].find({"recipient": org.ids["p2"]})
    assert doc["box"] == f"{org.ids['p2']}:{doc['_id'][:6]}" and doc["unread"] == org.ids["p2"]
    assert {"box_1", "recipient_1", "unread_1"} <= set(org.db[NOTIFICATIONS].index_information())
