"""The daily digest, against the real store and a real SMTP server, with a clock the test moves: a person who
chose the digest gets nothing at once, then one e-mail at the configured local hour with what reached them
since the previous digest; one per person and day, whatever restarts; critical messages still go at once."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services.notifications.domain import DELIVERED, DIGESTED
from services.notifications.repository import DIGEST_RUNS, EMAILS
from services.notifications.tests.conftest import Clock, outbox_events, person_data, tell

JERUSALEM = ZoneInfo("Asia/Jerusalem")


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=JERUSALEM)


def address(org, who: str) -> str:
    return f"{who}.{org.run}@example.org"


def comment(org, idea: str, who: str, at: datetime) -> None:
    tell(org.db, "cocreate.comment.posted.v1", idea, {
        "idea_id": idea, "branch_id": org.a, "comment_id": f"cm_{at:%H%M}", "parent_id": None,
        "author_id": org.ids[who], "official": False, "mentions": [], "text": "…"}, actor=org.ids[who], at=at)


def test_a_digest_reader_gets_one_email_at_the_configured_hour_with_the_days_notifications(org, mailbox, dispatcher):
    org.api.ok("PUT", "/preferences", org.tokens["p2"], json={"categories": {
        "my_ideas": {"email": True, "email_frequency": "daily"}}})
    org.api.ok("PUT", "/preferences", org.tokens["p3"], json={"categories": {
        "followed_ideas": {"email": True, "email_frequency": "daily"}}})
    idea = org.idea("p2", title="Shade in the yard", followers=("p3",))
    org.move(idea, "under_review", author="p2", at=local(10, 9))
    comment(org, idea, "p1", local(10, 14))
    # account messages are critical: at once, digest or not
    tell(org.db, "cocreate.person.roles_changed.v1", org.ids["p2"], person_data(
        org.ids["p2"], lang="en", kind="staff", branch_roles={org.a: ["branch_staff"]}, email=address(org, "p2")),
        actor=org.ids["admin"], at=local(10, 10))
    org.move(idea, "planned", previous="under_review", author="p2", at=local(10, 18, 30))  # after the hour: tomorrow

    clock = Clock(local(10, 17, 59))
    dispatcher(clock).drain()
    assert [m["Subject"] for m in mailbox.messages] == ["Your roles changed"]

    clock.at = local(10, 18)
    dispatcher(clock, digest_hour=18, digest_timezone="Asia/Jerusalem").drain()
    [digest] = mailbox.to(address(org, "p2"))[1:]
    assert digest["Subject"] == "Your daily Cocreate summary: 2 updates"
    text = digest.get_body(("plain",)).get_content()
    assert "Your summary for November 10, 2026" in text
    assert text.index("News about your idea") < text.index("A new comment on your idea")  # oldest first
    assert "“Shade in the yard” is now under review." in text and "is now planned" not in text
    [hebrew] = mailbox.to(address(org, "p3"))
    assert hebrew["Subject"] == "הסיכום היומי שלכם ב-Cocreate: עדכון אחד"
    html = hebrew.get_body(("html",)).get_content()
    assert '<html lang="he" dir="rtl">' in html and "עדכון ברעיון שאתם עוקבים אחריו" in html

    # a restarted worker, or one whose run was cut short before it marked the day done, sends no second digest
    org.db[DIGEST_RUNS].update_one({"_id": "20261110"}, {"$set": {"done": False, "until": local(1, 0)}})
    clock.at = local(10, 18, 5)
    assert dispatcher(clock).drain() == 0
    assert len(mailbox.to(address(org, "p2"))) == 2 and len(mailbox.to(address(org, "p3"))) == 1

    # the digest's delivery record lists each notification it told of, for the contract
    record = org.db[EMAILS].find_one({"kind": "digest", "recipient": org.ids["p2"], "day": "20261110"})
    assert record["status"] == DELIVERED and [a["outcome"] for a in record["log"]] == ["accepted"]
    items = list(org.db[EMAILS].find({"digest": record["_id"]}))
    assert len(items) == 2 and {i["status"] for i in items} == {DIGESTED}
    [delivered] = outbox_events(org.db, EMAILS, record["_id"])
    assert sorted(d["notification_id"] for d in delivered["data"]["deliveries"]) == sorted(i["_id"] for i in items)

    # the next day at the hour: what came after yesterday's digest
    clock.at = local(11, 18)
    dispatcher(clock).drain()
    latest = mailbox.to(address(org, "p2"))[-1]
    assert latest["Subject"] == "Your daily Cocreate summary: 1 update"
    assert "is now planned" in latest.get_body(("plain",)).get_content()
    assert len(mailbox.to(address(org, "p3"))) == 2  # p3 follows: the move to planned is in theirs too


def test_a_notification_that_arrives_after_its_days_digest_went_out_waits_for_the_next(org, mailbox, dispatcher):
    org.api.ok("PUT", "/preferences", org.tokens["p2"], json={"categories": {
        "my_ideas": {"email": True, "email_frequency": "daily"}}})
    idea = org.idea("p2", title="Longer hours")
    org.move(idea, "under_review", author="p2", at=local(20, 12))
    clock = Clock(local(20, 18, 1))
    dispatcher(clock).drain()
    [first] = mailbox.to(address(org, "p2"))
    # an event of 17:30 handled only now (the consumer was behind): not lost, in tomorrow's digest
    org.move(idea, "planned", previous="under_review", author="p2", at=local(20, 17, 30))
    dispatcher(clock).drain()
    assert len(mailbox.to(address(org, "p2"))) == 1
    clock.at = local(21, 18)
    dispatcher(clock).drain()
    second = mailbox.to(address(org, "p2"))[1]
    assert "is now planned" in second.get_body(("plain",)).get_content()
    assert "under review" in first.get_body(("plain",)).get_content()
