"""Raw pymongo against the store: the yardstick every service figure is compared with."""
from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

from bench.common import bench_settings, percentile, write
from shared.mongo import database_for

SINGLE = 2_000
BULK = 20_000
LOOKUPS = 2_000


def timed_rate(n: int, fn) -> float:
    started = time.perf_counter()
    fn()
    return n / (time.perf_counter() - started)


def main() -> dict:
    db = database_for(bench_settings("ideas"))
    docs = db["bench_docs"]
    docs.create_index("branch_id")
    payload = {"title": "t" * 80, "description": "d" * 400, "tags": ["a", "b"], "votes": 0}

    single = timed_rate(SINGLE, lambda: [docs.insert_one(dict(payload, branch_id=f"br_{i % 100}"))
                                         for i in range(SINGLE)])

    def parallel_inserts():
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: docs.insert_one(dict(payload, branch_id=f"br_{i % 100}")), range(SINGLE)))
    single_8 = timed_rate(SINGLE, parallel_inserts)

    def bulk():
        for start in range(0, BULK, 1000):
            docs.insert_many([dict(payload, branch_id=f"br_{i % 100}") for i in range(start, start + 1000)])
    bulk_rate = timed_rate(BULK, bulk)

    ids = [d["_id"] for d in docs.find({}, {"_id": 1}).limit(5000)]
    latencies = []
    for _ in range(LOOKUPS):
        started = time.perf_counter()
        docs.find_one({"_id": random.choice(ids)})
        latencies.append(time.perf_counter() - started)
    by_id = LOOKUPS / sum(latencies)

    page = []
    for _ in range(200):
        started = time.perf_counter()
        list(docs.find({"branch_id": f"br_{random.randrange(100)}"}).limit(20))
        page.append(time.perf_counter() - started)

    total = docs.count_documents({})
    return write("store", {
        "documents": total,
        "insert_one_per_s": round(single), "insert_one_8_threads_per_s": round(single_8),
        "insert_many_per_s": round(bulk_rate),
        "find_one_by_id_per_s": round(by_id), "find_one_by_id_p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "find_20_by_indexed_field_p50_ms": round(percentile(page, 50) * 1000, 2),
        "find_20_by_indexed_field_p99_ms": round(percentile(page, 99) * 1000, 2),
    })


if __name__ == "__main__":
    print(main())
