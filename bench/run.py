"""`make bench`: run the benchmarks (all, or those named), write bench/results/*.json and docs/benchmarks.md.

Usage: python -m bench.run [store kafka_throughput outbox_latency flask_ceiling ...]
(ideas_votes compares itself with store and flask_ceiling of the same run, feedback_dashboard with store: name
them before it)"""
from __future__ import annotations

import importlib
import sys

from bench.common import drop_bench_databases, drop_bench_topics
from bench.report import write_report

BENCHMARKS = ["store", "kafka_throughput", "outbox_latency", "flask_ceiling", "directory_import", "ideas_browse",
              "ideas_votes", "notifications_fanout", "feedback_dashboard", "notifications_delivery"]


def main(names: list[str]) -> None:
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        raise SystemExit(f"unknown benchmarks: {', '.join(sorted(unknown))}; known: {', '.join(BENCHMARKS)}")
    # Runs stopped midway leave their databases: 38 such were once found in the store, and as many made it spend
    # 9% more CPU on the notifications consumer's commands (bench.notifications_fanout.consumer_cost, 4.57 and
    # 5.0 ms a change). Only benchmarks write bench_ databases, and one benchmark runs at a time.
    drop_bench_databases(every_run=True)
    try:
        for name in names or BENCHMARKS:
            print(f"== {name}", flush=True)
            drop_bench_topics()  # each benchmark starts on empty topics
            result = importlib.import_module(f"bench.{name}").main()
            print({k: v for k, v in result.items() if k != "machine"}, flush=True)
    finally:
        drop_bench_databases()
        drop_bench_topics()
    print(f"report: {write_report()}")


if __name__ == "__main__":
    main(sys.argv[1:])
