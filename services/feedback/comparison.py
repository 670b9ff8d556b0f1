"""Comparing branches: the organization's dashboard puts every branch side by side (satisfaction, NPS, quick
ratings, outcome answers, the idea funnel and lead times) over the months asked.

A scope's own documents (insights.py) cannot do it: a thousand branches would be a thousand summaries a month.
And one document of every branch a month is too wide for FerretDB, which converts each value on every read and
rewrites the whole document on every update (measured, 1,000 branches x 15 counters: 185 ms a read, 236 ms an
$inc). So there are two layers:
- live counters, spread by a stable hash of the branch over CHUNKS small documents: `bc|<month>|<chunk>`
  (figures and people per kind, `b.<branch>.<counter>`), `bl|<month>|<chunk>` (lead time distributions,
  `b.<branch>.<lead>.d<days>`) and `bf|<chunk>` (the funnel now, `b.<branch>.<status>`). Counting a response,
  moving an idea or recording a lead time adds one $inc to one of them;
- packs, one document a month (`bp|<month>`), one of the branches and their funnel now (`bp|now`: a view
  reads no branch documents) and one per period the pages
  offer (`bp|last|<3, 6, 12 or 24>`: its months combined), each holding every branch's counters as one JSON
  string (one value to convert: ~15 ms for 1,000 branches). The worker packs the current month once a minute
  (closed months once: they no longer change) and combines the periods, so the comparison is at most a minute
  behind; a view of a period reads one pack, of other months one pack a month (closed months from the
  process's cache), and a process keeps the rows it worked out for ROWS_SECONDS.

Plain functions here; the repository class at the end reads and writes the store.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Iterable, Mapping

from pymongo.collection import Collection

from services.feedback import insights
from services.feedback.domain import now
from shared.readmodels import BRANCHES

CHUNKS = 32
ROWS_SECONDS = 15  # a process answers the same comparison from memory this long
PACK_KIND, NOW_PACK = "branch_pack", "bp|now"


def chunk(branch_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(branch_id.encode(), digest_size=4).digest(), "big") % CHUNKS


def chunk_id(kind: str, number: int, month: str | None = None) -> str:
    """`bc|<month>|<chunk>` (figures), `bl|<month>|<chunk>` (lead times) or `bf|<chunk>` (the funnel)."""
    return f"{kind}|{month}|{number:02d}" if month else f"{kind}|{number:02d}"


def figures_id(month: str, branch_id: str) -> str:
    return chunk_id("bc", chunk(branch_id), month)


def leads_id(month: str, branch_id: str) -> str:
    return chunk_id("bl", chunk(branch_id), month)


def funnel_id(branch_id: str) -> str:
    return chunk_id("bf", chunk(branch_id))


def pack_id(month: str) -> str:
    return f"bp|{month}"


# --- what a change adds (document id, $inc, fields set when the document is created) ---------------------

def response_update(branch_id: str, month: str, figures: Mapping[str, int], new_person_kind: str | None
                    ) -> tuple[str, dict[str, int], dict]:
    """A response's figures at its branch, and one more person of its kind when it is the person's first of
    the month at that branch."""
    inc = {f"b.{branch_id}.{name}": value for name, value in figures.items()}
    if new_person_kind:
        inc[f"b.{branch_id}.p_{new_person_kind}"] = 1
    return figures_id(month, branch_id), inc, {"kind": "branch_figures", "month": month}


def funnel_update(branch_id: str, moves: Mapping[str, int]) -> tuple[str, dict[str, int], dict]:
    return (funnel_id(branch_id), {f"b.{branch_id}.{status}": n for status, n in moves.items()},
            {"kind": "branch_funnel"})


def lead_update(branch_id: str, month: str, name: str, days: int) -> tuple[str, dict[str, int], dict]:
    return leads_id(month, branch_id), {f"b.{branch_id}.{name}.d{days}": 1}, {"kind": "branch_leads",
                                                                               "month": month}


# --- packs into rows -------------------------------------------------------------------------------------

def merged(docs: Iterable[Mapping | None]) -> dict[str, dict]:
    """The per-branch maps of a month's chunk documents, as one map (a branch lives in one chunk)."""
    found: dict[str, dict] = {}
    for doc in docs:
        found.update((doc or {}).get("b") or {})
    return found


def combine(packs: Iterable[Mapping]) -> dict:
    """Months' packs as one: figures summed, people per kind the largest month (as in every view: people are
    distinct within a month), lead time distributions added."""
    figures: dict[str, dict[str, int]] = {}
    leads: dict[str, dict[str, dict[str, int]]] = {}
    for pack in packs:
        for branch_id, counters in pack.get("f", {}).items():
            into = figures.setdefault(branch_id, {})
            for name, value in counters.items():
                if name.startswith("p_"):
                    into[name] = max(into.get(name, 0), value)
                else:
                    into[name] = into.get(name, 0) + value
        for branch_id, by_lead in pack.get("l", {}).items():
            into_lead = leads.setdefault(branch_id, {})
            for name, histogram in by_lead.items():
                into_hist = into_lead.setdefault(name, {})
                for bucket, n in histogram.items():
                    into_hist[bucket] = into_hist.get(bucket, 0) + n
    return {"f": figures, "l": leads}


def _rating(counters: Mapping[str, int], prefix: str) -> tuple[int, float | None, float | None]:
    """Answers, average and the share of 4 and 5 of 1-5 answers kept as `<prefix>1..5`."""
    dist = [max(0, counters.get(f"{prefix}{v}", 0)) for v in range(1, 6)]
    answers = sum(dist)
    if not answers:
        return 0, None, None
    return (answers, round(sum((v + 1) * n for v, n in enumerate(dist)) / answers, 2),
            round((dist[3] + dist[4]) / answers, 4))


def section(kind: str, counters: Mapping[str, int]) -> dict:
    """The figures of one kind of feedback a comparison shows (no distributions: a thousand rows stay small),
    or only `suppressed` when 1 to 4 people stand behind them."""
    people = max(0, counters.get(f"p_{kind}", 0))
    if 0 < people < insights.THRESHOLD:
        return {"suppressed": True}
    if kind == insights.SURVEY:
        answers, average, satisfied = _rating(counters, "c")
        return {"suppressed": False, "people": people, "responses": max(0, counters.get("n", 0)),
                "csat": {"answers": answers, "average": average, "satisfied_share": satisfied},
                "nps": insights.nps_figures(counters)}
    answers, average, share = _rating(counters, "q" if kind == insights.QUICK else "o")
    found = {"suppressed": False, "people": people, "answers": answers, "average": average}
    found["positive_share" if kind == insights.OUTCOME else "satisfied_share"] = share
    return found


def branch_row(branch: Mapping, pack: Mapping, funnel: Mapping[str, int]) -> dict:
    """One branch over the months of a combined pack; each kind of feedback hidden where 1 to 4 people stand
    behind it."""
    counters = pack.get("f", {}).get(branch["_id"]) or {}
    if "lf" in pack:  # a period's pack: the lead figures were worked out when it was combined
        lead_times = pack["lf"].get(branch["_id"]) or NO_LEAD_TIMES
    else:
        lead_times = lead_times_of(pack.get("l", {}).get(branch["_id"]) or {})
    return {"branch_id": branch["_id"], "name": branch.get("name"), "region_id": branch.get("region_id"),
            "surveys": section(insights.SURVEY, counters), "quick": section(insights.QUICK, counters),
            "outcomes": section(insights.OUTCOME, counters),
            "funnel": {status: max(0, funnel.get(status, 0)) for status in insights.IDEA_STATUSES},
            "lead_times": lead_times}


def lead_times_of(histograms: Mapping[str, Mapping[str, int]]) -> dict:
    return {name: insights.lead_figures(histograms.get(name) or {}) for name in insights.LEAD_TIMES}


NO_LEAD_TIMES = lead_times_of({})


def with_lead_figures(pack: dict) -> dict:
    """A combined pack whose lead time distributions are replaced by their figures (median, 90th percentile)."""
    return {"f": pack["f"], "lf": {branch_id: lead_times_of(h) for branch_id, h in pack["l"].items()}}


def _name(row: Mapping, lang: str) -> str:
    names = row["name"] or {}
    return (names.get(lang) or names.get("en") or names.get("he") or row["branch_id"]).casefold()


def _csat(row: Mapping) -> float:
    return (row["surveys"].get("csat") or {}).get("average") or -1


def _nps(row: Mapping) -> float:
    score = (row["surveys"].get("nps") or {}).get("score")
    return -101 if score is None else score


def _lead(row: Mapping) -> float:
    days = row["lead_times"]["implemented"]["median_days"]
    return 10**6 if days is None else days


SORTS = {  # the column, and whether more is better
    "name": (None, False),
    "responses": (lambda r: r["surveys"].get("responses", -1), True),
    "csat": (_csat, True),
    "nps": (_nps, True),
    "quick": (lambda r: r["quick"].get("average") or -1, True),
    "implemented": (lambda r: r["funnel"]["implemented"], True),
    "lead_time": (_lead, False),
}


def sorted_rows(rows: list[dict], sort: str, lang: str = "en") -> list[dict]:
    """Rows by a column, best first (the lead time shortest first; a hidden or empty figure last), and by name
    (in `lang`) among equals."""
    rows = sorted(rows, key=lambda r: _name(r, lang))
    key, more_is_better = SORTS[sort]
    return rows if key is None else sorted(rows, key=key, reverse=more_is_better)


# --- the store ---------------------------------------------------------------------------------------------

PERIODS = (3, 6, 12, 24)  # months back from this one: the periods the pages offer, kept pre-combined


def period_id(period: int) -> str:
    return f"bp|last|{period}"


class BranchComparison:
    """The live chunk documents, the months' packs and the periods' combined packs, in the insights collection."""

    def __init__(self, collection: Collection, cache=None):
        self.collection = collection
        self.cache = cache

    def _store(self, doc_id: str, pack: Mapping, at: datetime, **fields) -> None:
        self.collection.replace_one({"_id": doc_id}, {"kind": PACK_KIND, "packed_at": at.isoformat(), **fields,
                                                      "json": json.dumps(pack, separators=(",", ":"))}, upsert=True)

    def _merged(self, kind: str, month: str | None = None) -> dict[str, dict]:
        """Every chunk document of a kind (and month), read by `_id`, as one per-branch map."""
        return merged(self.collection.find_one({"_id": chunk_id(kind, number, month)}) for number in range(CHUNKS))

    def pack(self, month: str, at: datetime) -> dict:
        """Read a month's chunk documents (2 x CHUNKS reads by `_id`) and store them as its pack."""
        figures = self._merged("bc", month)
        leads = self._merged("bl", month)
        pack = {"f": figures, "l": leads}
        self._store(pack_id(month), pack, at, month=month)
        return pack

    def pack_now(self, at: datetime) -> dict:
        """Pack what is compared as it is now: every branch feedback knows (id, name, region: one read of the
        branches) and the funnel of each."""
        funnel = self._merged("bf")
        branches = [{"_id": b["_id"], "name": b.get("name"), "region_id": b.get("region_id")}
                    for b in self.collection.database[BRANCHES].find({}, {"name": 1, "region_id": 1})]
        now = {"funnel": funnel, "branches": branches}
        self._store(NOW_PACK, now, at, month=None)
        return now

    def pack_period(self, period: int, packs: Mapping[str, Mapping], months: list[str], at: datetime) -> None:
        """Store the months' packs combined, for the views of the last `period` months."""
        self._store(period_id(period), with_lead_figures(combine(packs[m] for m in months)), at, month=None,
                    months=months)

    def packed_months(self) -> set[str]:
        return {d["month"] for d in self.collection.find({"kind": PACK_KIND}, {"month": 1}) if d.get("month")}

    def month_pack(self, month: str, at: datetime) -> tuple[dict, str]:
        """A month's pack and when it was packed (closed months' from the process's cache; a month never
        packed is packed now)."""
        cacheable = self.cache is not None and self.cache.usable_for(month, at)
        hit, found = self.cache.get(pack_id(month)) if cacheable else (False, None)
        if not hit:
            doc = self.collection.find_one({"_id": pack_id(month)})
            found = (json.loads(doc["json"]), doc["packed_at"]) if doc else (self.pack(month, at), at.isoformat())
            if cacheable:
                self.cache.put(pack_id(month), found)
        return found

    def read(self, months: list[str], at: datetime) -> tuple[dict, str | None, dict]:
        """The months' figures combined (a period's stored combination when the months are one of PERIODS and
        it is up to date, else the months' packs combined here), when they were packed, and the branches with
        their funnel now."""
        doc = None
        if len(months) in PERIODS:
            doc = self.collection.find_one({"_id": period_id(len(months))})
        if doc is not None and doc.get("months") == months:
            pack, as_of = json.loads(doc["json"]), doc["packed_at"]
        else:
            found = [self.month_pack(month, at) for month in months]
            pack, as_of = combine(p for p, _ in found), min((t for _, t in found), default=None)
        doc = self.collection.find_one({"_id": NOW_PACK})
        return pack, as_of, json.loads(doc["json"]) if doc else self.pack_now(at)

    def rows(self, months: list[str], region_id: str | None, at: datetime) -> tuple[str | None, list[dict] | None]:
        """When the figures were packed, and a row per branch (of the region; None when no branch is in it),
        unsorted; kept ROWS_SECONDS in the process, as the packs change once a minute."""
        key = f"rows|{','.join(months)}|{region_id}"
        hit, found = self.cache.get(key, max_age=ROWS_SECONDS) if self.cache is not None else (False, None)
        if hit:
            return found
        pack, as_of, current = self.read(months, at)
        branches = [b for b in current["branches"] if region_id is None or b.get("region_id") == region_id]
        found = as_of, ([branch_row(b, pack, current["funnel"].get(b["_id"]) or {}) for b in branches]
                        if branches else None)
        if self.cache is not None:
            self.cache.put(key, found)
        return found

    def branches(self) -> list[dict]:
        """Every branch compared (id, name, region), as last packed."""
        doc = self.collection.find_one({"_id": NOW_PACK})
        return (json.loads(doc["json"]) if doc else self.pack_now(now()))["branches"]

    def drop_packs(self) -> None:
        self.collection.delete_many({"kind": PACK_KIND})
