"""Bulk import of a large organization through the directory's use cases, end to end (read, check, write):
1,000 branches and 10,000 staff rows from CSV, compared with raw insert_many (bench/store.py) of the same run."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from bench.common import RESULTS, bench_settings, drop_bench_databases, write
from services.directory import importer
from services.directory.repository import INDEXES
from services.directory.services import Directory
from shared.mongo import apply_indexes, database_for

REGIONS = [("north", "צפון", "North"), ("center", "מרכז", "Center"), ("south", "דרום", "South")]
BRANCHES = 1_000
STAFF_ROWS = 10_000
SECOND_ROW_EVERY = 10  # every tenth person also works at a second branch: two rows, merged into one person
TARGET_SECONDS = 60


def regions_csv() -> bytes:
    return ("code,name_he,name_en\n" + "".join(f"{c},{he},{en}\n" for c, he, en in REGIONS)).encode()


def branches_csv(n: int = BRANCHES) -> bytes:
    rows = [f"br-{i:04d},סניף {i},Branch {i},{REGIONS[i % len(REGIONS)][0]},\"רחוב הרצל {i % 200 + 1}, עיר {i}\""
            for i in range(n)]
    return ("code,name_he,name_en,region_code,address\n" + "\n".join(rows) + "\n").encode()


def staff_csv(rows: int = STAFF_ROWS, branches: int = BRANCHES) -> bytes:
    lines, person = [], 0
    while len(lines) < rows:
        role = "branch_manager" if person < branches else "branch_staff"  # a manager per branch
        name, email = f"עובד {person}", f"staff{person}@bench.example.org"
        lines.append(f"{name},{email},he,br-{person % branches:04d},{role}")
        if person % SECOND_ROW_EVERY == 0 and len(lines) < rows:
            lines.append(f"{name},{email},he,br-{(person + 1) % branches:04d},branch_staff")
        person += 1
    return ("name,email,lang,branch_code,role\n" + "\n".join(lines) + "\n").encode()


def raw_insert_many_of_this_run() -> float | None:
    """bench/store.py's insert_many rate, if it ran in this process (python -m bench.run store directory_import)."""
    store = RESULTS / "store.json"
    started = Path(f"/proc/{os.getpid()}").stat().st_ctime
    if store.exists() and store.stat().st_mtime >= started:
        return json.loads(store.read_text()).get("insert_many_per_s")
    return None


def main() -> dict:
    db = database_for(bench_settings("directory"))
    apply_indexes(db, INDEXES)
    d, actor = Directory.of(db), importer.system_actor("bench")
    files = {"regions": regions_csv(), "branches": branches_csv(), "staff": staff_csv()}
    timings: dict[str, float] = {}

    def timed(label: str, fn):
        started = time.perf_counter()
        result = fn()
        timings[label] = time.perf_counter() - started
        return result

    started = time.perf_counter()
    timed("regions", lambda: importer.import_regions(d, actor, files["regions"]))
    branches = timed("branches_check", lambda: importer.check_branches(d, actor, files["branches"]))
    timed("branches_write", lambda: importer.add_branches(d, actor, branches))
    people = timed("staff_check", lambda: importer.check_staff(d, actor, files["staff"]))
    timed("staff_write", lambda: importer.add_people(d, actor, [(p, None) for p in people]))
    seconds = time.perf_counter() - started

    rows = BRANCHES + STAFF_ROWS
    stored = {"branches": db["branches"].count_documents({}), "people": db["people"].count_documents({}),
              "email_claims": db["email_claims"].count_documents({}),
              "pending_events": db["branches"].count_documents({"_outbox_pending": True})
              + db["people"].count_documents({"_outbox_pending": True})}
    assert stored["branches"] == BRANCHES and stored["people"] == len(people) == stored["email_claims"], stored
    written = stored["branches"] + stored["people"] + stored["email_claims"]  # each branch and person with its event
    raw = raw_insert_many_of_this_run()
    return write("directory_import", {
        "branches": BRANCHES, "staff_rows": STAFF_ROWS, "people": len(people),
        "csv_bytes": {k: len(v) for k, v in files.items()},
        "seconds": round(seconds, 2), "target_seconds": TARGET_SECONDS, "within_target": seconds < TARGET_SECONDS,
        "rows_per_s": round(rows / seconds), "documents_per_s": round(written / seconds),
        "phase_seconds": {k: round(v, 2) for k, v in timings.items()},
        "documents_written": written, "events_in_outbox": stored["pending_events"],
        "raw_insert_many_per_s": raw,
        "rows_per_s_to_raw_insert_many": round(rows / seconds / raw, 3) if raw else
        "run with bench/store.py: python -m bench.run store directory_import",
    })


if __name__ == "__main__":
    try:
        print(main())
    finally:
        drop_bench_databases()
