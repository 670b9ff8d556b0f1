"""Summarise bench/results/*.json into docs/benchmarks.md."""
from __future__ import annotations

import json
from pathlib import Path

from bench.common import RESULTS

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"

INTRO = """# Benchmarks

Written by `make bench` from `bench/results/*.json` (do not edit by hand). Every figure comes from one run on
the machine named below; later figures of the services are reported as ratios to these yardsticks from the
same run, so the store's own speed does not hide our overhead.
"""


def write_report() -> Path:
    results = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    lines = [INTRO]
    if results:
        m = results[0]["machine"]
        lines.append(f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} memory; Python {m['python']}; "
                     f"{m['kafka']}; store backend: {m['store_backend']}.\n")
    for r in results:
        lines.append(f"## {r['benchmark']} ({r['at']})\n")
        shown, details = DETAILS[r["benchmark"]](r) if r["benchmark"] in DETAILS else (set(), [])
        lines.append("| measure | value |\n|---|---|")
        for key, value in r.items():
            if key in ("benchmark", "at", "machine") or key in shown:
                continue
            lines.append(f"| {key} | {json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value} |")
        lines.append("")
        lines += details
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text("\n".join(lines))
    return DOC


def _table(header: list[str], rows: list[list]) -> list[str]:
    return ([f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"]
            + [f"| {' | '.join(str(c) for c in row)} |" for row in rows] + [""])


def _ideas_browse(r: dict) -> tuple[set[str], list[str]]:
    """Per query: through gunicorn under load, and in one process (the catalog alone, the Flask app)."""
    alone = r.get("in_one_process", {})
    one = alone.get("queries_one_thread", {})
    lines = [f"Per query through gunicorn ({r['load']}); in one process, one thread: the catalog's search "
             "alone, and the whole request through the Flask app without HTTP (test client).\n"]
    single = r.get("queries_one_connection", {})
    lines += _table(["query", "items", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "1 connection p50 / p99 ms",
                     "catalog p50 / p99 ms", "Flask app p50 / p99 ms"],
                    [[name, r["first_page_items"].get(name, ""), q["requests_per_s"], q["p50_ms"], q["p95_ms"],
                      q["p99_ms"], q["max_ms"],
                      f"{single[name]['p50_ms']} / {single[name]['p99_ms']}" if name in single else "",
                      f"{one[name]['catalog']['p50_ms']} / {one[name]['catalog']['p99_ms']}" if name in one else "",
                      f"{one[name]['flask_app']['p50_ms']} / {one[name]['flask_app']['p99_ms']}" if name in one else ""]
                     for name, q in r["queries"].items()])
    lines.append("All ten queries in turn, by number of connections:\n")
    lines += _table(["connections", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors",
                     "cores busy meanwhile"],
                    [[c.lstrip("c"), m["requests_per_s"], m["p50_ms"], m["p95_ms"], m["p99_ms"], m["max_ms"],
                      m["non_2xx"] + m["socket_errors"],
                      ", ".join(f"{k} {v}" for k, v in m.get("cores_busy", {}).items())]
                     for c, m in r["mixed"].items()])
    if alone:
        lines.append("In one process: " + "; ".join(
            f"{k}: {json.dumps(alone[k], ensure_ascii=False)}" for k in ("catalog_load", "memory",
                                                                         "gc_full_pauses_ms_while_querying")) + ".\n")
        for name, rows in alone.get("hot_functions_of_slowest", {}).items():
            lines.append(f"- own time per request, {name}: " + "; ".join(rows))
        lines.append("")
    return {"queries", "queries_one_connection", "mixed", "first_page_items", "in_one_process"}, lines


def _ideas_votes(r: dict) -> tuple[set[str], list[str]]:
    steps = r.get("vote_in_one_process", {})
    lines = []
    if steps:
        lines.append("A vote's steps in one process (one thread, new pairs), as services.vote makes them:\n")
        lines += _table(["step", "p50 ms", "p99 ms"],
                        [[k, v["p50_ms"], v["p99_ms"]] if isinstance(v, dict) else [k, v, ""]
                         for k, v in steps["steps_one_thread"].items()])
        lines += [f"{k}: {v}" for k, v in steps.items() if k != "steps_one_thread"] + [""]
    return {"vote_in_one_process"}, lines


def _notifications_fanout(r: dict) -> tuple[set[str], list[str]]:
    """(a) one status change fanned out to 10,000 followers; (b) status changes over HTTP to the inbox."""
    a, b = r["fanout_10000_followers"], r["status_change_to_inbox"]
    lines = [f"(a) An idea with {a['followers']:,} followers changes status: the handler applied to the event, "
             f"until every inbox entry is in the store and a follower's inbox shows it ({a['target']}).\n"]
    lines += _table(["run", "follows applied (setup) s", "handled s", "all readable s", "machine cores busy"],
                    [[n + 1, m["follows_applied_s"], m["handled_s"], m["all_readable_s"], m["machine_cores_busy"]]
                     for n, m in enumerate(a["runs"])])
    lines.append(f"(b) Status change over HTTP (ideas, gunicorn) to the author's inbox through the notifications "
                 f"API, via the ideas relay, Kafka and the notifications consumer ({b['target']}; processes: "
                 f"{b['processes']}).\n")
    runs = {k: v for k, v in r.items() if k.startswith("status_change_to_inbox")}
    measures = [k for k in b if k not in ("processes", "target")]
    lines += _table(["measure"] + [f"at {v['target_rate_per_s']}/s" for v in runs.values()],
                    [[k] + [v.get(k, "") for v in runs.values()] for k in measures])
    return {"fanout_10000_followers", *runs}, lines


DETAILS = {"ideas_browse": _ideas_browse, "ideas_votes": _ideas_votes,
           "notifications_fanout": _notifications_fanout}
