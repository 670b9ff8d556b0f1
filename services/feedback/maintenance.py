"""Maintenance: `python -m services.feedback.maintenance rebuild-insights | count-pending | close-due`.

- `rebuild-insights`: counting a response is a mark on the response, then its counter writes; a process killed
  between them leaves figures short (never doubled). This recomputes every insights document from the facts:
  figures and survey results from the counted responses, people counters from their claims, the funnel and
  lead times from the ideas read model, participation from its claims, registered participants from the
  people read model, the themes of the free text from the counted responses' text answers, and the branch
  comparison's counters (then its packs). Responses left
  uncounted are counted first, the normal way. Run it while the feedback
  web and worker are stopped (or quiet): a response counted while it runs may be lost or counted twice.
- `count-pending`: count the responses a crash left uncounted (the worker does it on each feedback.submitted).
- `close-due`: close the open surveys whose closing date has passed (survey.closed); run it from cron.
"""
from __future__ import annotations

import sys
from typing import Any

from pymongo.database import Database
from tqdm import tqdm

from services.feedback import SERVICE, comparison, insights, services
from services.feedback.insights import Segment
from services.feedback.repository import INSIGHTS, PEOPLE, PEOPLE_CLAIMS, theme_key
from services.feedback.services import Feedback
from shared.config import load_settings
from shared.mongo import database_for

KINDS = ("summary", "pair", "cube", "service_cube", "results", "funnel", "lead", "participation", "registered", "branch_figures",
         "branch_funnel", "branch_leads")


def _add(doc: dict, path: str, value: int) -> None:
    *parents, leaf = path.split(".")
    for name in parents:
        doc = doc.setdefault(name, {})
    doc[leaf] = doc.get(leaf, 0) + value


def _doc(found: dict[str, dict], doc_id: str, **fields: Any) -> dict:
    return found.setdefault(doc_id, {"_id": doc_id, **fields})


def rebuild_insights(db: Database, progress: bool = False) -> dict[str, int]:
    """Recompute every insights document from the facts; returns how many documents of each kind it wrote."""
    s = Feedback.of(db)
    while services.count_pending(s):
        pass
    found: dict[str, dict] = {}

    def add_updates(scope: str, month: str, updates) -> None:
        for target, inc in updates.items():
            doc = _doc(found, insights.target_id(scope, month, target), **insights.target_fields(scope, month, target))
            for path, value in inc.items():
                _add(doc, path, value)

    def add_update(update: tuple[str, dict[str, int], dict]) -> None:
        doc_id, inc, on_insert = update
        doc = _doc(found, doc_id, **on_insert)
        for path, value in inc.items():
            _add(doc, path, value)

    themes: dict[str, dict] = {}
    projection = {"segment": 1, "kind": 1, "answers": 1, "survey_id": 1, "uncounted": 1, "person_id": 1,
                  "anonymous": 1}
    for doc in tqdm(s.responses.all(projection), disable=not progress, unit="response"):
        if doc.get("uncounted"):
            continue
        segment = Segment.of(doc["segment"])
        answers = doc.get("answers", [])
        _add_themes(themes, segment, answers, theme_key(doc))
        figures = insights.figure_increments(doc["kind"], [(a["type"], a["value"]) for a in answers])
        for scope in insights.scopes_of(segment):
            add_updates(scope, segment.month, insights.figure_updates(segment, figures))
        if segment.branch_id:
            add_update(comparison.response_update(segment.branch_id, segment.month, figures, None))
        if doc.get("survey_id"):
            results = _doc(found, f"s|{doc['survey_id']}", kind="results", survey_id=doc["survey_id"])
            for path, value in insights.survey_increments([(a["question_id"], a["type"], a["value"]) for a in answers],
                                                          segment.age_group, segment.population_group).items():
                _add(results, path, value)
    claims = db[PEOPLE_CLAIMS].find({}, {"sm": 1, "kind": 1, "a": 1, "p": 1, "pattern": 1}).batch_size(5000)
    for claim in tqdm(claims, disable=not progress, unit="claim"):
        scope, month = claim["sm"].rsplit("|", 1)
        add_updates(scope, month, insights.people_updates(claim["a"], claim["p"], claim["pattern"], claim["kind"]))
        if scope.startswith("br:") and claim["pattern"] == f"{insights.ANY}|{insights.ANY}":
            add_update(comparison.response_update(scope[3:], month, {}, claim["kind"]))
    for idea in s.ideas.all():
        scopes = services._idea_scopes(idea)
        for scope in scopes:
            _add(_doc(found, f"f|{scope}", kind="funnel", scope=scope), idea["status"], 1)
        if idea.get("branch_id"):
            add_update(comparison.funnel_update(idea["branch_id"], {idea["status"]: 1}))
        leads = [("first_response", idea.get("submitted_at"), idea.get("first_response_at")),
                 ("planned", None if idea.get("adopted_from") else idea.get("submitted_at"), idea.get("planned_at")),
                 ("implemented", idea.get("planned_at"), idea.get("implemented_at"))]
        for name, start, end in leads:
            days = services._days(start, end) if start and end else None
            if days is None:
                continue
            month = end.strftime("%Y%m")
            for scope in scopes:
                _add(_doc(found, f"l|{scope}|{month}", kind="lead", scope=scope, month=month), f"{name}.d{days}", 1)
            if idea.get("branch_id"):
                add_update(comparison.lead_update(idea["branch_id"], month, name, days))
    for claim in s.participation.all():
        scope, month = claim["sm"].rsplit("|", 1)
        _add(_doc(found, f"p|{claim['sm']}", kind="participation", scope=scope, month=month), claim["activity"], 1)
    for person in db[PEOPLE].find({}, {"kind": 1, "home_branch": 1, "active": 1, "erased": 1}).batch_size(5000):
        branch_id = services._registered_at(person)
        if branch_id:
            region = (db["branches"].find_one({"_id": branch_id}, {"region_id": 1}) or {}).get("region_id")
            for scope in [f"br:{branch_id}"] + ([f"rg:{region}"] if region else []) + ["org"]:
                _add(_doc(found, f"r|{scope}", kind="registered", scope=scope), "participants", 1)
    collection = db[INSIGHTS]
    for kind in KINDS:
        collection.delete_many({"kind": kind})
    docs = list(found.values())
    for start in range(0, len(docs), 500):
        collection.insert_many(docs[start:start + 500], ordered=False)
    s.insights.themes.replace_all(list(themes.values()))
    s.insights.comparison.drop_packs()
    services.pack_comparison(s)
    return dict({kind: sum(1 for d in docs if d["kind"] == kind) for kind in KINDS}, themes=len(themes))


def _add_themes(themes: dict[str, dict], segment: Segment, answers: list[dict], key: str) -> None:
    """What counting a response adds to the theme documents (repository.Themes.add), in memory."""
    terms = insights.theme_terms(answers)
    for scope in insights.scopes_of(segment) if terms else ():
        for group in insights.theme_groups(segment):
            for term in terms:
                doc_id = insights.theme_id(scope, segment.month, group, term)
                doc = themes.setdefault(doc_id, {"_id": doc_id, **insights.theme_fields(
                    scope, segment.month, group, term), "n": 0, "k": []})
                doc["n"] += 1
                if len(doc["k"]) < insights.THRESHOLD and key not in doc["k"]:
                    doc["k"].append(key)


def main(argv: list[str]) -> None:
    db = database_for(load_settings(SERVICE))
    if argv[:1] == ["rebuild-insights"]:
        written = rebuild_insights(db, progress=True)
        print("rebuilt: " + ", ".join(f"{n} {kind}" for kind, n in written.items()))
    elif argv[:1] == ["count-pending"]:
        s, total = Feedback.of(db), 0
        while counted := services.count_pending(s):
            total += counted
        print(f"{total} response(s) counted")
    elif argv[:1] == ["close-due"]:
        print(f"{services.close_due(Feedback.of(db))} survey(s) closed")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
