"""E-mail at once, against the real store and a real SMTP server (aiosmtpd, with login): the right people get
the right e-mail in their language (Hebrew right to left), as text and HTML; preferences are honoured; each
attempt is logged on the e-mail's delivery record with its delivered / failed event in the record's outbox;
refusals are retried with backoff, then dead; nobody unreachable is written to; two workers never send the same
e-mail."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

import pytest

from services.notifications import services
from services.notifications.domain import ACCOUNT, DEAD, DELIVERED, PENDING, SKIPPED, CANCELLED
from services.notifications.repository import EMAILS
from services.notifications.tests.conftest import (Clock, Mailbox, apply, free_port, outbox_events,
                                                   person_data, status_data, tell)


def address(org, who: str) -> str:
    return f"{who}.{org.run}@example.org"


def to_ms(at):
    """As the store keeps times: to the millisecond."""
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def parts(message) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def test_a_status_change_mails_the_author_in_hebrew_and_a_follower_who_asked_in_english(org, mailbox, dispatcher):
    # p2 (English) asked for e-mail about ideas they follow; p3 follows with the defaults (no e-mail for that)
    org.api.ok("PUT", "/preferences", org.tokens["p2"], json={"categories": {"followed_ideas": {"email": True}}})
    idea = org.idea("p1", title="A <quiet> room", followers=("p2", "p3"))
    event = tell(org.db, "cocreate.idea.status_changed.v1", idea, status_data(
        idea, org.a, "planned", org.ids["staff_a"], org.ids["p1"], note="Next month, in room 4."),
        actor=org.ids["staff_a"])
    assert dispatcher().drain() >= 2

    [hebrew] = mailbox.to(address(org, "p1"))
    assert hebrew["Subject"] == "עדכון ברעיון שלכם"
    assert hebrew.get_content_type() == "multipart/alternative" and hebrew["Content-Language"] == "he"
    assert hebrew["X-Test-Logged-In"] == "True"  # with the configured user and password
    text, html = parts(hebrew)
    assert 'הרעיון "A <quiet> room" עבר לסטטוס: מתוכנן.' in text and "Next month, in room 4." in text
    assert f"https://cocreate.example/ideas/{idea}" in text
    assert '<html lang="he" dir="rtl">' in html and "A &lt;quiet&gt; room" in html  # titles are escaped
    assert f'href="https://cocreate.example/ideas/{idea}"' in html

    [english] = mailbox.to(address(org, "p2"))
    assert english["Subject"] == "News about an idea you follow"
    text, html = parts(english)
    assert text.startswith(f"Hello {org.ids['p2']},") and "“A <quiet> room” is now planned." in text
    assert '<html lang="en" dir="ltr">' in html
    assert mailbox.to(address(org, "p3")) == []  # the default for followed ideas is no e-mail
    assert mailbox.to(address(org, "staff_a")) == []  # who moved it is not told

    # each e-mail is its own delivery record: one accepted attempt, and its delivered event for the contract
    [record] = org.db[EMAILS].find({"recipient": org.ids["p1"], "event.id": event.id})
    assert record["status"] == DELIVERED and [a["outcome"] for a in record["log"]] == ["accepted"]
    assert hebrew["Message-ID"] == f"<{record['_id']}@cocreate.local>"
    [delivered] = outbox_events(org.db, EMAILS, record["_id"])
    assert delivered["type"] == "cocreate.notification.delivered.v1" and delivered["subject"] == record["_id"]
    assert delivered["data"]["channel"] == "email" and delivered["data"]["source_event"]["id"] == event.id
    assert delivered["data"]["deliveries"] == [{"notification_id": record["_id"], "recipient_id": org.ids["p1"],
                                                "category": "my_ideas", "message": "idea.status_changed.author"}]
    # sent once: another pass and the same event applied again send nothing more
    apply(org.db, event)
    assert dispatcher().drain() == 0 and len(mailbox.to(address(org, "p1"))) == 1


def test_email_off_means_no_mail_and_account_messages_always_come(org, mailbox, dispatcher):
    org.api.ok("PUT", "/preferences", org.tokens["p1"], json={"categories": {"my_ideas": {"email": False}}})
    idea = org.idea("p1")
    org.move(idea, "under_review")
    tell(org.db, "cocreate.person.roles_changed.v1", org.ids["p1"], person_data(
        org.ids["p1"], kind="staff", branch_roles={org.a: ["branch_staff"]}, email=address(org, "p1")),
        actor=org.ids["admin"])
    dispatcher().drain()
    [told] = mailbox.to(address(org, "p1"))
    assert told["Subject"] == "התפקידים שלכם עודכנו"
    assert org.db[EMAILS].find_one({"recipient": org.ids["p1"]})["category"] == ACCOUNT


def test_a_refused_message_is_retried_with_backoff_then_taken_and_every_attempt_is_logged(org, mailbox, dispatcher):
    idea = org.idea("p2")
    mailbox.refuse = ["451 4.3.0 try again later", "421 4.7.0 too busy"]
    org.move(idea, "under_review", author="p2")
    clock = Clock()
    deliver = dispatcher(clock)
    [record] = org.db[EMAILS].find({"recipient": org.ids["p2"]})
    assert deliver.drain() == 1
    after_first = org.db[EMAILS].find_one({"_id": record["_id"]})
    assert after_first["status"] == "pending" and after_first["due"] == to_ms(clock.at + timedelta(seconds=1))
    assert deliver.drain() == 0  # not before its backoff (1 s, then 2 s)
    clock.advance(1)
    assert deliver.drain() == 1
    clock.advance(1)
    assert deliver.drain() == 0
    clock.advance(1)
    assert deliver.drain() == 1
    [mail] = mailbox.to(address(org, "p2"))
    assert mail["Subject"] == "News about your idea"
    done = org.db[EMAILS].find_one({"_id": record["_id"]})
    assert done["status"] == DELIVERED and done["attempts"] == 3
    assert [(a["attempt"], a["outcome"]) for a in done["log"]] == [(1, "failed"), (2, "failed"), (3, "accepted")]
    assert done["log"][0]["error"] == "SMTP 451 4.3.0 try again later"
    events = outbox_events(org.db, EMAILS, record["_id"])
    assert [(e["type"].split(".")[2], e["data"].get("attempt"), e["data"].get("final")) for e in events] == [
        ("failed", 1, False), ("failed", 2, False), ("delivered", None, None)]


def test_after_the_last_attempt_an_email_is_dead_and_a_refused_recipient_at_once(org, mailbox, dispatcher):
    deliver = dispatcher(delivery_max_attempts=2, delivery_backoff_seconds=0)
    idea = org.idea("p2")
    mailbox.refuse = ["451 4.3.0 try again later"] * 2
    org.move(idea, "under_review", author="p2")
    deliver.drain()
    [record] = org.db[EMAILS].find({"recipient": org.ids["p2"]})
    assert record["status"] == DEAD and record["attempts"] == 2 and mailbox.to(address(org, "p2")) == []
    assert [e["data"]["final"] for e in outbox_events(org.db, EMAILS, record["_id"])] == [False, True]

    idea = org.idea("p1")
    mailbox.refuse = ["554 5.6.0 message refused"]
    org.move(idea, "under_review")
    deliver.drain()
    [record] = org.db[EMAILS].find({"recipient": org.ids["p1"]})
    assert record["status"] == DEAD and record["attempts"] == 1  # refused for good: no retry
    [failed] = outbox_events(org.db, EMAILS, record["_id"])
    assert failed["data"]["final"] is True and failed["data"]["reason"].startswith("SMTP 554")


def test_nobody_without_an_address_or_erased_is_written_to(org, mailbox, dispatcher):
    tell(org.db, "cocreate.person.updated.v1", org.ids["p1"], person_data(org.ids["p1"], home=org.a, email=None))
    idea = org.idea("p1")
    org.move(idea, "under_review")
    other = org.idea("p2")
    org.move(other, "under_review", author="p2")
    tell(org.db, "cocreate.person.erased.v1", org.ids["p2"], {"person_id": org.ids["p2"]})
    dispatcher().drain()
    assert mailbox.messages == []
    assert org.db[EMAILS].find_one({"recipient": org.ids["p1"]})["status"] == SKIPPED
    erased = org.db[EMAILS].find_one({"recipient": org.ids["p2"]})
    assert erased["status"] == CANCELLED and "params" not in erased


def test_two_workers_sending_at_once_send_each_email_once(org, mailbox, dispatcher):
    idea = org.idea("p1")
    events = [org.move(idea, "under_review") for _ in range(12)]
    workers = [dispatcher(delivery_batch=5), dispatcher(delivery_batch=5)]
    start = threading.Barrier(2)

    def work(worker) -> int:
        start.wait()
        settled = 0
        while org.db[EMAILS].count_documents({"recipient": org.ids["p1"], "status": "pending"}):
            settled += worker.dispatch_once()
        return settled

    with ThreadPoolExecutor(2) as pool:
        settled = list(pool.map(work, workers))
    for worker in workers:
        worker.mailer.close()
    assert sum(settled) == 12  # both read the same due e-mails; each was claimed and settled by one
    received = mailbox.to(address(org, "p1"))
    assert len(received) == 12 and len({m["Message-ID"] for m in received}) == 12
    records = list(org.db[EMAILS].find({"recipient": org.ids["p1"]}))
    assert sorted(r["event"]["id"] for r in records) == sorted(e.id for e in events)
    assert all([a["outcome"] for a in r["log"]] == ["accepted"] for r in records)


@pytest.fixture
def handed_to(dispatcher):
    """handed_to(clock=None) -> a delivery loop that takes the e-mails the fan-outs make, as the worker's does."""

    def make(clock=None):
        loop = dispatcher(clock=clock)
        services.send_at_once_by(loop)
        return loop

    yield make
    services.send_at_once_by(None)


def test_an_email_made_beside_a_delivery_loop_is_stored_claimed_by_it_and_sent_without_a_search(
        org, mailbox, dispatcher, handed_to):
    clock = Clock()
    loop = handed_to(clock)
    idea = org.idea("p1")
    event = org.move(idea, "under_review")
    [doc] = org.db[EMAILS].find({"recipient": org.ids["p1"], "event.id": event.id})
    assert doc["status"] == PENDING and doc["owner"] == loop.owner and doc["attempts"] == 1
    assert doc["due"] == to_ms(clock() + loop.lease)  # nobody else's until the claim runs out
    assert dispatcher(clock=clock).search_once() == 0 and mailbox.messages == []  # a search does not find it

    # the author's address came with their profile, read by the fan-out: sending looks nothing up
    loop.people.contact = lambda person_id: pytest.fail(f"looked up the contact of {person_id}")
    assert loop.dispatch_once() == 1
    [message] = mailbox.to(address(org, "p1"))
    [record] = org.db[EMAILS].find({"_id": doc["_id"]})
    assert record["status"] == DELIVERED and "owner" not in record
    assert [(a["attempt"], a["outcome"]) for a in record["log"]] == [(1, "accepted")]
    [delivered] = outbox_events(org.db, EMAILS, record["_id"])
    assert delivered["data"]["channel"] == "email" and delivered["data"]["source_event"]["id"] == event.id
    # the same event again: its e-mail is a duplicate, refused, and nothing is handed over twice
    apply(org.db, event)
    assert loop.dispatch_once() == 0 and len(mailbox.to(address(org, "p1"))) == 1


def test_a_handed_email_goes_to_the_address_the_directory_told_last(org, mailbox, handed_to):
    loop = handed_to()
    idea = org.idea("p1")
    p1 = org.ids["p1"]
    tell(org.db, "cocreate.person.updated.v1", p1, person_data(p1, lang="en", email=f"new.{p1}@example.org"))
    org.move(idea, "under_review")
    assert loop.dispatch_once() == 1
    [message] = mailbox.to(f"new.{p1}@example.org")
    assert message["Subject"] == "News about your idea" and mailbox.to(address(org, "p1")) == []


def test_a_loop_that_stops_gives_back_what_it_was_handed_and_another_sends_it_as_a_first_attempt(
        org, mailbox, dispatcher, handed_to):
    loop = handed_to()
    idea = org.idea("p1")
    org.move(idea, "under_review")
    stop = threading.Event()
    stop.set()
    loop.run(stop)  # stopped before it sent anything
    [doc] = org.db[EMAILS].find({"recipient": org.ids["p1"]})
    assert doc["status"] == PENDING and doc["attempts"] == 0 and "owner" not in doc and mailbox.messages == []
    services.send_at_once_by(None)

    assert dispatcher().drain() == 1
    [record] = org.db[EMAILS].find({"_id": doc["_id"]})
    assert [(a["attempt"], a["outcome"]) for a in record["log"]] == [(1, "accepted")]
    assert len(mailbox.to(address(org, "p1"))) == 1


def test_what_a_dead_loop_was_handed_is_sent_by_another_once_the_claim_runs_out(org, mailbox, dispatcher, handed_to):
    clock = Clock()
    handed_to(clock)  # this loop dies before it sends anything: what it was handed is only in the store
    idea = org.idea("p1")
    org.move(idea, "under_review")
    services.send_at_once_by(None)
    other = dispatcher(clock=clock)
    assert other.drain() == 0 and mailbox.messages == []  # claimed by the dead loop
    clock.advance(31)  # past the 30 s claim
    assert other.drain() == 1
    [record] = org.db[EMAILS].find({"recipient": org.ids["p1"]})
    assert record["status"] == DELIVERED
    assert [(a["attempt"], a["outcome"]) for a in record["log"]] == [(1, "interrupted"), (2, "accepted")]
    assert len(mailbox.to(address(org, "p1"))) == 1


def test_a_handed_email_kept_waiting_for_half_its_claim_is_given_back_to_the_search(
        org, mailbox, dispatcher, handed_to):
    clock = Clock()
    loop = handed_to(clock)
    idea = org.idea("p1")
    org.move(idea, "under_review")
    clock.advance(16)  # half the 30 s claim: another loop's search may take it soon, so it is not sent now
    assert loop._send_handed(None) == 0 and mailbox.messages == []
    [doc] = org.db[EMAILS].find({"recipient": org.ids["p1"]})
    assert doc["attempts"] == 0 and "owner" not in doc
    assert loop.dispatch_once() == 1 and len(mailbox.to(address(org, "p1"))) == 1


def test_one_smtp_connection_serves_pass_after_pass_until_it_has_been_idle(org, mailbox, dispatcher):
    idea, worker = org.idea("p1"), dispatcher()
    clock = Clock()  # the mailer's idle time, moved by hand
    worker.mailer.clock = lambda: clock().timestamp()
    for _ in range(3):  # passes apart, as e-mails come in one by one
        org.move(idea, "under_review")
        assert worker.dispatch_once() == 1
        worker.mailer.close_idle()
        clock.advance(29)
    assert len(mailbox.to(address(org, "p1"))) == 3 and len(mailbox.connections) == 1
    clock.advance(1)  # 30 s since the last e-mail: closed
    worker.mailer.close_idle()
    org.move(idea, "planned", previous="under_review")
    assert worker.dispatch_once() == 1
    worker.mailer.close()
    assert len(mailbox.to(address(org, "p1"))) == 4 and len(mailbox.connections) == 2


class Strict(Controller):
    """An SMTP server that closes a connection idle for half a second, with a 421 reply first."""

    class Server(SMTP):
        def _timeout_cb(self):
            self.transport.write(b"421 4.4.2 Idle too long, closing\r\n")
            super()._timeout_cb()

    def factory(self):
        return self.Server(self.handler, timeout=0.5)


def test_a_kept_connection_the_server_closed_meanwhile_is_opened_again_without_a_failed_attempt(org, dispatcher):
    """A server closes a connection idle past its timeout, first answering 421 as Postfix does: a NOOP finds that
    out, so the message goes over a new connection instead of being refused (an attempt spent)."""
    mailbox = Mailbox()
    server = Strict(mailbox, hostname="127.0.0.1", port=free_port())
    server.start()
    try:
        idea, worker = org.idea("p1"), dispatcher(smtp_port=server.port, smtp_user=None, smtp_password=None)
        org.move(idea, "under_review")
        assert worker.dispatch_once() == 1
        time.sleep(1.5)  # past the server's timeout, and past CHECK_SECONDS
        event = org.move(idea, "planned", previous="under_review")
        assert worker.dispatch_once() == 1
        worker.mailer.close()
    finally:
        server.stop()
    assert len(mailbox.to(address(org, "p1"))) == 2 and len(mailbox.connections) == 2
    [record] = org.db[EMAILS].find({"event.id": event.id})
    assert [a["outcome"] for a in record["log"]] == ["accepted"]
