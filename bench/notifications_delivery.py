"""The notifications service's delivery loop, in one process, against the store.

(a) E-mail: EMAILS_SENT people (500; NOTIFY_BENCH_EMAILS sets another), in Hebrew and English, each with an
    address, each submit an idea, and a staff member moves every idea to review; the service's own handler,
    applied to each event as its consumer would, queues one e-mail at once to each author (their default for
    their own ideas), and nothing else. The pending e-mails are then sent by the service's Dispatcher (`drain`,
    the passes the worker's loop makes) to a real SMTP server on 127.0.0.1 (aiosmtpd, in a thread of this
    process), which counts what it takes (asserted: EMAILS_SENT, one to each person). Per e-mail: the SMTP send
    time the service logs on each attempt, and the gaps between arrivals at the server (one e-mail's whole
    turn: claim, contact, rendering, send and settling).
(b) Webhooks: an org admin subscribes a receiver (http.server in a thread of this process, answering 204) to
    idea submissions, through the service's own use case; then WEBHOOK_CALLS ideas (500; NOTIFY_BENCH_WEBHOOKS
    sets another) are submitted at a branch without staff, so each event queues one delivery and no
    notification. The same Dispatcher calls the receiver, which counts the calls and checks that each is
    signed (asserted: WEBHOOK_CALLS calls, all signed).

Setting up (people, ideas, events) is not timed; only the draining is. The delivery batch per pass
(settings.delivery_batch) and the SMTP connection kept for a pass are the service's own."""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

from aiosmtpd.controller import Controller

from bench.common import bench_db, bench_settings, cores_busy, cpu_by_group, own_namespace, percentile, write
from services.notifications import services, signing
from services.notifications.delivery import Dispatcher
from services.notifications.domain import DELIVERED
from services.notifications.handlers import handlers
from services.notifications.repository import EMAILS, INDEXES, OUTBOX_COLLECTIONS, WEBHOOK_DELIVERIES
from services.notifications.tests.conftest import (branch_data, event_of, free_port, person_data, status_data,
                                                   submitted_data)
from shared.auth import ORG_ADMIN, Actor, Principal
from shared.mongo import apply_indexes, database_for
from shared.outbox import outbox_indexes

own_namespace()  # the tests' helpers imported above set the suite's namespace
EMAILS_SENT = int(os.environ.get("NOTIFY_BENCH_EMAILS", 500))
WEBHOOK_CALLS = int(os.environ.get("NOTIFY_BENCH_WEBHOOKS", 500))
SETUP_THREADS = 8  # events applied a few at a time while setting up, as a consumer's partitions would
SUBMITTED = "cocreate.idea.submitted.v1"
STAFF = "pe_nd_staff"


class Mailbox:
    """An SMTP server's handler that takes every message and notes when, and on which connection."""

    def __init__(self):
        self.arrivals: list[float] = []
        self.recipients: set[str] = set()
        self.connections: set[tuple] = set()

    async def handle_DATA(self, server, session, envelope):
        self.arrivals.append(time.perf_counter())  # one event loop: no lock needed
        self.recipients.update(envelope.rcpt_tos)
        self.connections.add(tuple(session.peer))
        return "250 OK: queued"


class Calls:
    """What the webhook receiver was called with: when, how many calls were not signed, and over how many
    connections."""

    def __init__(self):
        self.arrivals: list[float] = []
        self.unsigned = 0
        self.connections: set[tuple] = set()
        self.lock = threading.Lock()


@contextmanager
def receiving(calls: Calls) -> Iterator[str]:
    """A webhook receiver (http.server in a thread) answering 204 to every POST, noting it in `calls`; yields
    its URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # the connection is the caller's to close

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with calls.lock:
                calls.arrivals.append(time.perf_counter())
                calls.unsigned += not self.headers.get(signing.HEADER)
                calls.connections.add(self.client_address)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/cocreate"
    finally:
        server.shutdown()
        server.server_close()


def apply_all(db, events) -> None:
    with ThreadPoolExecutor(SETUP_THREADS) as pool:
        list(pool.map(lambda event: handlers.by_type[event.type](db, event), events))


def ms(values: list[float], p: float) -> float:
    return round(percentile(values, p) * 1000, 2)


def gaps(arrivals: list[float], started: float) -> list[float]:
    """The time each arrival took after the one before it (the first: after the draining started)."""
    ordered = sorted(arrivals)
    return [b - a for a, b in zip([started] + ordered[:-1], ordered)]


def drained(dispatcher: Dispatcher, count: int, arrivals: list[float]) -> dict:
    """Drain what is due, timed; the figures of the `count` deliveries it should make."""
    passes = math.ceil(count / dispatcher.settings.delivery_batch) + 2  # and one that finds nothing
    before = cpu_by_group([])
    began = time.time()
    started = time.perf_counter()
    settled = dispatcher.drain(limit=passes)
    seconds = time.perf_counter() - started
    between = gaps(arrivals, started)
    return {"settled": settled, "seconds": round(seconds, 2), "per_s": round(count / seconds, 1),
            "between_arrivals_p50_ms": ms(between, 50), "between_arrivals_p99_ms": ms(between, 99),
            "cores_busy": busy_cores(before, time.time() - began)}


def busy_cores(before: dict, seconds: float) -> dict[str, float]:
    """Cores busy meanwhile: this process (the loop and both servers), the store's processes, the rest."""
    busy = cores_busy(before, cpu_by_group([]), seconds)
    busy.pop("web_workers")
    busy["this_process"] = busy.pop("load_generator")
    return busy


def logged_ms(db, collection: str) -> list[float]:
    """The duration the service logged for each delivery's attempt (the SMTP send or the HTTP call alone)."""
    return [doc["log"][0]["duration_ms"] / 1000 for doc in db[collection].find({}, {"log.duration_ms": 1})]


def emails(db, settings, branch: str) -> dict:
    people = [f"pe_nd_{n:05d}" for n in range(EMAILS_SENT)]
    ideas = [f"id_nd{n:05d}{'e' * 8}" for n in range(EMAILS_SENT)]
    apply_all(db, [event_of("cocreate.person.registered.v1", person, person_data(
        person, lang="he" if n % 2 else "en", home=branch, email=f"{person}@example.org"))
        for n, person in enumerate(people)])
    apply_all(db, [event_of(SUBMITTED, idea, submitted_data(idea, branch, person, f"Evening library {n}"),
                            actor=person) for n, (idea, person) in enumerate(zip(ideas, people))])
    apply_all(db, [event_of("cocreate.idea.status_changed.v1", idea, status_data(
        idea, branch, "under_review", STAFF, person), actor=STAFF) for idea, person in zip(ideas, people)])
    pending = db[EMAILS].count_documents({"status": "pending"})
    assert pending == EMAILS_SENT, pending
    mailbox = Mailbox()
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd tells of every connection
    controller = Controller(mailbox, hostname=settings.smtp_host, port=settings.smtp_port)
    controller.start()
    try:
        result = drained(Dispatcher(db, settings), EMAILS_SENT, mailbox.arrivals)
    finally:
        controller.stop()
    received = len(mailbox.arrivals)
    assert received == EMAILS_SENT and mailbox.recipients == {f"{p}@example.org" for p in people}, received
    assert db[EMAILS].count_documents({"status": DELIVERED}) == EMAILS_SENT
    sends = logged_ms(db, EMAILS)
    return {**result, "received_by_smtp_server": received, "smtp_connections": len(mailbox.connections),
            "smtp_send_p50_ms": ms(sends, 50), "smtp_send_p99_ms": ms(sends, 99)}


def webhooks(db, settings, branch: str) -> dict:
    calls = Calls()
    with receiving(calls) as url:
        admin = Actor(Principal(id="pe_nd_admin", name="Admin", roles=frozenset({ORG_ADMIN})))
        services.create_webhook(services.Notifications.of(db), admin, url=url, event_types=[SUBMITTED],
                                allow_private=settings.webhook_allow_private)
        ideas = [f"id_nd{n:05d}{'w' * 8}" for n in range(WEBHOOK_CALLS)]
        apply_all(db, [event_of(SUBMITTED, idea, submitted_data(idea, branch, None, f"Reading corner {n}"))
                       for n, idea in enumerate(ideas)])
        pending = db[WEBHOOK_DELIVERIES].count_documents({"status": "pending"})
        assert pending == WEBHOOK_CALLS, pending
        result = drained(Dispatcher(db, settings), WEBHOOK_CALLS, calls.arrivals)
    received = len(calls.arrivals)
    assert received == WEBHOOK_CALLS and calls.unsigned == 0, (received, calls.unsigned)
    assert db[WEBHOOK_DELIVERIES].count_documents({"status": DELIVERED}) == WEBHOOK_CALLS
    durations = logged_ms(db, WEBHOOK_DELIVERIES)
    return {**result, "received_by_receiver": received, "unsigned": calls.unsigned,
            "receiver_connections": len(calls.connections),
            "call_p50_ms": ms(durations, 50), "call_p99_ms": ms(durations, 99)}


def main() -> dict:
    settings = bench_settings("notifications", mongo_db=bench_db("notify_delivery"), smtp_host="127.0.0.1",
                              smtp_port=free_port(), webhook_allow_private=True)
    db = database_for(settings)
    apply_indexes(db, INDEXES + outbox_indexes(OUTBOX_COLLECTIONS))
    branch = "br_nd0000"
    handlers.by_type["cocreate.branch.created.v1"](db, event_of("cocreate.branch.created.v1", branch,
                                                                branch_data(branch, "ND")))
    mail = emails(db, settings, branch)
    print(f"  e-mail: {mail}", flush=True)
    hooks = webhooks(db, settings, branch)
    print(f"  webhooks: {hooks}", flush=True)
    return write("notifications_delivery", {
        "emails": EMAILS_SENT, "webhooks": WEBHOOK_CALLS, "delivery_batch": settings.delivery_batch,
        "emails_per_s": mail["per_s"], "email_seconds": mail["seconds"],
        "webhook_calls_per_s": hooks["per_s"], "webhook_seconds": hooks["seconds"],
        "email": mail, "webhook": hooks,
        "note": ("one process: the Dispatcher (drain), the SMTP server (aiosmtpd) and the HTTP receiver share it; "
                 "the delivery batch per pass (settings.delivery_batch) and the SMTP connection kept for a pass "
                 "are the service's own; setting up is not timed")})


if __name__ == "__main__":
    print(main())
