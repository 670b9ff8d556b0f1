"""Maintenance: `python -m services.ideas.maintenance recount [IDEA_ID ...]`.

A vote, follow or volunteer is two writes: the person's membership document (the truth, with its event) and
the idea's counter. A process killed between the two leaves the counter one off; recounting sets every
counter from the membership documents again. Safe to run at any time (a vote racing it is counted by the
next run)."""
from __future__ import annotations

import sys

from pymongo.database import Database
from tqdm import tqdm

from services.ideas import SERVICE
from services.ideas.repository import FOLLOWS, IDEAS, VOLUNTEERS, VOTES, IdeaRepository, Memberships
from shared.config import load_settings
from shared.mongo import database_for


def recount(db: Database, idea_ids: list[str] | None = None, progress: bool = False) -> int:
    """Set the counters of the given ideas (all when None) from their memberships; returns how many changed."""
    ideas = IdeaRepository(db)
    members = {"votes": Memberships(db, VOTES), "followers": Memberships(db, FOLLOWS),
               "volunteers": Memberships(db, VOLUNTEERS)}
    ids = idea_ids if idea_ids is not None else [d["_id"] for d in db[IDEAS].find({}, {"_id": 1})]
    changed = 0
    for idea_id in tqdm(ids, disable=not progress, unit="idea"):
        doc = db[IDEAS].find_one({"_id": idea_id}, {name: 1 for name in members} | {"comments": 1})
        if doc is None:
            continue
        counts = {name: m.count(idea_id) for name, m in members.items()}
        counts["comments"] = db["comments"].count_documents({"idea_id": idea_id})
        if any(doc.get(k, 0) != v for k, v in counts.items()):
            ideas.set_counts(idea_id, **counts)
            changed += 1
    return changed


def main(argv: list[str]) -> None:
    if not argv or argv[0] != "recount":
        raise SystemExit(__doc__)
    changed = recount(database_for(load_settings(SERVICE)), argv[1:] or None, progress=True)
    print(f"{changed} idea(s) had a counter set right")


if __name__ == "__main__":
    main(sys.argv[1:])
