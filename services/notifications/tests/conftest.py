"""Notifications test set-up: one app and database per module, and per test an organization of two branches
(A, B) with staff, an org admin and participants in Hebrew and English, told to the notifications service the
way the directory and the ideas service tell it: by their events, through the service's own handlers. For
delivery: a real SMTP server (aiosmtpd, with login) per module, a real webhook receiver (http.server in a
thread) per test, a clock tests move, and the delivery loop on the module's database."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from services.notifications.app import create_app
from services.notifications.delivery import Dispatcher
from services.notifications.handlers import handlers
from shared.auth import BRANCH_MANAGER, BRANCH_STAFF, ORG_ADMIN, Principal
from shared.config import load_settings
from shared.events import Event, new_event, registry
from shared.mongo import database_for
from conftest import ApiClient

PREFIX = "/notifications/api/v1"


def Api(client) -> ApiClient:  # noqa: N802 (reads as the class it makes)
    return ApiClient(client, PREFIX)


def event_of(type: str, subject: str, data: dict, *, actor: str | None = None, at: datetime | None = None,
             branch_id: str | None = None, correlation_id: str | None = None) -> Event:
    kind = type.split(".")[1]
    source = ("/ideas" if kind in ("idea", "comment", "vote", "volunteer")
              else "/feedback" if kind in ("survey", "feedback") else "/directory")
    return new_event(type, source=source, subject=subject, data=data, actor_id=actor, time=at,
                     branch_id=branch_id or data.get("branch_id"), correlation_id=correlation_id)


def polled(events: list[Event]) -> list:
    """The events as a poll would hand them to the consumer runner (records of one partition, in order)."""
    return [SimpleNamespace(value=e.value.encode(), key=e.key.encode(), headers=[], topic=e.topic, partition=0,
                            offset=n) for n, e in enumerate(events)]


def apply(db, event: Event) -> Event:
    """Apply an event through the notifications service's own handler (as its consumer would)."""
    handlers.by_type[event.type](db, event)
    return event


def tell(db, type: str, subject: str, data: dict, **envelope) -> Event:
    return apply(db, event_of(type, subject, data, **envelope))


# --- event data, shaped as the contract says -------------------------------------------------------------

def branch_data(branch_id: str, code: str) -> dict:
    return {"branch_id": branch_id, "code": code, "name": {"he": f"סניף {code}", "en": f"Branch {code}"},
            "region_id": None, "address": None, "open": True}


def person_data(person_id: str, *, lang: str = "he", kind: str = "participant", home: str | None = None,
                org_roles=(), branch_roles: dict | None = None, email: str | None = None, active: bool = True) -> dict:
    return {"person_id": person_id, "kind": kind, "display_name": person_id, "lang": lang, "email": email,
            "home_branch": home, "org_roles": list(org_roles), "branch_roles": branch_roles or {},
            "age_group": None, "population_group": None, "active": active}


def submitted_data(idea_id: str, branch_id: str | None, author_id: str | None, title: str,
                   entered_by: str | None = None) -> dict:
    return {"idea_id": idea_id, "branch_id": branch_id, "region_id": None, "scope": "branch" if branch_id else "org",
            "title": title, "description": "…", "tags": [], "age_groups": [], "population_groups": [],
            "channel": "web" if entered_by is None else "in_person", "author_id": author_id,
            "entered_by": entered_by, "consent_recorded": entered_by is not None, "adopted_from": None,
            "status": "submitted", "submitted_at": "2026-11-30T09:00:00+00:00"}


def status_data(idea_id: str, branch_id: str | None, to: str, by: str, author_id: str | None,
                previous: str = "submitted", note: str | None = None) -> dict:
    return {"idea_id": idea_id, "branch_id": branch_id, "from": previous, "to": to,
            "reason_code": "budget" if to == "declined" else None, "note": note, "by": by,
            "at": "2026-11-30T10:00:00+00:00", "seconds_in_previous": 60.0, "author_id": author_id}


@dataclass
class Org:
    """Two branches with staff, an org admin and participants; `ids` and `tokens` by role name."""

    api: ApiClient
    db: object
    a: str
    b: str
    run: str
    tokens: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)

    def idea(self, who: str = "p1", *, title: str = "A quiet room for homework", branch: str | None = "a",
             followers=()) -> str:
        """An idea submitted by `who` (who follows it, as the ideas service makes authors do), with more
        followers; returns its id."""
        idea_id = f"id_{uuid.uuid4().hex[:16]}"
        branch_id = getattr(self, branch) if branch else None
        tell(self.db, "cocreate.idea.submitted.v1", idea_id,
             submitted_data(idea_id, branch_id, self.ids[who], title), actor=self.ids[who])
        for person in (who, *followers):
            self.follow(idea_id, person)
        return idea_id

    def follow(self, idea_id: str, who: str, reason: str = "vote") -> None:
        tell(self.db, "cocreate.idea.followed.v1", idea_id, {"idea_id": idea_id, "branch_id": self.a,
                                                               "person_id": self.ids.get(who, who), "reason": reason})

    def move(self, idea_id: str, to: str, by: str = "staff_a", previous: str = "submitted", author: str = "p1",
             **envelope) -> Event:
        return tell(self.db, "cocreate.idea.status_changed.v1", idea_id, status_data(
            idea_id, self.a, to, self.ids[by], self.ids[author] if author else None, previous), actor=self.ids[by],
            **envelope)

    def inbox(self, who: str, **query) -> list[dict]:
        return self.api.ok("GET", "/inbox", self.tokens[who], query_string=query)["items"]

    def messages(self, who: str) -> list[str]:
        return [n["message"] for n in self.inbox(who, limit=100)]


@pytest.fixture(scope="module")
def notifications_app(infra, keys):
    from conftest import _created_dbs

    settings = load_settings("notifications", kafka_bootstrap_servers=(infra["kafka"],), mongo_url=infra["mongo"],
                             mongo_db=f"t_notifications_{uuid.uuid4().hex[:8]}", webhook_allow_private=True,
                             jwt_public_key_file=str(keys["public"]), jwt_private_key_file=str(keys["private"]),
                             outbox_publish_at_once="none")
    _created_dbs.append((settings.mongo_url, settings.mongo_db))
    app = create_app(settings)
    return app, database_for(settings)


PEOPLE = {
    # name: (language, staff roles at branch a / b, org roles)
    "staff_a": ("he", {"a": [BRANCH_STAFF]}, ()),
    "manager_a": ("en", {"a": [BRANCH_MANAGER]}, ()),
    "staff_b": ("he", {"b": [BRANCH_STAFF]}, ()),
    "admin": ("en", {}, (ORG_ADMIN,)),
    "p1": ("he", None, ()),
    "p2": ("en", None, ()),
    "p3": ("he", None, ()),
}


@pytest.fixture
def org(notifications_app, issue_token) -> Org:
    """Two new branches, their staff, an org admin and three participants; unique per test."""
    app, db = notifications_app
    run = uuid.uuid4().hex[:6]
    a, b = f"br_a{run}", f"br_b{run}"
    tell(db, "cocreate.branch.created.v1", a, branch_data(a, f"A{run}"))
    tell(db, "cocreate.branch.created.v1", b, branch_data(b, f"B{run}"))
    org = Org(Api(app.test_client()), db, a, b, run)
    for name, (lang, roles, org_roles) in PEOPLE.items():
        person_id = f"pe_{name}{run}"
        staff = roles is not None
        branch_roles = {(a if key == "a" else b): r for key, r in (roles or {}).items()}
        principal = Principal(id=person_id, name=name, lang=lang, roles=frozenset(org_roles),
                              branch_roles={br: frozenset(r) for br, r in branch_roles.items()},
                              home_branch=None if staff else a)
        org.ids[name], org.tokens[name] = person_id, issue_token(principal)
        tell(db, "cocreate.person.registered.v1", person_id, person_data(
            person_id, lang=lang, kind="staff" if staff else "participant", home=principal.home_branch,
            org_roles=org_roles, branch_roles=branch_roles, email=f"{name}.{run}@example.org"))
    return org


# --- delivery: a real SMTP server, a real HTTP receiver, a clock tests move, the delivery loop ----------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SMTP_USER, SMTP_PASSWORD = "cocreate", "relay-secret"


class Mailbox:
    """What an SMTP server (aiosmtpd, on a free port, with login) received. `refuse` answers the next messages
    with these replies instead of taking them; `hold` makes the n-th message wait until released (it is then
    refused, as a server that lost its client would never have taken it). `connections` are the clients'
    addresses (one per SMTP connection)."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        self.connections: set[tuple] = set()
        self.refuse: list[str] = []
        self.hold_at: int | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self.arrivals = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.arrivals += 1
            arrival = self.arrivals
            self.connections.add(tuple(session.peer))
            refused = self.refuse.pop(0) if self.refuse else None
        if arrival == self.hold_at:
            self.held.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
            return "451 4.4.2 connection lost before the message was taken"
        if refused:
            return refused
        message = message_from_bytes(envelope.content, policy=policy.default)
        message["X-Test-Logged-In"] = str(bool(session.authenticated))
        with self.lock:
            self.messages.append(message)
        return "250 OK: queued"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"].addresses[0].addr_spec == address]

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.connections.clear()
            self.refuse.clear()
            self.hold_at, self.arrivals = None, 0
            self.held.clear()
            self.release.clear()


def _login(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
                      and auth_data.password == SMTP_PASSWORD.encode())


@pytest.fixture(scope="module")
def smtp_server():
    mailbox = Mailbox()
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd tells of every connection
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), authenticator=_login,
                            auth_require_tls=False)
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture
def mailbox(smtp_server) -> Mailbox:
    mailbox = smtp_server[1]
    mailbox.reset()
    yield mailbox
    mailbox.release.set()


class Receiver:
    """A webhook receiver (http.server in a thread, HTTP/1.1: a connection serves calls until the caller closes
    it). `script` says how to answer the next requests: a status code, or "drop" (close the connection without
    an answer); then 200. `hold_at` makes the n-th request wait until released (then it answers 503).
    `accepted` keeps the requests answered 2xx; `connections` the callers' addresses; `answer` is the body
    of every answer."""

    def __init__(self):
        self.requests: list[dict] = []
        self.accepted: list[dict] = []
        self.connections: set[tuple] = set()
        self.answer = b""
        self.script: list[int | str] = []
        self.hold_at: int | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                seen = {"path": self.path, "headers": dict(self.headers), "body": body}
                with receiver.lock:
                    receiver.requests.append(seen)
                    receiver.connections.add(self.client_address)
                    arrival = len(receiver.requests)
                    answer = receiver.script.pop(0) if receiver.script else 200
                if arrival == receiver.hold_at:
                    receiver.held.set()
                    receiver.release.wait(60)
                    answer = 503
                if answer == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if 200 <= answer < 300:
                    with receiver.lock:
                        receiver.accepted.append(seen)
                try:
                    self.send_response(answer)
                    self.send_header("Content-Length", str(len(receiver.answer)))
                    self.end_headers()
                    self.wfile.write(receiver.answer)
                except OSError:  # the sender is gone (killed while we held its request)
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/cocreate"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


class Clock:
    """A clock tests move by hand; starts now unless told otherwise."""

    def __init__(self, at: datetime | None = None):
        self.at = at or datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def delivery_settings(base, smtp_port: int, **overrides):
    values = dict(smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_user=SMTP_USER, smtp_password=SMTP_PASSWORD,
                  smtp_timeout_seconds=5.0, delivery_max_attempts=4, delivery_backoff_seconds=1.0,
                  delivery_backoff_max_seconds=60.0, delivery_lease_seconds=30.0, webhook_timeout_seconds=2.0,
                  public_url="https://cocreate.example")
    values.update(overrides)
    return dataclasses.replace(base, **values)


@pytest.fixture
def dispatcher(notifications_app, smtp_server):
    """dispatcher(clock=None, **settings) -> the delivery loop on this module's database, sending to the test
    SMTP server (small backoff, 4 attempts)."""
    app, db = notifications_app
    base = app.extensions["cocreate"].settings

    def make(clock=None, **overrides) -> Dispatcher:
        settings = delivery_settings(base, overrides.pop("smtp_port", smtp_server[0].port), **overrides)
        return Dispatcher(db, settings, **({"clock": clock} if clock else {}))

    return make


def outbox_events(db, collection: str, doc_id: str) -> list[dict]:
    """The events waiting in a document's outbox, each checked against the contract."""
    doc = db[collection].find_one({"_id": doc_id}) or {}
    events = [json.loads(entry["value"]) for entry in doc.get("_outbox", [])]
    for event in events:
        registry.validate(event)
    return events
