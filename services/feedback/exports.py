"""CSV exports, streamed: rows are written as they are read from the store, so a million responses never sit in
memory. The privacy threshold holds here as on pages and in the API: a survey with fewer than THRESHOLD
respondents exports no rows; a respondent's age and population group are left out where fewer than THRESHOLD
respondents of the survey share that combination; nobody is named; insight tables carry only the cells the
insights show. Cells a spreadsheet would run as a formula are defused (a leading ' ), since free text comes from
anyone."""
from __future__ import annotations

import csv
import io
from collections import Counter
from typing import Any, Iterable, Iterator, Mapping, Sequence

from services.feedback.comparison import section as comparison_section
from services.feedback.insights import IDEA_STATUSES, LEAD_TIMES, THRESHOLD, section

BOM = "\ufeff"  # spreadsheets then read the file as UTF-8 (Hebrew)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
RESPONSE_COLUMNS = ("response_id", "submitted_at", "channel", "branch_id", "program", "age_group",
                    "population_group")
SECTIONS = ("surveys", "quick", "outcomes")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        value = "; ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text, a line at a time (the header first, after a byte order mark)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Sequence[Any]) -> str:
        writer.writerow([cell(v) for v in values])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield BOM + line(header)
    for row in rows:
        yield line(row)


def response_table(questions: Sequence[Mapping], counting: Iterable[Mapping],
                   reading: Iterable[Mapping]) -> tuple[list[str], Iterator[list[Any]]]:
    """Header and rows of a survey's responses. `counting` and `reading` are two passes over the same responses
    (the first only counts segments: the rows of the second depend on the counts)."""
    pairs: Counter = Counter()
    for doc in counting:
        segment = doc.get("segment") or {}
        pairs[segment.get("age_group"), segment.get("population_group")] += 1
    header = [*RESPONSE_COLUMNS, *(q["id"] for q in questions)]
    if sum(pairs.values()) < THRESHOLD:
        return header, iter(())

    def rows() -> Iterator[list[Any]]:
        for doc in reading:
            segment = doc.get("segment") or {}
            pair = (segment.get("age_group"), segment.get("population_group"))
            shown = pairs[pair] >= THRESHOLD
            answers = {a["question_id"]: a["value"] for a in doc.get("answers", ())}
            yield [doc["_id"], doc["submitted_at"].isoformat(), segment.get("channel"), segment.get("branch_id"),
                   segment.get("program"), pair[0] if shown else None, pair[1] if shown else None,
                   *(answers.get(q["id"]) for q in questions)]

    return header, rows()


def _flat(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _flat(f"{prefix}.{key}", inner)
    else:
        yield prefix, value


# The columns of an insight table: every figure a shown cell has (an empty cell shows them all, as zeros).
INSIGHT_COLUMNS = [name for kind, part in (("survey", "surveys"), ("quick", "quick"), ("outcome", "outcomes"))
                   for name, _ in _flat(part, section(kind, {}, 0))]


def insight_table(by: str | None, totals: Mapping, rows: Sequence[Mapping]) -> tuple[list[str], list[list[Any]]]:
    """The satisfaction view as a table: the totals, then a row per value of `by`; hidden cells stay empty,
    with `<section>.suppressed` true."""
    header = ["row", *INSIGHT_COLUMNS]

    def values(label: Any, row: Mapping) -> list[Any]:
        flat = dict(pair for part in SECTIONS for pair in _flat(part, row.get(part) or {}))
        return [label, *(flat.get(name) for name in INSIGHT_COLUMNS)]

    return header, [values("total", totals), *(values(f"{by}={row.get('value')}", row) for row in rows)]


BRANCH_COLUMNS = ["branch_id", "name.he", "name.en", "region_id",
                  *(name for kind, part in (("survey", "surveys"), ("quick", "quick"), ("outcome", "outcomes"))
                    for name, _ in _flat(part, comparison_section(kind, {}))),
                  *(f"funnel.{status}" for status in IDEA_STATUSES),
                  *(f"lead_times.{lead}.{figure}" for lead in LEAD_TIMES for figure in ("ideas", "median_days",
                                                                                          "p90_days"))]


def branch_table(rows: Sequence[Mapping]) -> tuple[list[str], Iterator[list[Any]]]:
    """The comparison of branches as a table, a row per branch; hidden cells stay empty, with
    `<section>.suppressed` true."""
    def values(row: Mapping) -> list[Any]:
        flat = dict(_flat("", row))
        return [flat.get(f".{name}") for name in BRANCH_COLUMNS]

    return BRANCH_COLUMNS, (values(row) for row in rows)
