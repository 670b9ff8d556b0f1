"""Retention against the real store: what is older than the inbox's horizon goes (inbox entries, e-mail records,
webhook deliveries, delivery records); what is newer stays, and so does whatever is still to be sent or still
waits in its outbox."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from services.notifications import domain
from services.notifications.maintenance import retain
from services.notifications.repository import DELIVERIES, EMAILS, NOTIFICATIONS, WEBHOOK_DELIVERIES

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)


def entry_id(at: datetime, n: int) -> str:
    return domain.notification_id(f"ev-{at.isoformat()}-{n}", at, f"pe_ret{n}", "inapp")


def test_what_is_older_than_the_horizon_goes_and_what_is_open_or_newer_stays(notifications_app):
    app, db = notifications_app
    old, recent = NOW - timedelta(days=800), NOW - timedelta(days=30)
    tag = {"retention_test": True}
    db[NOTIFICATIONS].insert_many([{"_id": entry_id(old, 1), **tag}, {"_id": entry_id(recent, 2), **tag}])
    db[EMAILS].insert_many([
        {"_id": entry_id(old, 3), "status": "delivered", **tag},
        {"_id": entry_id(old, 4), "status": "held", **tag},  # still waits for its digest
        {"_id": entry_id(old, 5), "status": "dead", "_outbox": [{"id": "x"}], "_outbox_pending": True, **tag},
        {"_id": entry_id(recent, 6), "status": "delivered", **tag}])
    db[WEBHOOK_DELIVERIES].insert_many([
        {"_id": entry_id(old, 7), "status": "delivered", **tag},
        {"_id": entry_id(old, 8), "status": "pending", **tag}])
    db[DELIVERIES].insert_many([{"_id": "dl_ret_old", "at": old, **tag}, {"_id": "dl_ret_new", "at": recent, **tag}])

    gone = retain(db, now=NOW)

    assert gone[NOTIFICATIONS] >= 1 and gone[EMAILS] >= 1 and gone[WEBHOOK_DELIVERIES] >= 1 and gone[DELIVERIES] >= 1
    left = {name: sorted(d["_id"] for d in db[name].find(tag, {"_id": 1}))
            for name in (NOTIFICATIONS, EMAILS, WEBHOOK_DELIVERIES, DELIVERIES)}
    assert left[NOTIFICATIONS] == [entry_id(recent, 2)]
    assert left[EMAILS] == sorted([entry_id(old, 4), entry_id(old, 5), entry_id(recent, 6)])
    assert left[WEBHOOK_DELIVERIES] == [entry_id(old, 8)]
    assert left[DELIVERIES] == ["dl_ret_new"]
    assert retain(db, now=NOW) == {NOTIFICATIONS: 0, EMAILS: 0, WEBHOOK_DELIVERIES: 0, DELIVERIES: 0}
