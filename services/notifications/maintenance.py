"""Maintenance: `python -m services.notifications.maintenance retain [months]`.

- `retain`: deletes what is older than the inbox's horizon (domain.INBOX_MONTHS, 24 months, unless given):
  inbox entries, e-mail records, webhook deliveries and delivery records. Nothing whose events are still waiting
  in its outbox, and no e-mail or webhook call still to be made, is deleted. The worker runs it once a day; each
  collection is read in one pass (a range on the time-ordered ids: the store scans, so once a day, not per
  request).
"""
from __future__ import annotations

import sys
import threading
from datetime import datetime, timedelta, timezone

from pymongo.database import Database

from services.notifications import SERVICE, domain
from services.notifications.repository import DELIVERIES, EMAILS, NOTIFICATIONS, WEBHOOK_DELIVERIES
from shared.config import Settings, load_settings
from shared.mongo import database_for
from shared.outbox import PENDING
from shared.worker import every

RETAIN_EVERY_SECONDS = 24 * 3600
# Still to be sent: kept whatever their age (an e-mail held for a digest, a webhook call waiting to retry).
OPEN_STATUSES = [domain.PENDING, domain.HELD, domain.FORMING]


def retain(db: Database, months: int = domain.INBOX_MONTHS, now: datetime | None = None) -> dict[str, int]:
    """Delete what is older than `months` months; returns how many documents of each collection went."""
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=round(months * 30.44))
    older = {"$lt": domain.stamp(cutoff)}  # ids start with the time of the event they tell of
    settled = {PENDING: {"$ne": True}}
    return {
        NOTIFICATIONS: db[NOTIFICATIONS].delete_many({"_id": older}).deleted_count,
        EMAILS: db[EMAILS].delete_many({"_id": older, "status": {"$nin": OPEN_STATUSES}, **settled}).deleted_count,
        WEBHOOK_DELIVERIES: db[WEBHOOK_DELIVERIES].delete_many(
            {"_id": older, "status": {"$nin": OPEN_STATUSES}, **settled}).deleted_count,
        DELIVERIES: db[DELIVERIES].delete_many({"at": {"$lt": cutoff}, **settled}).deleted_count,
    }


def keep_retaining(settings: Settings, stop: threading.Event, seconds: float = RETAIN_EVERY_SECONDS) -> None:
    """The worker's daily round of `retain` (the first a minute after it starts)."""
    db = database_for(settings)
    every(seconds, lambda: retain(db), stop, what="retention", first=min(60.0, seconds))


def main(argv: list[str]) -> None:
    if argv[:1] != ["retain"] or len(argv) > 2:
        sys.exit(__doc__)
    months = int(argv[1]) if len(argv) == 2 else domain.INBOX_MONTHS
    print(retain(database_for(load_settings(SERVICE)), months))


if __name__ == "__main__":
    main(sys.argv[1:])
