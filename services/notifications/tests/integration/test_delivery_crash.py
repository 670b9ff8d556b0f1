"""The delivery loop killed mid-batch (kill -9, in a subprocess) and restarted loses and duplicates nothing: each
e-mail reaches the SMTP server once and each webhook call is accepted once, the interrupted attempts are logged
as such, and each delivery record carries exactly one delivered event. The kills land while an SMTP server and a
receiver hold a message they have not taken yet, so the outcome does not depend on timing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import wait_for
from services.notifications.domain import DELIVERED
from services.notifications.repository import EMAILS, WEBHOOK_DELIVERIES
from services.notifications.tests.conftest import SMTP_PASSWORD, SMTP_USER, outbox_events

ROOT = Path(__file__).resolve().parents[4]
EVENTS = 6
LEASE_SECONDS = 1.0


def start_delivery(settings, smtp_port: int, log: Path) -> subprocess.Popen:
    """`python -m services.notifications.delivery` on the test's database, with a short lease."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), MONGO_URL=settings.mongo_url, MONGO_DB=settings.mongo_db,
               SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_port), SMTP_USER=SMTP_USER, SMTP_PASSWORD=SMTP_PASSWORD,
               DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS), DELIVERY_POLL_SECONDS="0.05",
               DELIVERY_BACKOFF_SECONDS="0.05", WEBHOOK_TIMEOUT_SECONDS="5", LOG_LEVEL="WARNING",
               WEBHOOK_ALLOW_PRIVATE="true")  # the test's receiver is on this machine
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "services.notifications.delivery"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def kill_when(held, process: subprocess.Popen, release, log: Path) -> None:
    assert held.wait(60), f"the delivery loop never got there; its log:\n{log.read_text()}"
    process.kill()  # SIGKILL: no chance to finish anything
    process.wait(10)
    release.set()


def test_a_worker_killed_mid_batch_and_restarted_loses_and_duplicates_nothing(
        org, notifications_app, smtp_server, mailbox, receiver, tmp_path):
    app, db = notifications_app
    settings = app.extensions["cocreate"].settings
    hook = org.api.ok("POST", "/webhooks", org.tokens["admin"], 201, json={
        "url": receiver.url, "event_types": ["cocreate.idea.status_changed.v1"]})
    idea = org.idea("p1")
    events = [org.move(idea, "under_review") for _ in range(EVENTS)]
    emails = [d["_id"] for d in db[EMAILS].find({"recipient": org.ids["p1"]})]
    calls = [d["_id"] for d in db[WEBHOOK_DELIVERIES].find({"webhook": hook["id"]})]
    assert len(emails) == len(calls) == EVENTS
    mailbox.hold_at = receiver.hold_at = 3
    log = tmp_path / "delivery.log"

    # 1: killed while the SMTP server holds the third e-mail (two sent, one claimed, three waiting; no webhook yet)
    first = start_delivery(settings, smtp_server[0].port, log)
    kill_when(mailbox.held, first, mailbox.release, log)
    assert len(mailbox.messages) == 2 and receiver.requests == []
    # 2: restarted; killed while the receiver holds the third webhook call
    second = start_delivery(settings, smtp_server[0].port, log)
    kill_when(receiver.held, second, receiver.release, log)
    # 3: restarted; the claims of the killed ones run out and everything is delivered
    third = start_delivery(settings, smtp_server[0].port, log)
    try:
        wait_for(lambda: db[EMAILS].count_documents({"_id": {"$in": emails}, "status": DELIVERED}) == EVENTS
                 and db[WEBHOOK_DELIVERIES].count_documents({"webhook": hook["id"], "status": DELIVERED}) == EVENTS,
                 timeout=60)
    finally:
        third.terminate()
        assert third.wait(20) == 0, log.read_text()

    # every e-mail reached the server once, every webhook call was accepted once
    assert sorted(m["Message-ID"] for m in mailbox.messages) == sorted(f"<{i}@cocreate.local>" for i in emails)
    accepted = [r["headers"]["X-Cocreate-Event-Id"] for r in receiver.accepted]
    assert sorted(accepted) == sorted(e.id for e in events)
    # the records say the same: one accepted attempt each, the killed ones logged as interrupted, one delivered
    # event each
    for collection, ids in ((EMAILS, emails), (WEBHOOK_DELIVERIES, calls)):
        outcomes = {d["_id"]: [a["outcome"] for a in d["log"]] for d in db[collection].find({"_id": {"$in": ids}})}
        assert all(o.count("accepted") == 1 and o[-1] == "accepted" for o in outcomes.values()), outcomes
        assert sorted(o for o in outcomes.values() if len(o) > 1) == [["interrupted", "accepted"]], outcomes
        for doc_id in ids:
            kinds = [e["type"] for e in outbox_events(db, collection, doc_id)]
            assert kinds == ["cocreate.notification.delivered.v1"], (doc_id, kinds)
