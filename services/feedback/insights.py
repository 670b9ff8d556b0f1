"""The insights model: what one response adds to which counters, and how counters become figures (CSAT, NPS,
medians and percentiles from kept distributions) with the privacy threshold applied. Plain functions, no I/O:
the repository stores the counters, the use cases read them through here.

Per scope (`br:<id>`, `rg:<id>` or `org`) and month (YYYYMM), three kinds of small documents (FerretDB reads
and rewrites a whole document for every query and update, at some 10-50 µs per value: docs/store-backend.md):
- the summary `m|<scope>|<month>`: figures and distinct people in total (`t.all`) and for each value of each
  dimension: age group `a`, population group `p`, channel `c`, program `g` (`-`: not given). Totals, trends by
  month, a breakdown by one dimension and a single filter read 12 of these for a year.
  `ap.<age>|<population>` counts responses per combination: it names the cubes that exist.
- the pair tables `x|<scope>|<month>|<pair>|<first value>`, pairs `ap`, `ac`, `ag`, `pc`, `pg`, `cg`: figures and
  people for each value of the pair's second dimension, for one value of its first (two filters, or a filter
  and a breakdown: one or a few tiny documents a month).
- the cubes `c|<scope>|<month>|<age>|<population>`: channel x program for one age and population group, and
  the service cubes `k|<scope>|<month>|<channel>|<program>`: age x population for one channel and program, for
  one channel and every program (`<channel>|*`) and for every channel and one program (`*|<program>`). A view
  of three or four dimensions fixes age and population, or the channel or the program with age or population
  free: it reads one cube or one service cube a month (a breakdown by age or population: the same one).
A response adds to each of them with one $inc (11 per scope). Counters: survey responses `n`, CSAT answers
`c1`..`c5`, NPS `np`/`ns`/`nd` (promoters, passives, detractors); quick ratings `q1`..`q5`; outcome answers
`o1`..`o5`; averages are sums over these distributions. People `pp` are counted per kind of feedback (survey,
quick, outcome) from unique claims; a person's age and population group are frozen per month (at their first
feedback of the month), which makes people exact for any filter within a month (see README, "privacy").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping

from shared.text import display as text_display
from shared.text import keywords as text_keywords
from shared.text import phrases as text_phrases

THRESHOLD = 5  # a cell with fewer distinct people shows no figures and no free text
UNKNOWN, ANY = "-", "*"
SURVEY, QUICK, OUTCOME = "survey", "quick", "outcome"
KINDS = (SURVEY, QUICK, OUTCOME)
DIMENSIONS = ("age_group", "population_group", "channel", "program")
SCOPE_PREFIXES = {"branch": "br", "region": "rg"}
IDEA_STATUSES = ("submitted", "under_review", "planned", "in_progress", "implemented", "declined", "merged")
LEAD_TIMES = ("first_response", "planned", "implemented")


@dataclass(frozen=True)
class Segment:
    """Who answered, as stamped on a response when it was submitted."""

    branch_id: str | None
    region_id: str | None
    age_group: str | None
    population_group: str | None
    channel: str
    program: str | None
    month: str  # YYYYMM (UTC)

    @property
    def cell(self) -> str:
        return cell_key(self.age_group, self.population_group, self.channel, self.program)

    def as_dict(self) -> dict:
        return {"branch_id": self.branch_id, "region_id": self.region_id, "age_group": self.age_group,
                "population_group": self.population_group, "channel": self.channel, "program": self.program,
                "month": self.month}

    @classmethod
    def of(cls, doc: Mapping) -> "Segment":
        return cls(**{k: doc.get(k) for k in ("branch_id", "region_id", "age_group", "population_group",
                                              "channel", "program", "month")})


def part(value: str | None) -> str:
    return value if value else UNKNOWN


def cell_key(age: str | None, population: str | None, channel: str, program: str | None) -> str:
    return "|".join((part(age), part(population), channel, part(program)))


def scopes_of(segment: Segment) -> list[str]:
    """The scopes a response counts in: its branch, the branch's region and the organization."""
    found = []
    if segment.branch_id:
        found.append(f"br:{segment.branch_id}")
    if segment.region_id:
        found.append(f"rg:{segment.region_id}")
    return found + ["org"]


def scope_key(kind: str, ident: str | None = None) -> str:
    """`branch`/`region` and an id, or `org`, as stored."""
    return "org" if kind == "org" else f"{SCOPE_PREFIXES[kind]}:{ident}"


DIMENSION_CODES = {"age_group": "a", "population_group": "p", "channel": "c", "program": "g"}
PAIRS = ("ap", "ac", "ag", "pc", "pg", "cg")  # every two dimensions, in the order of DIMENSIONS
SUMMARY, PAIR, CUBE, SERVICE_CUBE = "summary", "pair", "cube", "service_cube"


def summary_id(scope: str, month: str) -> str:
    return f"m|{scope}|{month}"


def pair_id(scope: str, month: str, pair: str, first: str) -> str:
    return f"x|{scope}|{month}|{pair}|{first}"


def cube_id(scope: str, month: str, age: str | None, population: str | None) -> str:
    return f"c|{scope}|{month}|{part(age)}|{part(population)}"


def service_cube_id(scope: str, month: str, channel: str, program: str) -> str:
    return f"k|{scope}|{month}|{channel}|{program}"


def target_id(scope: str, month: str, target: tuple) -> str:
    """The document of a scope and month that an update target names: (SUMMARY,), (PAIR, code, first value),
    (CUBE, age, population), (SERVICE_CUBE, channel, program)."""
    if target[0] == SUMMARY:
        return summary_id(scope, month)
    if target[0] == PAIR:
        return pair_id(scope, month, target[1], target[2])
    if target[0] == SERVICE_CUBE:
        return service_cube_id(scope, month, target[1], target[2])
    return cube_id(scope, month, target[1], target[2])


def target_fields(scope: str, month: str, target: tuple) -> dict:
    """What a document holds beside its counters (set when an update creates it)."""
    fields = {"kind": target[0], "scope": scope, "month": month}
    if target[0] == PAIR:
        fields.update(pair=target[1], first=target[2])
    elif target[0] == CUBE:
        fields.update(a=target[1], p=target[2])
    elif target[0] == SERVICE_CUBE:
        fields.update(c=target[1], g=target[2])
    return fields


def people_patterns(segment: Segment) -> list[str]:
    """The four people patterns a response belongs to, `channel-or-*|program-or-*`. Age and population are the
    person's (one per month), so the people of a pattern are disjoint across ages and populations."""
    c, g = segment.channel, part(segment.program)
    return [f"{cc}|{gg}" for cc in (c, ANY) for gg in (g, ANY)]


def _values(segment: Segment) -> dict[str, str]:
    return {"a": part(segment.age_group), "p": part(segment.population_group), "c": segment.channel,
            "g": part(segment.program)}


def figure_updates(segment: Segment, figures: Mapping[str, int]) -> dict[tuple, dict[str, int]]:
    """The $inc of each document of a scope and month for a response's figures: the summary (in total and per
    single value), each pair table, and the cube of the response's age and population group."""
    v = _values(segment)
    summary = {f"f.{dim}.{value}.{name}": inc for dim, value in (("t", "all"), *v.items())
               for name, inc in figures.items()}
    summary[f"ap.{v['a']}|{v['p']}"] = 1
    updates: dict[tuple, dict[str, int]] = {(SUMMARY,): summary}
    for pair in PAIRS:
        updates[(PAIR, pair, v[pair[0]])] = {f"f.{v[pair[1]]}.{name}": inc for name, inc in figures.items()}
    updates[(CUBE, v["a"], v["p"])] = {f"f.{v['c']}|{v['g']}.{name}": inc for name, inc in figures.items()}
    for c, g in ((v["c"], v["g"]), (v["c"], ANY), (ANY, v["g"])):
        updates[(SERVICE_CUBE, c, g)] = {f"f.{v['a']}|{v['p']}.{name}": inc for name, inc in figures.items()}
    return updates


def people_updates(age: str | None, population: str | None, pattern: str, kind: str) -> dict[tuple, dict[str, int]]:
    """The $inc of each document for one person newly seen in a people pattern of a scope and month."""
    a, p = part(age), part(population)
    c, g = pattern.split("|")
    updates: dict[tuple, dict[str, int]] = {(CUBE, a, p): {f"pp.{pattern}.{kind}": 1}}
    if c == ANY and g == ANY:
        updates[(SUMMARY,)] = {f"pp.t.all.{kind}": 1, f"pp.a.{a}.{kind}": 1, f"pp.p.{p}.{kind}": 1}
        updates[(PAIR, "ap", a)] = {f"pp.{p}.{kind}": 1}
    elif g == ANY:
        updates[(SUMMARY,)] = {f"pp.c.{c}.{kind}": 1}
        updates[(PAIR, "ac", a)] = {f"pp.{c}.{kind}": 1}
        updates[(PAIR, "pc", p)] = {f"pp.{c}.{kind}": 1}
    elif c == ANY:
        updates[(SUMMARY,)] = {f"pp.g.{g}.{kind}": 1}
        updates[(PAIR, "ag", a)] = {f"pp.{g}.{kind}": 1}
        updates[(PAIR, "pg", p)] = {f"pp.{g}.{kind}": 1}
    else:
        updates[(PAIR, "cg", c)] = {f"pp.{g}.{kind}": 1}
    if c != ANY or g != ANY:
        updates[(SERVICE_CUBE, c, g)] = {f"pp.{a}|{p}.{kind}": 1}
    return updates


def merge(into: dict[str, int], more: Mapping[str, int]) -> dict[str, int]:
    for name, value in more.items():
        into[name] = into.get(name, 0) + value
    return into


def merge_updates(into: dict[tuple, dict[str, int]], more: Mapping[tuple, Mapping[str, int]]) -> None:
    for target, inc in more.items():
        merge(into.setdefault(target, {}), inc)


# --- what a response adds --------------------------------------------------------------------------------

def nps_band(value: int) -> str:
    return "np" if value >= 9 else "ns" if value >= 7 else "nd"


def figure_increments(kind: str, answers: Iterable[tuple[str, object]]) -> dict[str, int]:
    """The counters one response adds to its cell: `answers` are (question type, value) pairs."""
    inc: dict[str, int] = {}

    def add(name: str) -> None:
        inc[name] = inc.get(name, 0) + 1

    if kind == SURVEY:
        add("n")
    for qtype, value in answers:
        if qtype == "csat":
            add({SURVEY: "c", QUICK: "q", OUTCOME: "o"}[kind] + str(value))
        elif qtype == "nps" and kind == SURVEY:
            add(nps_band(int(value)))
    return inc


def survey_increments(answers: Iterable[tuple[str, str, object]], age: str | None,
                      population: str | None) -> dict[str, int]:
    """What a response adds to its survey's results document: per question, and CSAT by age and population."""
    inc: dict[str, int] = {"n": 1}
    by = f"by.{part(age)}|{part(population)}"
    inc[f"{by}.n"] = 1

    def add(name: str) -> None:
        inc[name] = inc.get(name, 0) + 1

    for qid, qtype, value in answers:
        add(f"q.{qid}.n")
        if qtype in ("csat", "nps", "single"):
            add(f"q.{qid}.v{value}")
        elif qtype == "multiple":
            for option in value:
                add(f"q.{qid}.v{option}")
        if qtype == "csat":
            add(f"{by}.c{value}")
    return inc


# --- counters into figures -------------------------------------------------------------------------------

def percentile(histogram: Mapping[int, int], q: float) -> int | None:
    """The nearest-rank percentile of a distribution kept as counts per value: the smallest value such that at
    least q of all observations are at or below it. None when there are no observations."""
    total = sum(n for n in histogram.values() if n > 0)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value in sorted(histogram):
        seen += max(0, histogram[value])
        if seen >= rank:
            return value
    return max(histogram)


def _distribution(counters: Mapping[str, int], prefix: str, values: Iterable[int]) -> dict[int, int]:
    return {v: max(0, counters.get(f"{prefix}{v}", 0)) for v in values}


def lead_figures(histogram: Mapping[str, int]) -> dict:
    """Ideas, median and 90th percentile (whole days) of a lead time distribution kept as `d<days>` counters."""
    counts = {int(k[1:]): v for k, v in histogram.items() if k.startswith("d") and v > 0}
    return {"ideas": sum(counts.values()), "median_days": percentile(counts, 0.5),
            "p90_days": percentile(counts, 0.9)}


def rating_figures(counters: Mapping[str, int], prefix: str) -> dict:
    """Average, satisfied share (4 or 5), median and distribution of 1-5 answers kept as `<prefix>1..5`."""
    dist = _distribution(counters, prefix, range(1, 6))
    answers = sum(dist.values())
    if not answers:
        return {"answers": 0, "average": None, "satisfied_share": None, "median": None,
                "distribution": {str(k): v for k, v in dist.items()}}
    return {"answers": answers, "average": round(sum(k * v for k, v in dist.items()) / answers, 2),
            "satisfied_share": round((dist[4] + dist[5]) / answers, 4), "median": percentile(dist, 0.5),
            "distribution": {str(k): v for k, v in dist.items()}}


def nps_figures(counters: Mapping[str, int]) -> dict:
    promoters, passives, detractors = (max(0, counters.get(k, 0)) for k in ("np", "ns", "nd"))
    answers = promoters + passives + detractors
    score = round(100 * (promoters - detractors) / answers, 1) if answers else None
    return {"answers": answers, "score": score, "promoters": promoters, "passives": passives,
            "detractors": detractors}


def section(kind: str, counters: Mapping[str, int], people: int) -> dict:
    """The figures of one kind of feedback in one cell, or only `suppressed` when 1 to 4 people stand behind them
    (an empty cell discloses nothing and shows its zeros)."""
    if 0 < people < THRESHOLD:
        return {"suppressed": True}
    people = max(0, people)
    if kind == SURVEY:
        return {"suppressed": False, "people": people, "responses": max(0, counters.get("n", 0)),
                "csat": rating_figures(counters, "c"), "nps": nps_figures(counters)}
    figures = rating_figures(counters, "q" if kind == QUICK else "o")
    if kind == OUTCOME:  # an idea's success: the share of positive answers (4 or 5)
        figures["positive"] = figures["distribution"]["4"] + figures["distribution"]["5"]
        figures["positive_share"] = figures.pop("satisfied_share")
    return dict(figures, suppressed=False, people=people)


# --- reading the cubes -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filter:
    age_group: str | None = None
    population_group: str | None = None
    channel: str | None = None
    program: str | None = None

    def with_(self, dimension: str, value: str) -> "Filter":
        return Filter(**{**self.__dict__, dimension: value})

    @property
    def dimensions(self) -> list[str]:
        return [d for d in DIMENSIONS if getattr(self, d) is not None]

    def matches_cell(self, cell: str) -> bool:
        a, p, c, g = cell.split("|")
        return ((self.age_group is None or a == self.age_group)
                and (self.population_group is None or p == self.population_group)
                and (self.channel is None or c == self.channel)
                and (self.program is None or g == self.program))

    def matches_people(self, key: str) -> bool:
        a, p, c, g = key.split("|")
        return ((self.age_group is None or a == self.age_group)
                and (self.population_group is None or p == self.population_group)
                and c == (self.channel or ANY) and g == (self.program or ANY))


def cell_values(cubes: Iterable[Mapping], dimension: str) -> list[str]:
    """The values a dimension takes in flat cells (for a breakdown)."""
    index = DIMENSIONS.index(dimension)
    return sorted({cell.split("|")[index] for cube in cubes for cell in (cube.get("f") or {})})


def marginal(summaries: list[Mapping], dim: str, value: str) -> dict:
    """The figures of every kind for one value of one dimension (`t`/`all`: everything) over month summaries.
    People are exact within a month; over several months the largest month's count is used (a lower bound)."""
    totals: dict[str, int] = {}
    people = {kind: 0 for kind in KINDS}
    for doc in summaries:
        merge(totals, ((doc.get("f") or {}).get(dim) or {}).get(value) or {})
        month = ((doc.get("pp") or {}).get(dim) or {}).get(value) or {}
        for kind in KINDS:
            people[kind] = max(people[kind], max(0, month.get(kind, 0)))
    return _sections(totals, people)


def _sections(totals: Mapping[str, int], people: Mapping[str, int]) -> dict:
    return {"surveys": section(SURVEY, totals, people[SURVEY]), "quick": section(QUICK, totals, people[QUICK]),
            "outcomes": section(OUTCOME, totals, people[OUTCOME])}


def pair_cell(docs: list[Mapping], second: str) -> dict:
    """The figures of one cell of a pair table (two dimensions fixed) over the month documents of its first
    value; people as in marginal()."""
    totals: dict[str, int] = {}
    people = {kind: 0 for kind in KINDS}
    key = second
    for doc in docs:
        merge(totals, (doc.get("f") or {}).get(key) or {})
        month = (doc.get("pp") or {}).get(key) or {}
        for kind in KINDS:
            people[kind] = max(people[kind], max(0, month.get(kind, 0)))
    return _sections(totals, people)


def pair_of(dimensions: Iterable[str]) -> str:
    """The pair table of two dimensions (names as in DIMENSIONS)."""
    codes = "".join(DIMENSION_CODES[d] for d in DIMENSIONS if d in set(dimensions))
    assert codes in PAIRS, codes
    return codes


def marginal_values(summaries: list[Mapping], dim: str) -> list[str]:
    return sorted({value for doc in summaries for value in ((doc.get("f") or {}).get(dim) or {})})


def combinations(summaries: list[Mapping], flt: "Filter") -> set[tuple[str, str]]:
    """The (age, population) cubes that exist in the months and match the filter."""
    found = set()
    for doc in summaries:
        for key in doc.get("ap") or {}:
            a, p = key.split("|")
            if (flt.age_group is None or a == flt.age_group) and (
                    flt.population_group is None or p == flt.population_group):
                found.add((a, p))
    return found


def flat_months(cubes: Iterable[Mapping]) -> list[dict]:
    """The cubes (or service cubes) of each month as one document keyed `age|population|channel|program`, for
    summarize()."""
    months: dict[str, dict] = {}
    for cube in cubes:
        doc = months.setdefault(cube["month"], {"month": cube["month"], "f": {}, "pp": {}})
        if cube.get("kind") == SERVICE_CUBE:
            key_of = f"{{}}|{cube['c']}|{cube['g']}".format
        else:
            key_of = f"{cube['a']}|{cube['p']}|{{}}".format
        for key, counters in (cube.get("f") or {}).items():
            doc["f"][key_of(key)] = counters
        for key, kinds in (cube.get("pp") or {}).items():
            doc["pp"][key_of(key)] = kinds
    return [months[m] for m in sorted(months)]


def summarize(cubes: list[Mapping], flt: Filter) -> dict:
    """The figures of every kind for the filter over month documents of flat cells (flat_months()). Figures are
    sums over the matching cells. People are exact within a month (the frozen age and population make the pattern counts disjoint);
    over several months the same person may recur, so the largest month's count is used: a lower bound, so
    the threshold errs on the side of hiding."""
    totals: dict[str, int] = {}
    people = {kind: 0 for kind in KINDS}
    for cube in cubes:
        for cell, counters in (cube.get("f") or {}).items():
            if flt.matches_cell(cell):
                merge(totals, counters)
        month = {kind: 0 for kind in KINDS}
        for key, by_kind in (cube.get("pp") or {}).items():
            if flt.matches_people(key):
                for kind in KINDS:
                    month[kind] += max(0, by_kind.get(kind, 0))
        for kind in KINDS:
            people[kind] = max(people[kind], month[kind])
    return _sections(totals, people)


def suppress_complements(rows: list[dict], sections: Iterable[str]) -> None:
    """Secondary suppression in a breakdown: when exactly one row of a section is hidden while the others and
    the total are shown, the hidden row could be computed by subtraction; hide the smallest shown row too."""
    for name in sections:
        present = [r for r in rows if name in r]
        hidden = [r for r in present if r[name].get("suppressed")]
        shown = [r for r in present if not r[name].get("suppressed") and r[name].get("people", 0) > 0]
        if len(hidden) == 1 and shown:
            smallest = min(shown, key=lambda r: r[name].get("people", 0))
            smallest[name] = {"suppressed": True}


def results_figures(doc: Mapping | None, questions: list[Mapping]) -> dict:
    """A survey's results (one response per person, so responses are distinct people) under the threshold."""
    doc = doc or {}
    n = max(0, doc.get("n", 0))
    if 0 < n < THRESHOLD:
        return {"responses": None, "suppressed": True, "questions": []}
    out = []
    q = doc.get("q") or {}
    for question in questions:
        counters = q.get(question["id"]) or {}
        entry: dict = {"question_id": question["id"], "type": question["type"], "answers": counters.get("n", 0)}
        if question["type"] == "csat":
            entry.update(rating_figures(counters, "v"))
        elif question["type"] == "nps":
            dist = {v: max(0, counters.get(f"v{v}", 0)) for v in range(11)}
            bands = {"np": dist[9] + dist[10], "ns": dist[7] + dist[8], "nd": sum(dist[v] for v in range(7))}
            entry.update(nps_figures(bands), distribution={str(k): v for k, v in dist.items()})
        elif question["type"] in ("single", "multiple"):
            entry["options"] = {o["id"]: max(0, counters.get(f"v{o['id']}", 0)) for o in question.get("options", [])}
        out.append(entry)
    return {"responses": n, "suppressed": False, "questions": out}


def outcome_by(doc: Mapping | None, dimension: str) -> list[dict]:
    """Rows of an outcome survey's CSAT by age group or population group, each under the threshold."""
    index = 0 if dimension == "age_group" else 1
    groups: dict[str, dict[str, int]] = {}
    for key, counters in ((doc or {}).get("by") or {}).items():
        group = groups.setdefault(key.split("|")[index], {})
        for name, value in counters.items():
            group[name] = group.get(name, 0) + value
    rows = []
    for value, counters in sorted(groups.items()):
        row = {dimension: None if value == UNKNOWN else value,
               "outcomes": section(OUTCOME, {f"o{k[1:]}": v for k, v in counters.items() if k.startswith("c")},
                                   counters.get("n", 0))}
        rows.append(row)
    suppress_complements(rows, ["outcomes"])
    return rows


# --- themes from free text ---------------------------------------------------------------------------------
# Per scope, month and group (`*` everyone, `a:<age group>`, `p:<population group>`) and term (a keyword or a
# two-word phrase of shared/text.py), one small document `t|<scope>|<month>|<group>|<term>` in `themes`: `n`
# responses that raised it and `k`, the hashed keys of the first 5 distinct people (a capped set: enough to
# know "5 or more"). Read by the indexed equality `tl` (`<scope>|<month>|<group>`).

MAX_TERMS = 8  # keywords and phrases a response adds (the first, in the order written): bounds its writes
ALL = "*"


def theme_terms(answers: Iterable[Mapping]) -> list[str]:
    """The terms a response raises: the keywords of its text answers, then their two-word phrases, distinct,
    at most MAX_TERMS (keywords first)."""
    texts = [a["value"] for a in answers if a.get("type") == "text" and isinstance(a.get("value"), str)]
    found: dict[str, None] = {}
    for text in texts:
        found.update(dict.fromkeys(text_keywords(text)))
    for text in texts:
        found.update(dict.fromkeys(text_phrases(text)))
    return list(found)[:MAX_TERMS]


def theme_groups(segment: Segment) -> list[str]:
    return [ALL, f"a:{part(segment.age_group)}", f"p:{part(segment.population_group)}"]


def theme_group(age_group: str | None, population_group: str | None) -> str:
    """The group a themes view reads: everyone, one age group or one population group (`-`: not given)."""
    if age_group is not None:
        return f"a:{age_group}"
    if population_group is not None:
        return f"p:{population_group}"
    return ALL


def theme_list(scope: str, month: str, group: str) -> str:
    return f"{scope}|{month}|{group}"


def theme_id(scope: str, month: str, group: str, term: str) -> str:
    return f"t|{theme_list(scope, month, group)}|{term}"


def theme_fields(scope: str, month: str, group: str, term: str) -> dict:
    return {"tl": theme_list(scope, month, group), "scope": scope, "month": month, "g": group, "term": term}


def themes_view(docs_by_month: Mapping[str, list[Mapping]], months: list[str], limit: int) -> list[dict]:
    """The top themes over months, each with its responses and a per-month trend. A theme is shown only when 5
    or more distinct people raised it (the union of the months' capped sets: exact up to 5, as each month's set
    is complete until it is full); a month of the trend only when 5 or more did that month (else `suppressed`;
    and never exactly one hidden month, which the total would reveal)."""
    terms: dict[str, dict] = {}
    for month in months:
        for doc in docs_by_month.get(month, ()):
            entry = terms.setdefault(doc["term"], {"n": 0, "people": set(), "months": {}})
            n, keys = max(0, doc.get("n", 0)), set(doc.get("k") or ())
            entry["n"] += n
            entry["people"].update(keys)
            entry["months"][month] = (n, len(keys))
    shown = [(term, e) for term, e in terms.items() if len(e["people"]) >= THRESHOLD and e["n"] > 0]
    shown.sort(key=lambda te: (-te[1]["n"], te[0]))
    out = []
    for term, entry in shown[:limit]:
        trend = []
        for month in months:
            n, people = entry["months"].get(month, (0, 0))
            trend.append({"month": month, "suppressed": True} if 0 < people < THRESHOLD
                         else {"month": month, "suppressed": False, "responses": n})
        hidden = [c for c in trend if c["suppressed"]]
        visible = [c for c in trend if not c["suppressed"] and c["responses"]]
        if len(hidden) == 1 and visible:
            smallest = min(visible, key=lambda c: (c["responses"], c["month"]))
            smallest.pop("responses")
            smallest["suppressed"] = True
        out.append({"term": term, "label": text_display(term), "responses": entry["n"],
                    "months": trend})
    return out
