"""Feedback test set-up: one app and database per module, and per test an organization of two branches (A, B) in
a region of their own, with staff, an org admin and seven participants (five of them aged 18-29, two 65+),
told to the feedback service the way the directory and the ideas service tell it: by their events, through
the service's own handlers."""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from services.feedback.app import create_app
from services.feedback.handlers import handlers
from shared.auth import BRANCH_MANAGER, BRANCH_STAFF, ORG_ADMIN, PARTICIPANT, Principal
from shared.config import load_settings
from shared.events import Event, new_event, registry
from shared.mongo import database_for
from conftest import ApiClient

PREFIX = "/feedback/api/v1"
CSAT_NPS_TEXT = [
    {"type": "csat", "text": {"he": "כמה היית מרוצה?", "en": "How satisfied were you?"}},
    {"type": "nps", "text": {"he": "האם תמליץ/י עלינו?", "en": "Would you recommend us?"}},
    {"type": "text", "text": {"he": "משהו נוסף?", "en": "Anything else?"}, "required": False},
]


def Api(client) -> ApiClient:  # noqa: N802 (reads as the class it makes)
    return ApiClient(client, PREFIX)


def event_of(type: str, subject: str, data: dict, *, at: datetime | None = None, actor: str | None = None) -> Event:
    family = type.split(".")[1]
    source = {"idea": "/ideas", "vote": "/ideas", "comment": "/ideas", "volunteer": "/ideas",
              "survey": "/feedback", "feedback": "/feedback"}.get(family, "/directory")
    return new_event(type, source=source, subject=subject, data=data, time=at, actor_id=actor,
                     branch_id=data.get("branch_id"))


def apply(db, event: Event) -> Event:
    """Apply an event through the feedback service's own handler (as its consumer would)."""
    handlers.by_type[event.type](db, event)
    return event


def tell(db, type: str, subject: str, data: dict, **envelope) -> Event:
    return apply(db, event_of(type, subject, data, **envelope))


def branch_data(branch_id: str, code: str, region_id: str | None) -> dict:
    return {"branch_id": branch_id, "code": code, "name": {"he": f"סניף {code}", "en": f"Branch {code}"},
            "region_id": region_id, "address": None, "open": True}


def person_data(person_id: str, *, kind: str = "participant", home: str | None = None, age: str | None = None,
                population: str | None = None, org_roles=(), branch_roles: dict | None = None) -> dict:
    return {"person_id": person_id, "kind": kind, "display_name": person_id, "lang": "he", "email": None,
            "home_branch": home, "org_roles": list(org_roles), "branch_roles": branch_roles or {},
            "age_group": age, "population_group": population, "active": True}


def idea_submitted(idea_id: str, branch_id: str, region_id: str | None, author: str | None, at: datetime,
                   status: str = "submitted") -> dict:
    return {"idea_id": idea_id, "branch_id": branch_id, "region_id": region_id, "scope": "branch",
            "title": "A quiet room", "description": "For homework.", "tags": [], "age_groups": [],
            "population_groups": [], "channel": "web", "author_id": author, "entered_by": None,
            "consent_recorded": False, "adopted_from": None, "status": status, "submitted_at": at.isoformat()}


def status_changed(idea_id: str, branch_id: str, frm: str, to: str, at: datetime, by: str,
                   author: str | None = None) -> dict:
    return {"idea_id": idea_id, "branch_id": branch_id, "from": frm, "to": to, "reason_code": None, "note": None,
            "by": by, "at": at.isoformat(), "seconds_in_previous": 0, "author_id": author}


def soon(days: float = 30) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).isoformat()


def days_ago(days: float) -> datetime:
    return datetime.now(timezone.utc) - timedelta(days=days)


MONTH_TURN_MARGIN = timedelta(minutes=2)  # longer than any test of feedback takes


def next_month(at: datetime) -> datetime:
    return (at.replace(day=28) + timedelta(days=4)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def clear_of_a_month_turn(at: datetime | None = None, sleep=time.sleep) -> float:
    """Start a test's data after a month turn, not across it: the service stamps each response with the month
    it is submitted in, so a test begun in a month's last seconds (midnight UTC) would split its five people
    between two months and find each hidden. Waits, only then, until the new month; returns the seconds waited."""
    at = at or datetime.now(timezone.utc)
    wait = (next_month(at) - at).total_seconds() + 1  # a second past the turn, whatever the clocks' drift
    if wait > MONTH_TURN_MARGIN.total_seconds():
        return 0.0
    sleep(wait)
    return wait


@dataclass
class Org:
    api: ApiClient
    db: object
    a: str
    b: str
    region: str
    tokens: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)

    def survey(self, who: str = "staff_a", open: bool = True, **fields) -> dict:
        body = {"title": {"he": "איך היה?", "en": "How was it?"}, "branch_id": self.a, "questions": CSAT_NPS_TEXT,
                "closes_at": (datetime.now(timezone.utc) + timedelta(days=30)).isoformat(), **fields}
        made = self.api.ok("POST", "/surveys", self.tokens[who], 201, json=body)
        if open:
            made = self.api.ok("POST", f"/surveys/{made['id']}/open", self.tokens[who])
        return made

    def answer(self, who: str, survey_id: str, answers: dict, status: int = 201, **extra) -> dict:
        return self.api.ok("POST", f"/surveys/{survey_id}/responses", self.tokens[who], status,
                           json={"answers": answers, **extra})

    def satisfaction(self, who: str = "staff_a", **query) -> dict:
        query.setdefault("scope", f"branch:{self.a}")
        return self.api.ok("GET", "/insights/satisfaction", self.tokens[who], query_string=query)

    def outbox(self, collection: str, doc_id: str) -> list[dict]:
        """The events the service stored for a document (nothing relays them in these tests), each checked
        against the contract."""
        doc = self.db[collection].find_one({"_id": doc_id}, {"_outbox": 1}) or {}
        events = [json.loads(e["value"]) for e in doc.get("_outbox", [])]
        for event in events:
            registry.validate(event)
        return events

    def outbox_types(self, collection: str, doc_id: str) -> list[str]:
        return sorted(e["type"] for e in self.outbox(collection, doc_id))

    def people(self, *keys: str) -> list[str]:
        return [self.ids[k] for k in keys]


@pytest.fixture(scope="module")
def feedback_app(infra, keys):
    from conftest import _created_dbs

    settings = load_settings("feedback", kafka_bootstrap_servers=(infra["kafka"],), mongo_url=infra["mongo"],
                             mongo_db=f"t_feedback_{uuid.uuid4().hex[:8]}",
                             jwt_public_key_file=str(keys["public"]), jwt_private_key_file=str(keys["private"]),
                             outbox_publish_at_once="none")
    _created_dbs.append((settings.mongo_url, settings.mongo_db))
    app = create_app(settings)
    return app, database_for(settings)


PARTICIPANTS = {"p1": "18_29", "p2": "18_29", "p3": "18_29", "p4": "18_29", "p5": "18_29", "p6": "65_plus",
                "p7": "65_plus"}


@pytest.fixture
def org(feedback_app, issue_token) -> Org:
    clear_of_a_month_turn()
    app, db = feedback_app
    run = uuid.uuid4().hex[:6]
    region, a, b = f"rg_{run}", f"br_a{run}", f"br_b{run}"
    tell(db, "cocreate.branch.created.v1", a, branch_data(a, f"A{run}", region))
    tell(db, "cocreate.branch.created.v1", b, branch_data(b, f"B{run}", region))
    org = Org(Api(app.test_client()), db, a, b, region)
    staff = {
        "staff_a": Principal(id=f"pe_sa{run}", name="Dana", branch_roles={a: frozenset({BRANCH_STAFF})}),
        "manager_a": Principal(id=f"pe_ma{run}", name="Avi", branch_roles={a: frozenset({BRANCH_MANAGER})}),
        "staff_b": Principal(id=f"pe_sb{run}", name="Rina", branch_roles={b: frozenset({BRANCH_STAFF})}),
        "admin": Principal(id=f"pe_ad{run}", name="Admin", roles=frozenset({ORG_ADMIN})),
    }
    for key, principal in staff.items():
        org.tokens[key], org.ids[key] = issue_token(principal), principal.id
        tell(db, "cocreate.person.registered.v1", principal.id, person_data(
            principal.id, kind="staff", org_roles=sorted(principal.roles),
            branch_roles={br: sorted(r) for br, r in principal.branch_roles.items()}))
    for key, age in PARTICIPANTS.items():
        principal = Principal(id=f"pe_{key}{run}", name=key, home_branch=a, branch_roles={a: frozenset({PARTICIPANT})})
        org.tokens[key], org.ids[key] = issue_token(principal), principal.id
        tell(db, "cocreate.person.registered.v1", principal.id, person_data(principal.id, home=a, age=age,
                                                                             population="families"))
    return org
