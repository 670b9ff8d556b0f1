"""The worker's housekeeping against the real store: surveys past their closing date close (once, with their
event), in rounds that repeat until the worker stops."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

from services.feedback import services
from services.feedback.repository import SURVEYS
from services.feedback.worker import housekeep, tidy


def test_surveys_past_their_closing_date_are_closed_once_with_their_event(org, feedback_app):
    app, db = feedback_app
    due, later = org.survey(), org.survey()
    org.answer("p1", due["id"], {"q1": 4, "q2": 9})
    db[SURVEYS].update_one({"_id": due["id"]}, {"$set": {"closes_at": datetime.now(timezone.utc) - timedelta(minutes=1)}})
    s = services.Feedback.of(db)
    at = datetime.now(timezone.utc)
    assert tidy(s, at)["surveys_closed"] >= 1
    assert org.api.ok("GET", f"/surveys/{due['id']}", org.tokens["staff_a"])["status"] == "closed"
    assert org.api.ok("GET", f"/surveys/{later['id']}", org.tokens["staff_a"])["status"] == "open"
    [closed] = [e for e in org.outbox(SURVEYS, due["id"]) if e["type"] == "cocreate.survey.closed.v1"]
    assert closed["data"]["responses"] == 1 and closed["data"]["by"] is None
    # nothing left to do; the comparison packs the current month each round, the closed months only once (the
    # month just ended once more in the new month's first two hours: test_the_month_just_ended_is_packed_again)
    mid_month = at.replace(day=15, hour=12)
    assert tidy(s, mid_month) == {"surveys_closed": 0, "responses_counted": 0, "months_packed": 1}


def test_the_month_just_ended_is_packed_again_in_the_first_two_hours_of_the_next(org, feedback_app):
    """Responses counted in a month's last minutes reach its pack: the first rounds of a month pack the month just
    ended as well as the new one; later rounds only the current month."""
    app, db = feedback_app
    s = services.Feedback.of(db)
    first = datetime.now(timezone.utc).replace(day=1, hour=0, minute=30)
    tidy(s, first)  # every month of the last 36 never packed is packed once
    assert tidy(s, first)["months_packed"] == 2
    assert tidy(s, first.replace(hour=1, minute=59))["months_packed"] == 2
    assert tidy(s, first.replace(hour=2))["months_packed"] == 1
    assert tidy(s, first.replace(day=2))["months_packed"] == 1


def test_housekeeping_repeats_until_the_worker_stops(org, feedback_app):
    app, db = feedback_app
    survey = org.survey()
    settings = app.extensions["cocreate"].settings
    stop = threading.Event()
    thread = threading.Thread(target=housekeep, args=(settings, stop, 0.05), daemon=True)
    thread.start()
    try:
        db[SURVEYS].update_one({"_id": survey["id"]},
                               {"$set": {"closes_at": datetime.now(timezone.utc) - timedelta(seconds=1)}})
        deadline = time.time() + 20
        while time.time() < deadline and db[SURVEYS].find_one({"_id": survey["id"]})["status"] != "closed":
            time.sleep(0.05)
        assert db[SURVEYS].find_one({"_id": survey["id"]})["status"] == "closed"
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
