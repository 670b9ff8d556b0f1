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
        lines.append("| measure | value |\n|---|---|")
        for key, value in r.items():
            if key in ("benchmark", "at", "machine"):
                continue
            lines.append(f"| {key} | {json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value} |")
        lines.append("")
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text("\n".join(lines))
    return DOC
