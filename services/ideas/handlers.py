"""Events the ideas service consumes, and what it keeps of them: branches (to file ideas under), people
(staff to mention, names), and a person's erasure (their content anonymized, their votes kept counted)."""
from __future__ import annotations

import uuid

from pymongo.database import Database

from services.ideas import services
from services.ideas.catalog import Catalog
from services.ideas.repository import PEOPLE
from shared.auth import Actor
from shared.consumer import Handlers
from shared.events import Event
from shared.readmodels import keep_branches, upsert_newer

handlers = Handlers()
keep_branches(handlers)


@handlers.on("cocreate.person.registered.v1", "cocreate.person.updated.v1", "cocreate.person.roles_changed.v1",
             "cocreate.person.deactivated.v1")
def person_changed(db: Database, event: Event) -> None:
    data = event.data
    fields = {"active": data.get("active", False)} if event.type.endswith("deactivated.v1") else {
        "kind": data["kind"], "name": data.get("display_name", ""), "org_roles": data.get("org_roles", []),
        "branch_roles": data.get("branch_roles", {}), "home_branch": data.get("home_branch"),
        "active": data.get("active", True)}
    upsert_newer(db[PEOPLE], event.subject, fields, event.time, guard={"erased": {"$ne": True}})


@handlers.on("cocreate.person.erased.v1")
def person_erased(db: Database, event: Event) -> None:
    person_id = event.data["person_id"]
    store = services.Ideas.of(db, Catalog())
    services.forget_person(store, person_id, f"anon_{uuid.uuid4().hex[:16]}",
                           Actor(None, correlation_id=event.correlation_id))
    db[PEOPLE].update_one({"_id": person_id}, {"$set": {"name": "", "active": False, "erased": True}})
