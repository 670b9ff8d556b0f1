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
from typing import Iterable, Mapping

from shared.config import load_settings

RESULTS = Path(__file__).parent / "results"
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}")
MONGO = os.environ.get("MONGO_URL", f"mongodb://127.0.0.1:{os.environ.get('STORE_PORT', '27017')}/")
# The benchmarks' topics and consumer groups are their own ("bench.cocreate.ideas", ...), for this process and the
# workers and web processes it starts: a platform on the same broker never takes in what they publish.
NAMESPACE = "bench"
RUN = uuid.uuid4().hex[:6]


def own_namespace() -> None:
    """Into the benchmarks' namespace (again: importing the tests' helpers, their conftest, sets the suite's)."""
    os.environ["COCREATE_NAMESPACE"] = NAMESPACE


own_namespace()


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


def drop_bench_databases(every_run: bool = False) -> None:
    """Drop this run's databases (`every_run`: those of earlier runs too, which a run stopped midway leaves)."""
    from pymongo import MongoClient

    client = MongoClient(MONGO, serverSelectionTimeoutMS=3000)
    for name in client.list_database_names():
        if name.startswith("bench_") and (every_run or f"_{RUN}" in name):
            client.drop_database(name)
    client.close()


def drop_bench_topics(wait_seconds: float = 30) -> list[str]:
    """Delete the benchmarks' topics (their namespace's): what one benchmark published is not left for the
    next one's workers, whose consumer groups would first read through all of it (the throughput benchmark
    alone leaves hundreds of thousands of events). The services create them again as they start."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=KAFKA.split(","), client_id="cocreate-bench-admin")
    try:
        ours = [t for t in admin.list_topics() if t.startswith(f"{NAMESPACE}.")]
        if ours:
            admin.delete_topics(ours)
            deadline = time.time() + wait_seconds
            while set(ours) & set(admin.list_topics()) and time.time() < deadline:
                time.sleep(0.5)
        return ours
    finally:
        admin.close()


def bench_db(label: str) -> str:
    """The name of a database of this run for one benchmark (dropped at the end by drop_bench_databases)."""
    return f"bench_{label}_{RUN}"


def drop_database(name: str) -> None:
    """Drop one database of this run now, not at the end: the next measurement runs on a store holding only its
    own data."""
    from pymongo import MongoClient

    client = MongoClient(MONGO, serverSelectionTimeoutMS=3000)
    try:
        client.drop_database(name)
    finally:
        client.close()


def result_of_this_run(name: str) -> dict | None:
    """bench/results/<name>.json if this process wrote it (an earlier benchmark of the same `bench.run`)."""
    path = RESULTS / f"{name}.json"
    started = Path(f"/proc/{os.getpid()}").stat().st_ctime
    if path.exists() and path.stat().st_mtime >= started:
        return json.loads(path.read_text())
    return None


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy since boot (every process, ours or not): the difference
    over a measurement, divided by its length, is how many cores were busy meanwhile."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def parent_of(pid: int) -> int:
    return int(_proc_stat(pid)[1])


def cpu_seconds(pid: int) -> float:
    """CPU seconds a process has used so far (user + system)."""
    fields = _proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def cpu_by_group(workers: list[int], named: Mapping[str, Iterable[int]] | None = None) -> dict[str, dict[int, float]]:
    """CPU seconds so far of our web workers, the load generator (this process and wrk), the store (FerretDB and
    its PostgreSQL backends: shared with anything else that uses the store), the broker (Kafka), the whole
    machine, and any `named` groups of our own processes (e.g. {"ideas_worker": [pid]})."""
    named = {name: set(pids) for name, pids in (named or {}).items()}
    found: dict[str, dict[int, float]] = {"web_workers": {}, "load_generator": {}, "ferretdb": {},
                                          "postgresql": {}, "kafka": {}, **{name: {} for name in named}}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
            command = arguments[0].decode()
            group = (next((name for name, pids in named.items() if pid in pids), None)
                     or ("web_workers" if pid in workers
                         else "load_generator" if pid == os.getpid() or command.rsplit("/", 1)[-1] == "wrk"
                         else "postgresql" if command.startswith("postgres")
                         else "ferretdb" if "ferretdb" in command
                         else "kafka" if b"kafka.Kafka" in arguments else None))
            if group:
                found[group][pid] = cpu_seconds(pid)
        except (OSError, IndexError, ValueError):
            continue  # a process that ended meanwhile
    found["machine"] = {0: machine_busy_seconds()}
    return found


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (a gunicorn master's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if parent_of(int(entry.name)) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return sorted(found)


def cores_busy(before: dict, after: dict, seconds: float) -> dict[str, float]:
    """Cores busy on average per group between two cpu_by_group() readings (a process started meanwhile
    counts from zero); `everything_else` is the machine's rest: other people's processes, Kafka, the kernel."""
    busy = {group: round(sum(t - before[group].get(pid, 0.0) for pid, t in after[group].items()) / seconds, 2)
            for group in after}
    busy["everything_else"] = round(busy["machine"] - sum(v for k, v in busy.items() if k != "machine"), 2)
    return busy


def code_version(paths: tuple[str, ...] = (":(glob)services/ideas/**/*.py", ":(glob)shared/**/*.py")) -> str:
    """The commit measured, with "+changes" when the Python code measured differs from it (others may be
    editing it meanwhile)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=Path(__file__).resolve().parents[1], capture_output=True,
                              text=True).stdout.strip()

    return git("rev-parse", "--short", "HEAD") + ("+changes" if git("status", "--porcelain", "--", *paths) else "")
