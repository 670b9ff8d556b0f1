"""Webhooks for other systems, against the real store and a real HTTP receiver: the admin API (org admins and
service accounts only; bad input answered with problem+json), signed deliveries of the CloudEvent exactly as it
came, retries with exponential backoff and a log of every attempt, dead-lettering after the last attempt with
`notification.failed`, and manual replay."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from services.notifications import signing
from services.notifications.domain import CANCELLED, DEAD, DELIVERED
from services.notifications.repository import WEBHOOK_DELIVERIES
from services.notifications.tests.conftest import Clock, outbox_events, person_data, tell
from shared.auth import Principal

PROBLEM = "application/problem+json"
STATUS_CHANGED = "cocreate.idea.status_changed.v1"


@pytest.fixture
def hooks(org):
    """Subscriptions made in a test are deleted after it, so no later test's events go to its receiver."""
    made = []

    def subscribe(url: str, event_types=(STATUS_CHANGED,), token: str | None = None, **fields) -> dict:
        created = org.api.ok("POST", "/webhooks", token or org.tokens["admin"], 201, json={
            "url": url, "event_types": list(event_types), **fields})
        made.append((created["id"], token or org.tokens["admin"]))
        return created

    yield subscribe
    for webhook_id, token in made:
        org.api.call("DELETE", f"/webhooks/{webhook_id}", token)


def log_of(org, webhook: dict) -> list[dict]:
    return org.api.ok("GET", f"/webhooks/{webhook['id']}/deliveries", org.tokens["admin"])["items"]


def test_webhook_admin_endpoints_are_for_org_admins_and_service_accounts_only(org, issue_token, hooks, receiver):
    crm = issue_token(Principal(id="sa_crm" + org.run, kind="service", name="CRM"))
    bi = issue_token(Principal(id="sa_bi" + org.run, kind="service", name="BI"))
    mine = hooks(receiver.url, token=crm)
    theirs = hooks(receiver.url, description="the admin's")
    assert mine["secret"].startswith("whsec_") and len(mine["secret"]) == 70
    for who in ("p1", "staff_a", "manager_a"):
        for method, path in (("GET", "/webhooks"), ("POST", "/webhooks"), ("GET", f"/webhooks/{theirs['id']}"),
                             ("PATCH", f"/webhooks/{theirs['id']}"), ("DELETE", f"/webhooks/{theirs['id']}"),
                             ("GET", f"/webhooks/{theirs['id']}/deliveries")):
            refused = org.api.call(method, path, org.tokens[who], json={} if method in ("POST", "PATCH") else None)
            assert refused.status_code == 403 and refused.headers["Content-Type"].startswith(PROBLEM), (who, path)
    assert org.api.call("GET", "/webhooks").status_code == 401
    # a service account manages its own subscriptions; an org admin all of them
    assert [w["id"] for w in org.api.ok("GET", "/webhooks", crm)["items"]] == [mine["id"]]
    assert org.api.ok("GET", "/webhooks", bi)["items"] == []
    assert org.api.call("GET", f"/webhooks/{theirs['id']}", crm).status_code == 404
    assert org.api.call("DELETE", f"/webhooks/{mine['id']}", bi).status_code == 404
    listed = org.api.ok("GET", "/webhooks", org.tokens["admin"], query_string={"limit": 100})["items"]
    listed = {w["id"] for w in listed}
    assert {mine["id"], theirs["id"]} <= listed
    # the secret is shown once: never listed, never read back; a rotation shows the new one once
    shown = org.api.ok("GET", f"/webhooks/{mine['id']}", crm)
    assert "secret" not in shown and shown["url"] == receiver.url and shown["created_by"] == "sa_crm" + org.run
    rotated = org.api.ok("PATCH", f"/webhooks/{mine['id']}", crm, json={"rotate_secret": True, "active": False})
    assert rotated["secret"] != mine["secret"] and rotated["active"] is False
    assert "secret" not in org.api.ok("PATCH", f"/webhooks/{mine['id']}", crm, json={"description": "CRM"})
    org.api.ok("DELETE", f"/webhooks/{mine['id']}", crm, 204)
    assert org.api.call("GET", f"/webhooks/{mine['id']}", crm).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://example.org/hook", "event_types": [STATUS_CHANGED]}, "url"),
    ({"url": "not a url", "event_types": [STATUS_CHANGED]}, "url"),
    ({"url": "https://user:pw@example.org/hook", "event_types": [STATUS_CHANGED]}, "url"),
    ({"url": "https://example.org/hook", "event_types": ["cocreate.idea.exploded.v1"]}, "event_types"),
    ({"url": "https://example.org/hook", "event_types": []}, "event_types"),
    ({"url": "https://example.org/hook", "event_types": [STATUS_CHANGED], "secret": "mine"}, "secret"),
    ({"event_types": [STATUS_CHANGED]}, "url"),
])
def test_bad_subscriptions_are_refused_with_problem_json_and_change_nothing(org, body, field):
    before = org.api.ok("GET", "/webhooks", org.tokens["admin"], query_string={"limit": 100})["items"]
    refused = org.api.call("POST", "/webhooks", org.tokens["admin"], json=body)
    assert refused.status_code == 422 and refused.headers["Content-Type"].startswith(PROBLEM)
    assert field in refused.json["errors"]["body"]
    assert org.api.ok("GET", "/webhooks", org.tokens["admin"], query_string={"limit": 100})["items"] == before


def test_unknown_webhooks_and_deliveries_are_not_found(org, hooks, receiver):
    made = hooks(receiver.url)
    unknown = "20260101T000000000000Z-00000000000000000000"
    for method, path in (("GET", "/webhooks/wh_0000000000000000"), ("GET", "/webhooks/nope"),
                         ("GET", "/webhooks/nope/deliveries"),
                         ("POST", f"/webhooks/{made['id']}/deliveries/{unknown}/replay"),
                         ("POST", f"/webhooks/{made['id']}/deliveries/nope/replay")):
        missing = org.api.call(method, path, org.tokens["admin"])
        assert missing.status_code == 404 and missing.headers["Content-Type"].startswith(PROBLEM), path
    bad = org.api.call("PATCH", f"/webhooks/{made['id']}", org.tokens["admin"], json={"url": "mailto:x@y.z"})
    assert bad.status_code == 422 and "url" in bad.json["errors"]["body"]


def test_a_receiver_that_fails_three_times_then_succeeds_gets_one_signed_delivery_and_a_log_of_four(
        org, hooks, receiver, dispatcher):
    hook = hooks(receiver.url)
    receiver.script = [500, "drop", 503]
    idea = org.idea("p1")
    event = org.move(idea, "under_review")
    clock = Clock()
    deliver = dispatcher(clock)
    waits = []
    for _ in range(4):
        deliver.drain()
        [delivery] = log_of(org, hook)
        if delivery["status"] != "pending":
            break
        waits.append(round((datetime.fromisoformat(delivery["next_attempt_at"]) - clock.at).total_seconds()))
        clock.advance(waits[-1])
    assert waits == [1, 2, 4]  # exponential backoff from a base of 1 s
    assert len(receiver.requests) == 4 and len(receiver.accepted) == 1

    [delivery] = log_of(org, hook)
    assert (delivery["status"], delivery["attempts"], delivery["event_id"]) == ("delivered", 4, event.id)
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in delivery["log"]] == [
        (1, "failed", 500), (2, "failed", None), (3, "failed", 503), (4, "accepted", 200)]
    assert delivery["log"][1]["error"].startswith("ConnectionError") and all(
        a["duration_ms"] >= 0 for a in delivery["log"])

    [accepted] = receiver.accepted
    headers = accepted["headers"]
    assert accepted["body"] == event.value.encode()  # the CloudEvent exactly as it came
    assert json.loads(accepted["body"])["type"] == STATUS_CHANGED
    assert headers["Content-Type"] == "application/cloudevents+json"
    assert headers["X-Cocreate-Event-Id"] == event.id and headers["X-Cocreate-Delivery-Attempt"] == "4"
    assert signing.verify(hook["secret"], accepted["body"], headers["X-Cocreate-Signature"])
    assert all(r["headers"]["X-Cocreate-Event-Id"] == event.id for r in receiver.requests)

    # three failed events (not final), then one delivered, in the delivery's outbox, each meeting the contract
    events = outbox_events(org.db, WEBHOOK_DELIVERIES, delivery["id"])
    assert [(e["type"].split(".")[2], e["data"].get("final")) for e in events] == [
        ("failed", False), ("failed", False), ("failed", False), ("delivered", None)]
    assert events[-1]["data"]["deliveries"][0]["webhook_id"] == hook["id"]
    assert events[0]["data"]["reason"] == "HTTP 500 Internal Server Error"


def test_a_receiver_detects_a_tampered_body_a_wrong_secret_and_an_old_signature(org, hooks, receiver, dispatcher):
    hook = hooks(receiver.url)
    org.move(org.idea("p1"), "under_review")
    dispatcher().drain()
    [got] = receiver.accepted
    header = got["headers"]["X-Cocreate-Signature"]
    assert signing.verify(hook["secret"], got["body"], header)
    assert not signing.verify(hook["secret"], got["body"].replace(b"under_review", b"implemented"), header)
    assert not signing.verify("whsec_" + "0" * 64, got["body"], header)
    assert not signing.verify(hook["secret"], got["body"], header, now=int(header[2:12]) + 301)


def test_after_the_last_attempt_a_delivery_is_dead_and_a_replay_delivers_it(org, hooks, receiver, dispatcher):
    hook = hooks(receiver.url)
    receiver.script = [503] * 4
    event = org.move(org.idea("p1"), "under_review")
    deliver = dispatcher(delivery_backoff_seconds=0)
    deliver.drain()
    [dead] = log_of(org, hook)
    assert (dead["status"], dead["attempts"], dead["next_attempt_at"]) == ("dead", 4, None)
    assert dead == org.api.ok("GET", f"/webhooks/{hook['id']}/deliveries", org.tokens["admin"],
                              query_string={"status": "dead"})["items"][0]
    finals = [e["data"]["final"] for e in outbox_events(org.db, WEBHOOK_DELIVERIES, dead["id"])]
    assert finals == [False, False, False, True]
    [final] = [e for e in outbox_events(org.db, WEBHOOK_DELIVERIES, dead["id"]) if e["data"]["final"]]
    assert final["data"]["source_event"]["id"] == event.id and final["data"]["channel"] == "webhook"

    replayed = org.api.ok("POST", f"/webhooks/{hook['id']}/deliveries/{dead['id']}/replay", org.tokens["admin"], 202)
    assert (replayed["status"], replayed["replays"]) == ("pending", 1)
    again = org.api.call("POST", f"/webhooks/{hook['id']}/deliveries/{dead['id']}/replay", org.tokens["admin"])
    assert again.status_code == 409 and again.headers["Content-Type"].startswith(PROBLEM)
    deliver.drain()
    [done] = log_of(org, hook)
    assert (done["status"], done["attempts"]) == ("delivered", 5) and len(receiver.accepted) == 1
    assert [a["outcome"] for a in done["log"]] == ["failed"] * 4 + ["accepted"]


def test_only_subscribed_types_go_and_paused_or_deleted_subscriptions_get_nothing(org, hooks, receiver, dispatcher):
    submitted = hooks(receiver.url, event_types=["cocreate.idea.submitted.v1"])
    moved = hooks(receiver.url)
    idea = org.idea("p1")
    org.api.ok("PATCH", f"/webhooks/{moved['id']}", org.tokens["admin"], json={"active": False})
    org.move(idea, "under_review")
    org.api.ok("PATCH", f"/webhooks/{moved['id']}", org.tokens["admin"], json={"active": True})
    event = org.move(idea, "planned", previous="under_review")
    org.api.ok("DELETE", f"/webhooks/{moved['id']}", org.tokens["admin"], 204)
    dispatcher().drain()
    assert sorted(json.loads(r["body"])["type"] for r in receiver.accepted) == ["cocreate.idea.submitted.v1"]
    # queued while active, deleted before its turn: cancelled, not sent
    [cancelled] = org.db[WEBHOOK_DELIVERIES].find({"webhook": moved["id"]})
    assert cancelled["event"]["id"] == event.id and cancelled["status"] == CANCELLED
    assert log_of(org, submitted)[0]["status"] == DELIVERED


def test_calls_to_a_receiver_share_one_connection_and_a_long_answer_is_not_read(org, hooks, receiver, dispatcher):
    hook = hooks(receiver.url)
    idea = org.idea("p1")
    for previous, to in [("submitted", "under_review"), ("under_review", "planned"), ("planned", "in_progress")]:
        org.move(idea, to, previous=previous)
    dispatcher().drain()
    assert len(receiver.accepted) == 3 and len(receiver.connections) == 1
    # An answer of 2 MB is the receiver's business: the call counts by its status, the body is left unread and
    # its connection closed, and the next call opens a new one.
    receiver.answer = b"x" * 2_000_000
    org.move(idea, "implemented", previous="in_progress")
    receiver.answer = b""
    org.move(org.idea("p2", title="Longer opening hours"), "under_review")
    dispatcher().drain()
    assert len(receiver.accepted) == 5 and len(receiver.connections) == 2
    assert [d["status"] for d in org.db[WEBHOOK_DELIVERIES].find({"webhook": hook["id"]})] == [DELIVERED] * 5


def test_the_delivery_log_pages_newest_first(org, hooks, receiver, dispatcher):
    hook = hooks(receiver.url)
    idea = org.idea("p1")
    for days in (40, 3, 1):
        org.move(idea, "under_review", at=Clock().at - timedelta(days=days))
    dispatcher().drain()
    first = org.api.ok("GET", f"/webhooks/{hook['id']}/deliveries", org.tokens["admin"], query_string={"limit": 2})
    rest = org.api.ok("GET", f"/webhooks/{hook['id']}/deliveries", org.tokens["admin"],
                      query_string={"limit": 2, "after": first["next_cursor"]})
    created = [d["created_at"] for d in first["items"] + rest["items"]]
    assert len(created) == 3 and created == sorted(created, reverse=True) and rest["next_cursor"] is None
    assert {d["status"] for d in first["items"] + rest["items"]} == {DELIVERED}
    assert DEAD not in {d["status"] for d in first["items"]}


def test_erasure_stops_what_is_still_to_be_sent_about_the_person_and_the_erasure_itself_goes_out(
        org, hooks, receiver, dispatcher):
    hook = hooks(receiver.url, event_types=["cocreate.person.updated.v1", "cocreate.person.erased.v1"])
    sent = tell(org.db, "cocreate.person.updated.v1", org.ids["p1"], person_data(
        org.ids["p1"], home=org.a, email="new.address@example.org"))
    dispatcher().drain()
    waiting = tell(org.db, "cocreate.person.updated.v1", org.ids["p1"], person_data(
        org.ids["p1"], home=org.a, email="newer.address@example.org"))
    erased = tell(org.db, "cocreate.person.erased.v1", org.ids["p1"], {"person_id": org.ids["p1"]})
    dispatcher().drain()
    assert [r["headers"]["X-Cocreate-Event-Id"] for r in receiver.accepted] == [sent.id, erased.id]
    records = {d["event"]["id"]: d for d in org.db[WEBHOOK_DELIVERIES].find({"webhook": hook["id"]})}
    assert records[waiting.id]["status"] == CANCELLED and "body" not in records[waiting.id]
    assert "body" not in records[sent.id]
    replay = org.api.call("POST", f"/webhooks/{hook['id']}/deliveries/{records[sent.id]['_id']}/replay",
                          org.tokens["admin"])
    assert replay.status_code == 409


def test_webhooks_to_the_platforms_own_network_are_refused_unless_the_deployment_allows_them(
        org, hooks, receiver, dispatcher):
    from services.notifications import services
    from services.notifications.services import Notifications
    from shared.auth import Actor
    from shared.errors import DomainError

    admin = Actor(Principal(id=org.ids["admin"], roles=frozenset({"org_admin"})))
    for url in ("http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/hook",
                "http://169.254.169.254/latest/meta-data", "http://[::1]/hook", "http://[::ffff:192.168.0.1]/x"):
        with pytest.raises(DomainError, match="public address"):
            services.create_webhook(Notifications.of(org.db), admin, url=url, event_types=[STATUS_CHANGED])
    # allowed here (the tests' receiver is local); the delivery loop of a deployment that does not allow
    # them resolves the host before each call and makes none
    hook = hooks(receiver.url.replace("127.0.0.1", "localhost"))
    org.move(org.idea("p1"), "under_review")
    dispatcher(webhook_allow_private=False, delivery_max_attempts=1).drain()
    [dead] = log_of(org, hook)
    assert dead["status"] == "dead" and receiver.accepted == []
    assert dead["log"][0]["error"].startswith("refused: localhost is ") and "not a public address" in dead["log"][0]["error"]
