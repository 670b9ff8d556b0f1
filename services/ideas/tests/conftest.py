"""Ideas test set-up: one app and database per module, an organization of two branches (A, B) with staff and
participants, told to the ideas service the way the directory tells it: by its events."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from services.ideas.app import create_app
from services.ideas.handlers import handlers
from services.ideas.repository import OUTBOX_COLLECTIONS
from shared.auth import BRANCH_MANAGER, BRANCH_STAFF, ORG_ADMIN, PARTICIPANT, Principal
from shared.config import load_settings
from shared.events import new_event
from shared.mongo import database_for
from conftest import ApiClient


def Api(client) -> ApiClient:  # noqa: N802 (reads as the class it makes)
    return ApiClient(client, "/ideas/api/v1")


def tell(db, type: str, subject: str, data: dict) -> None:
    """Apply a directory event through the ideas service's own handler."""
    handlers.by_type[type](db, new_event(type, source="/directory", subject=subject, data=data))


def branch_event(branch_id: str, code: str, region_id: str | None = None) -> dict:
    return {"branch_id": branch_id, "code": code, "name": {"he": f"סניף {code}", "en": f"Branch {code}"},
            "region_id": region_id, "address": None, "open": True}


def person_event(person_id: str, name: str, kind: str, home: str | None = None, org_roles=(),
                 branch_roles: dict | None = None) -> dict:
    return {"person_id": person_id, "kind": kind, "display_name": name, "lang": "en", "email": None,
            "home_branch": home, "org_roles": list(org_roles), "branch_roles": branch_roles or {},
            "age_group": None, "population_group": None, "active": True}


@dataclass
class Org:
    api: ApiClient
    db: object
    a: str
    b: str
    region: str
    tokens: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)

    def submit(self, who: str = "p1", **fields) -> dict:
        body = {"title": "A quiet room for homework", "description": "Children need a quiet place after school.",
                "branch_id": self.a, **fields}
        return self.api.ok("POST", "/ideas", self.tokens[who], 201, json=body)

    def outbox_types(self, idea_id: str) -> list[str]:
        """Every event the ideas service stored for an idea (nothing relays them in these tests)."""
        found = []
        for name in OUTBOX_COLLECTIONS:
            query = {"_id": idea_id} if name == "ideas" else {"idea_id": idea_id}
            for doc in self.db[name].find(query, {"_outbox": 1}):
                found += [e["type"] for e in doc.get("_outbox", [])]
        return sorted(found)

    def clear_outboxes(self) -> None:
        for name in OUTBOX_COLLECTIONS:
            self.db[name].update_many({"_outbox_pending": True}, {"$unset": {"_outbox": "", "_outbox_pending": ""}})


def make_ideas_app(infra, keys, **overrides):
    """An ideas app on a database of its own, and that database; the tests read the outboxes as written unless
    `overrides` say otherwise."""
    from conftest import _created_dbs

    values = dict(kafka_bootstrap_servers=(infra["kafka"],), mongo_url=infra["mongo"],
                  mongo_db=f"t_ideas_api_{uuid.uuid4().hex[:8]}", jwt_public_key_file=str(keys["public"]),
                  jwt_private_key_file=str(keys["private"]), outbox_publish_at_once="none")
    settings = load_settings("ideas", **{**values, **overrides})
    _created_dbs.append((settings.mongo_url, settings.mongo_db))
    app = create_app(settings)
    return app, database_for(settings)


@pytest.fixture(scope="module")
def ideas_app(infra, keys):
    return make_ideas_app(infra, keys)


@pytest.fixture
def org(ideas_app, issue_token) -> Org:
    """Two new branches with staff, a manager, an org admin and three participants; unique per test."""
    app, db = ideas_app
    run = uuid.uuid4().hex[:6]
    region, a, b = f"rg_{run}", f"br_a{run}", f"br_b{run}"
    tell(db, "cocreate.branch.created.v1", a, branch_event(a, f"A{run}", region))
    tell(db, "cocreate.branch.created.v1", b, branch_event(b, f"B{run}", region))
    org = Org(Api(app.test_client()), db, a, b, region)
    people = {
        "staff_a": Principal(id=f"pe_sa{run}", name="Dana (staff A)", branch_roles={a: frozenset({BRANCH_STAFF})}),
        "manager_a": Principal(id=f"pe_ma{run}", name="Avi (manager A)", branch_roles={a: frozenset({BRANCH_MANAGER})}),
        "staff_b": Principal(id=f"pe_sb{run}", name="Rina (staff B)", branch_roles={b: frozenset({BRANCH_STAFF})}),
        "admin": Principal(id=f"pe_ad{run}", name="Org admin", roles=frozenset({ORG_ADMIN})),
    }
    for i in (1, 2, 3):
        people[f"p{i}"] = Principal(id=f"pe_p{i}{run}", name=f"Participant {i}", home_branch=a,
                                    branch_roles={a: frozenset({PARTICIPANT})})
    for key, principal in people.items():
        org.tokens[key] = issue_token(principal)
        org.ids[key] = principal.id
        staff = bool(principal.branch_roles and not principal.home_branch) or principal.is_org_admin
        tell(db, "cocreate.person.registered.v1", principal.id, person_event(
            principal.id, principal.name, "staff" if staff else "participant", home=principal.home_branch,
            org_roles=sorted(principal.roles),
            branch_roles={br: sorted(r) for br, r in principal.branch_roles.items()} if staff else {}))
    return org
