"""Demo ideas to try Cocreate with: `python -m services.ideas.seed --demo` (after the directory's demo seed;
idempotent: a second run adds nothing).

The ideas service learns branches and people from the directory's events, so the seed first waits until
its read models know the demo organization, then acts as its people through the same use cases the API
uses: participants submit, vote and comment; staff answer officially, move ideas along, decline one with
a reason, merge a duplicate and adopt an implemented idea at another branch."""
from __future__ import annotations

import argparse
import random
import sys
import time

from services.ideas import SERVICE, services
from services.ideas.catalog import Catalog
from services.ideas.repository import INDEXES, PEOPLE
from shared.auth import BRANCH_MANAGER, BRANCH_STAFF, PARTICIPANT, Actor, Principal
from shared.config import load_settings
from shared.mongo import apply_indexes, database_for
from shared.readmodels import BRANCHES

MARK = "demo-ideas"


class NotReady(Exception):
    """The read models do not hold the demo organization (yet)."""
# (Hebrew title, English title, description, tags, age groups, how far it got)
IDEAS = [
    ("חדר שקט לשיעורי בית", "A quiet homework room", "ילדים צריכים מקום שקט להכין שיעורי בית אחרי בית הספר.",
     ["youth", "education"], ["under_18"], "implemented"),
    ("שעות פתיחה בערב", "Evening opening hours", "Many of us work until late; open the branch until 20:00 twice a week.",
     ["access", "hours"], ["30_44", "45_64"], "in_progress"),
    ("קבוצת הליכה לגיל השלישי", "A walking group for seniors", "הליכה משותפת פעמיים בשבוע בבוקר, עם מתנדב מלווה.",
     ["health", "community"], ["65_plus"], "planned"),
    ("תור מקוון לפגישות", "Online appointment booking", "Book a meeting with a social worker online instead of calling.",
     ["digital", "access"], ["18_29", "30_44"], "under_review"),
    ("סדנת עברית לעולים", "Hebrew workshop for new immigrants", "סדנת שיחה שבועית בעברית, ברמות שונות.",
     ["language", "education"], ["18_29", "30_44", "45_64"], "submitted"),
    ("פינת משחק בחדר ההמתנה", "A play corner in the waiting room", "Children get bored while parents wait; a small play corner would help.",
     ["families", "space"], ["under_18"], "implemented"),
    ("שילוט בשפות נוספות", "Signs in more languages", "שילוט בערבית, ברוסית ובאמהרית בכניסה ובמסדרונות.",
     ["access", "language"], [], "declined"),
    ("חניה לאופניים", "Bicycle parking", "A few bicycle racks at the entrance.", ["space"], ["18_29"], "submitted"),
    ("מפגש הורים חודשי", "Monthly parents' meeting", "מפגש פתוח להורים עם הצוות פעם בחודש.",
     ["families", "community"], ["30_44"], "under_review"),
    ("חדר שקט להכנת שיעורים", "Quiet room for homework", "מקום שקט לילדים אחרי הלימודים.",
     ["youth"], ["under_18"], "duplicate"),
]
COMMENTS_HE = ["רעיון מצוין, אשמח לעזור", "גם אצלנו זה חסר", "מתי זה יכול לקרות?"]
COMMENTS_EN = ["Great idea, count me in", "We need this too", "When could this happen?"]


def wait_for_directory(db, timeout: float) -> tuple[list[dict], list[dict]]:
    """The demo branches and people, once the ideas worker has read them from the directory's events."""
    deadline = time.time() + timeout
    while True:
        branches = list(db[BRANCHES].find({"open": True}))
        people = list(db[PEOPLE].find({"active": True}))
        staff = [p for p in people if p.get("kind") == "staff" and p.get("branch_roles")]
        participants = [p for p in people if p.get("kind") == "participant" and p.get("home_branch")]
        if len(branches) >= 2 and staff and len(participants) >= 6:
            return branches, people
        if time.time() > deadline:
            raise NotReady("the ideas service does not know the demo organization yet (is the ideas worker "
                           "running, and was the directory seeded after the ideas service's consumer group "
                           "had passed its events?)")
        time.sleep(1)


def as_principal(person: dict) -> Principal:
    if person.get("kind") == "staff":
        roles = {b: frozenset(r) for b, r in person.get("branch_roles", {}).items()}
        return Principal(id=person["_id"], name=person.get("name", ""), roles=frozenset(person.get("org_roles", [])),
                         branch_roles=roles)
    return Principal(id=person["_id"], name=person.get("name", ""), home_branch=person.get("home_branch"),
                     branch_roles={person["home_branch"]: frozenset({PARTICIPANT})})


def seed(db, *, timeout: float = 120.0) -> int:
    if db["seed_marks"].find_one({"_id": MARK}):
        return 0
    branches, people = wait_for_directory(db, timeout)
    rnd = random.Random(7)
    staff_by_branch: dict[str, list[dict]] = {}
    for p in people:
        for branch_id, roles in (p.get("branch_roles") or {}).items():
            if p.get("kind") == "staff" and set(roles) & {BRANCH_STAFF, BRANCH_MANAGER}:
                staff_by_branch.setdefault(branch_id, []).append(p)
    staffed = [b for b in branches if b["_id"] in staff_by_branch]
    participants = [p for p in people if p.get("kind") == "participant" and p.get("home_branch")]
    store = services.Ideas.of(db, Catalog())
    made: dict[str, dict] = {}
    for n, (title_he, title_en, description, tags, ages, goal) in enumerate(IDEAS):
        branch = staffed[n % len(staffed)] if goal != "duplicate" else {"_id": made[IDEAS[0][1]]["branch_id"]}
        local = [p for p in participants if p["home_branch"] == branch["_id"]] or participants
        author = as_principal(rnd.choice(local))
        staff = Actor(as_principal(staff_by_branch[branch["_id"]][0]))
        title = title_he if any("\u0590" <= ch <= "\u05ff" for ch in description) else title_en
        doc = services.submit(store, Actor(author), title=title, description=description, branch_id=branch["_id"],
                              tags=tags, age_groups=ages)
        made[title_en] = doc
        for voter in rnd.sample(participants, k=min(len(participants), rnd.randint(2, 9))):
            services.vote(store, Actor(as_principal(voter)), doc["_id"])
        commenter = as_principal(rnd.choice(local))
        texts = COMMENTS_HE if title == title_he else COMMENTS_EN
        question = services.post_comment(store, Actor(commenter), doc["_id"], text=rnd.choice(texts))
        if goal in ("duplicate",):
            services.merge(store, staff, doc["_id"], into_idea_id=made[IDEAS[0][1]]["_id"])
            continue
        if goal != "submitted":
            services.post_comment(store, staff, doc["_id"], official=True, parent_id=question["_id"],
                                  text="תודה! אנחנו בודקים את זה." if title == title_he else "Thank you! We are looking into it.")
        path = {"under_review": ["under_review"], "planned": ["under_review", "planned"],
                "in_progress": ["under_review", "planned", "in_progress"],
                "implemented": ["under_review", "planned", "in_progress", "implemented"]}.get(goal, [])
        for status in path:
            services.change_status(store, staff, doc["_id"], status=status)
        if goal == "declined":
            services.change_status(store, staff, doc["_id"], status="declined", reason_code="budget",
                                   note="אין תקציב השנה; נחזור לזה בשנה הבאה." if title == title_he
                                   else "No budget this year; we will come back to it next year.")
    source = made[IDEAS[0][1]]
    other = next((b for b in staffed if b["_id"] != source["branch_id"]), None)
    if other is not None:
        services.adopt(store, Actor(as_principal(staff_by_branch[other["_id"]][0])), source["_id"],
                       branch_id=other["_id"])
    db["seed_marks"].insert_one({"_id": MARK, "ideas": len(made)})
    return len(made)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.ideas.seed", description=__doc__)
    parser.add_argument("--demo", action="store_true", required=True, help="add the demo ideas")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the directory's events")
    args = parser.parse_args(argv)
    db = database_for(load_settings(SERVICE))
    apply_indexes(db, INDEXES)
    try:
        added = seed(db, timeout=args.timeout)
    except NotReady as exc:  # demo ideas are a nicety: the platform runs without them
        print(f"seed: no demo ideas: {exc}", file=sys.stderr)
        return 0
    print(f"seed: added {added} demo ideas" if added else "seed: the demo ideas are there; nothing added")
    return 0


if __name__ == "__main__":
    sys.exit(main())
