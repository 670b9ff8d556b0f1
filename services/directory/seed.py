"""A demo organization to try Cocreate with: `python -m services.directory.seed --demo` (idempotent: a second
run changes nothing), grown to any size with `--branches N --participants M`. Everything is made by the domain
rules and stored with its events (outbox), like any other change; sign-in details go to
$COCREATE_VAR_DIR/demo-credentials.txt."""
from __future__ import annotations

import argparse
import os
import random
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Iterator

from services.directory import SERVICE, domain, importer, services
from services.directory.repository import INDEXES
from services.directory.services import Directory, ensure_admin, population_groups, set_population_groups
from services.directory.worker import DEFAULT_ADMIN_PASSWORD, admin_credentials
from shared.auth import BRANCH_MANAGER, BRANCH_STAFF, Actor
from shared.config import load_settings
from shared.mongo import apply_indexes, database_for

DEMO_PASSWORD = "cocreate-demo-staff"  # every demo staff member's: hashed once per run (argon2 is slow)
DEMO_DOMAIN = "demo.cocreate.example"
DEMO_BRANCHES, DEMO_PARTICIPANTS = 12, 200
INVITE_DAYS = 365

REGIONS = [("north", "צפון", "North"), ("center", "מרכז", "Center"), ("jerusalem", "ירושלים", "Jerusalem"),
           ("south", "דרום", "South")]
# (code, Hebrew, English, region, street): the first twelve are the demo's branches, the rest serve bigger runs.
TOWNS = [
    ("haifa", "חיפה", "Haifa", "north", "שדרות הנשיא 12"),
    ("nazareth", "נצרת", "Nazareth", "north", "רחוב פאולוס השישי 40"),
    ("karmiel", "כרמיאל", "Karmiel", "north", "שדרות נשיאי ישראל 5"),
    ("tel-aviv-yafo", "תל אביב-יפו", "Tel Aviv-Yafo", "center", "רחוב אבן גבירול 69"),
    ("petah-tikva", "פתח תקווה", "Petah Tikva", "center", "רחוב חיים עוזר 14"),
    ("netanya", "נתניה", "Netanya", "center", "רחוב הרצל 30"),
    ("rishon-lezion", "ראשון לציון", "Rishon LeZion", "center", "רחוב רוטשילד 21"),
    ("jerusalem", "ירושלים", "Jerusalem", "jerusalem", "רחוב יפו 97"),
    ("beit-shemesh", "בית שמש", "Beit Shemesh", "jerusalem", "רחוב נהר הירדן 3"),
    ("beer-sheva", "באר שבע", "Be'er Sheva", "south", "שדרות רגר 8"),
    ("ashdod", "אשדוד", "Ashdod", "south", "שדרות מנחם בגין 16"),
    ("eilat", "אילת", "Eilat", "south", "שדרות התמרים 2"),
    ("akko", "עכו", "Akko", "north", "דרך הארבעה 7"),
    ("tiberias", "טבריה", "Tiberias", "north", "רחוב הגליל 22"),
    ("afula", "עפולה", "Afula", "north", "רחוב יהושע חנקין 9"),
    ("kiryat-shmona", "קריית שמונה", "Kiryat Shmona", "north", "שדרות תל חי 11"),
    ("nahariya", "נהריה", "Nahariya", "north", "שדרות הגעתון 25"),
    ("umm-al-fahm", "אום אל-פחם", "Umm al-Fahm", "north", "הרחוב הראשי 1"),
    ("hadera", "חדרה", "Hadera", "center", "רחוב הנשיא וייצמן 40"),
    ("kfar-saba", "כפר סבא", "Kfar Saba", "center", "רחוב ויצמן 140"),
    ("holon", "חולון", "Holon", "center", "רחוב סוקולוב 60"),
    ("bat-yam", "בת ים", "Bat Yam", "center", "רחוב בלפור 88"),
    ("rehovot", "רחובות", "Rehovot", "center", "רחוב הרצל 180"),
    ("lod", "לוד", "Lod", "center", "רחוב דוד המלך 4"),
    ("ramla", "רמלה", "Ramla", "center", "רחוב הרצל 91"),
    ("bnei-brak", "בני ברק", "Bnei Brak", "center", "רחוב רבי עקיבא 100"),
    ("modiin", "מודיעין", "Modi'in", "jerusalem", "שדרות עמק החולה 1"),
    ("mevaseret-zion", "מבשרת ציון", "Mevaseret Zion", "jerusalem", "רחוב החוצבים 6"),
    ("maale-adumim", "מעלה אדומים", "Ma'ale Adumim", "jerusalem", "דרך קדם 5"),
    ("ashkelon", "אשקלון", "Ashkelon", "south", "רחוב הרצל 26"),
    ("kiryat-gat", "קריית גת", "Kiryat Gat", "south", "שדרות לכיש 100"),
    ("dimona", "דימונה", "Dimona", "south", "שדרות הנשיא 3"),
    ("sderot", "שדרות", "Sderot", "south", "רחוב מנחם בגין 1"),
    ("rahat", "רהט", "Rahat", "south", "מרכז העיר 1"),
    ("arad", "ערד", "Arad", "south", "רחוב יהודה 20"),
    ("ofakim", "אופקים", "Ofakim", "south", "רחוב הרצל 14"),
]
POPULATION_GROUPS = [
    {"code": "general", "name": {"he": "כלל הציבור", "en": "General public"}},
    {"code": "new_immigrants", "name": {"he": "עולים חדשים", "en": "New immigrants"}},
    {"code": "arab_society", "name": {"he": "החברה הערבית", "en": "Arab society"}},
    {"code": "haredi", "name": {"he": "החברה החרדית", "en": "Haredi community"}},
    {"code": "disabilities", "name": {"he": "אנשים עם מוגבלות", "en": "People with disabilities"}},
]
FIRST = [("נועה", "Noa"), ("יוסף", "Yosef"), ("מאיה", "Maya"), ("אחמד", "Ahmad"), ("תמר", "Tamar"),
         ("דוד", "David"), ("רים", "Reem"), ("אביגיל", "Avigail"), ("משה", "Moshe"), ("לאה", "Leah"),
         ("עומר", "Omer"), ("סלמא", "Salma"), ("איתי", "Itai"), ("שירה", "Shira"), ("מוחמד", "Mohammad")]
LAST = [("כהן", "Cohen"), ("לוי", "Levi"), ("מזרחי", "Mizrahi"), ("פרץ", "Peretz"), ("ביטון", "Biton"),
        ("חביב", "Habib"), ("אברהם", "Avraham"), ("פרידמן", "Friedman"), ("עזאם", "Azzam"), ("שפירא", "Shapira"),
        ("דהן", "Dahan"), ("אגבאריה", "Aghbaria"), ("גולן", "Golan")]
STAFF = [("manager", BRANCH_MANAGER, "he"), ("staff1", BRANCH_STAFF, "he"), ("staff2", BRANCH_STAFF, "en")]
AGE_WEIGHTS = {"under_18": 1, "18_29": 3, "30_44": 3, "45_64": 3, "65_plus": 2}


@dataclass(frozen=True)
class DemoBranch:
    code: str
    name_he: str
    name_en: str
    region: str
    address: str


def demo_branches(n: int) -> list[DemoBranch]:
    """The first n branches of the demo: the towns in order, then the towns again as second branches, ..."""
    branches = []
    for i in range(n):
        code, he, en, region, street = TOWNS[i % len(TOWNS)]
        round_ = i // len(TOWNS) + 1
        if round_ > 1:
            code, he, en = f"{code}-{round_}", f"{he} – סניף {round_}", f"{en} – branch {round_}"
        branches.append(DemoBranch(code, he, en, region, f"{street}, {TOWNS[i % len(TOWNS)][1]}"))
    return branches


def staff_email(role_slot: str, branch_code: str) -> str:
    return f"{role_slot}.{branch_code}@{DEMO_DOMAIN}"


def staff_name(k: int, lang: str) -> str:
    first, last = FIRST[k % len(FIRST)], LAST[(k * 7 + k // len(FIRST)) % len(LAST)]
    i = 0 if lang == "he" else 1
    return f"{first[i]} {last[i]}"


@dataclass
class Seeded:
    regions: int = 0
    branches: int = 0
    staff: int = 0
    invites: int = 0
    participants: int = 0
    population_groups: bool = False

    @property
    def anything(self) -> bool:
        return any(vars(self).values())

    def __str__(self) -> str:
        return ", ".join([f"{n} {what}" for what, n in vars(self).items() if n and what != "population_groups"]
                         + (["population groups"] if self.population_groups else []))


class _NoBar:
    def update(self, n: int) -> None:
        pass


Bar = Callable[[int, str], ContextManager]  # (total, what) -> a progress bar (tqdm's shape: .update(n))


def _no_bar(total: int, what: str) -> ContextManager:
    return nullcontext(_NoBar())


def seed(d: Directory, actor: Actor, *, branches: int = DEMO_BRANCHES, participants: int = DEMO_PARTICIPANTS,
         bar: Bar = _no_bar, rng: random.Random | None = None) -> Seeded:
    """Make the demo organization at least this big; what exists already is kept as it is."""
    done = Seeded()
    if not population_groups(d):
        set_population_groups(d, actor, POPULATION_GROUPS)
        done.population_groups = True

    region_ids = d.regions.ids_by_code()
    missing_regions = [domain.define_region(c, he, en) for c, he, en in REGIONS if c not in region_ids]
    importer.add_regions(d, missing_regions)
    done.regions = len(missing_regions)
    region_ids = d.regions.ids_by_code()

    wanted = demo_branches(branches)
    existing = d.branches.existing_codes([b.code for b in wanted])
    new = [domain.open_branch(b.code, b.name_he, b.name_en, region_id=region_ids.get(b.region), address=b.address)
           for b in wanted if b.code not in existing]
    if new:
        with bar(len(new), "branches") as progress:
            importer.add_branches(d, actor, new, progress.update)
    done.branches = len(new)
    branch_ids = d.branches.ids_by_code([b.code for b in wanted])

    done.staff = _seed_staff(d, actor, wanted, branch_ids, bar)
    done.invites = _seed_invites(d, actor, [branch_ids[b.code] for b in wanted])

    # Counted in a ledger: counting a million participants means FerretDB reading every one of them.
    missing = participants - d.settings.seeded().get("participants", 0)
    if missing > 0:
        groups = tuple(g["code"] for g in population_groups(d))
        made = _participants(missing, [branch_ids[b.code] for b in wanted], groups, rng or random.Random())
        with bar(missing, "participants") as progress:
            def written(n: int) -> None:
                d.settings.count_seeded(participants=n)
                progress.update(n)

            done.participants = importer.add_people_in_batches(d, actor, ((p, None) for p in made), written)
    return done


def _seed_staff(d: Directory, actor: Actor, wanted: list[DemoBranch], branch_ids: dict[str, str], bar: Bar) -> int:
    """A manager and two staff at every branch, all with the demo password."""
    planned = [(i * len(STAFF) + j, slot, role, lang, b)
               for i, b in enumerate(wanted) for j, (slot, role, lang) in enumerate(STAFF)]
    taken = d.people.claimed_emails([staff_email(slot, b.code) for _, slot, _, _, b in planned])
    people = [domain.register_staff(staff_name(k, lang), staff_email(slot, b.code), lang=lang,
                                    branch_roles={branch_ids[b.code]: {role}})
              for k, slot, role, lang, b in planned if staff_email(slot, b.code) not in taken]
    if people:
        password_hash = services.hasher.hash(DEMO_PASSWORD)  # one hash serves every demo account
        with bar(len(people), "staff") as progress:
            importer.add_people(d, actor, [(p, password_hash) for p in people], progress.update)
    return len(people)


def _seed_invites(d: Directory, actor: Actor, branch_ids: list[str]) -> int:
    """An invite per branch that has none it can still be joined with."""
    have = d.invites.branches_with_usable_invites(domain.now())
    made = 0
    for branch_id in branch_ids:
        if branch_id not in have:
            d.invites.add(domain.new_invite(branch_id, actor.id or "system", days=INVITE_DAYS))
            made += 1
    return made


def _participants(n: int, branch_ids: list[str], groups: tuple[str, ...],
                  rng: random.Random) -> Iterator[domain.Person]:
    """Participants spread over the branches, most of whom shared their age group and population group."""
    ages, weights = list(AGE_WEIGHTS), list(AGE_WEIGHTS.values())
    for _ in range(n):
        yield domain.register_participant(
            rng.choice(branch_ids), lang="he" if rng.random() < 0.85 else "en",
            age_group=rng.choices(ages, weights)[0] if rng.random() < 0.9 else None,
            population_group=rng.choice(groups) if groups and rng.random() < 0.8 else None,
            population_groups=groups)


# --- sign-in details --------------------------------------------------------------------------------------

def credentials(d: Directory, *, admin_email: str, admin_password: str | None, public_url: str) -> str:
    """How to sign in as each role; the admin's password only when it is the local default (a real one is not
    written to disk)."""
    first = demo_branches(1)[0]
    branch_id = d.branches.ids_by_code([first.code]).get(first.code)
    invite = next((i for i in d.invites.for_branches([branch_id], limit=10) if i.usable()), None) \
        if branch_id else None
    join = f"{public_url}/directory/join/{invite.code}  (invite code {invite.code})" if invite else \
        "no usable invite: create one on /directory/admin/invites"
    password = admin_password or "the COCREATE_ADMIN_PASSWORD you set"
    return "\n".join([
        "Cocreate demo organization: how to sign in",
        f"  sign-in page:    {public_url}/directory/signin",
        f"  org admin:       {admin_email} / {password}",
        f"  branch manager:  {staff_email('manager', first.code)} / {DEMO_PASSWORD}  ({first.name_en})",
        f"  branch staff:    {staff_email('staff1', first.code)} / {DEMO_PASSWORD}  ({first.name_en})",
        f"  participant:     join {first.name_en} at {join}",
        f"Every branch has manager.<code>@{DEMO_DOMAIN}, staff1.<code>@ and staff2.<code>@ (password "
        f"{DEMO_PASSWORD}); every branch has an invite (see /directory/admin/invites).",
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm  # the command line's only

    parser = argparse.ArgumentParser(prog="python -m services.directory.seed", description=__doc__)
    parser.add_argument("--demo", action="store_true", required=True, help="create the demo organization")
    parser.add_argument("--branches", type=int, default=DEMO_BRANCHES, help="at least this many branches")
    parser.add_argument("--participants", type=int, default=DEMO_PARTICIPANTS,
                        help="at least this many participants made by the seed in all")
    args = parser.parse_args(argv)
    if args.branches < 1 or args.participants < 0:
        parser.error("--branches is at least 1 and --participants at least 0")

    settings = load_settings(SERVICE)
    db = database_for(settings)
    apply_indexes(db, INDEXES)
    d = Directory.of(db)
    admin_email, admin_password = admin_credentials()
    ensure_admin(d, admin_email, admin_password)
    def bar(total: int, what: str):
        return tqdm(total=total, unit=" " + what, desc=f"seeding {what}", disable=total < 1000)

    done = seed(d, importer.system_actor("demo seed"), branches=args.branches, participants=args.participants,
                bar=bar)
    print(f"seed: added {done}" if done.anything else "seed: the demo organization is complete; nothing added")
    text = credentials(d, admin_email=admin_email,
                       admin_password=admin_password if admin_password == DEFAULT_ADMIN_PASSWORD else None,
                       public_url=settings.public_url)
    path = Path(os.environ.get("COCREATE_VAR_DIR", "var")) / "demo-credentials.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    print(f"{text}(written to {path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
