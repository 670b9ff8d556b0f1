"""The demo seed: once the ideas service knows an organization (from the directory's events), it fills the
lifecycle with ideas, votes, dialogue, a decline, a merge and an adoption; a second run adds nothing."""
from services.ideas import seed
from services.ideas.tests.conftest import branch_event, person_event, tell
from shared.mongo import apply_indexes, database_for


def test_the_demo_seed_fills_every_stage_once(make_settings):
    db = database_for(make_settings("ideas"))
    apply_indexes(db, seed.INDEXES)
    for x in "ab":
        tell(db, "cocreate.branch.created.v1", f"br_{x}", branch_event(f"br_{x}", x.upper()))
        tell(db, "cocreate.person.registered.v1", f"pe_s{x}", person_event(
            f"pe_s{x}", f"Staff {x}", "staff", branch_roles={f"br_{x}": ["branch_staff"]}))
        for n in range(4):
            tell(db, "cocreate.person.registered.v1", f"pe_{x}{n}", person_event(
                f"pe_{x}{n}", f"Client {x}{n}", "participant", home=f"br_{x}"))
    assert seed.seed(db, timeout=5) == len(seed.IDEAS)
    statuses = sorted(d["status"] for d in db["ideas"].find({}, {"status": 1}))
    assert statuses.count("merged") == 1 and statuses.count("declined") == 1
    assert statuses.count("implemented") == 2 and "planned" in statuses  # and the adoption is planned
    source = db["ideas"].find_one({"title": seed.IDEAS[0][0], "adopted_from": None})  # the adoption has its title too
    assert len(source["spread"]) == 1 and source["merged_from"]
    assert db["comments"].count_documents({"official": True}) >= 5
    assert seed.seed(db, timeout=5) == 0
    assert db["ideas"].count_documents({}) == len(seed.IDEAS) + 1
