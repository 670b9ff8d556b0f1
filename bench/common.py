"""Shared pieces of the benchmarks: settings against the running infrastructure, percentiles, and
results written as JSON with the machine they ran on."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
import uuid
from pathlib import Path

from shared.config import load_settings

RESULTS = Path(__file__).parent / "results"
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}")
MONGO = os.environ.get("MONGO_URL", f"mongodb://127.0.0.1:{os.environ.get('STORE_PORT', '27017')}/")
RUN = uuid.uuid4().hex[:6]


def bench_settings(service: str, **overrides):
    values = dict(kafka_bootstrap_servers=tuple(KAFKA.split(",")), mongo_url=MONGO,
                  mongo_db=f"bench_{service}_{RUN}")
    values.update(overrides)
    return load_settings(service, **values)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def machine() -> dict:
    def first_line(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, shell=True).stdout.strip().splitlines()[0]
        except Exception:
            return "unknown"

    return {
        "cpu": first_line("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"),
        "cores": os.cpu_count(),
        "memory": first_line("free -h | awk '/Mem:/{print $2}'"),
        "python": platform.python_version(),
        "store_backend": f"FerretDB 1.24 on {os.environ.get('STORE_BACKEND', 'postgresql')}",
        "kafka": first_line("ls .cache/kafka/libs 2>/dev/null | grep -o '^kafka_2.13-[0-9.]*[0-9]' | head -1"),
    }


def write(name: str, result: dict) -> dict:
    RESULTS.mkdir(exist_ok=True)
    result = {"benchmark": name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine(),
              **result}
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return result


def drop_bench_databases() -> None:
    from pymongo import MongoClient

    client = MongoClient(MONGO, serverSelectionTimeoutMS=3000)
    for name in client.list_database_names():
        if name.startswith("bench_") and f"_{RUN}" in name:  # only this run's databases
            client.drop_database(name)
    client.close()
