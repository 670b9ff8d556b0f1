"""Measure a running MongoDB-wire store (FerretDB on SQLite or PostgreSQL) under our kind of load.

Usage (against the store started by deploy/local/infra.sh):
    python bench/store_backends.py --uri mongodb://127.0.0.1:27017/ --label postgresql [--json out.json]

Needs only pymongo. Every phase is bounded in time and count; the bench database is dropped at the
end. Measures:
  - insert_one rate: 1 thread, 8 threads, 4 processes (gunicorn runs several workers)
  - insert_many rate (1000-document batches), which also loads the 100,000-document collection
  - find_one by _id and by an indexed field, latency p50/p99 on 100,000 documents
  - find(equality on an indexed field).sort(indexed field).limit(20), latency p50/p99
  - outbox-style polls on a sparse-indexed boolean ({"_outbox_pending": True}, 100 of 100,000):
    count_documents and find().limit(50), latency p50/p99
  - find({"_id": {"$in": [10 ids]}}) and update_one({"_id": x}, $inc) on the 100,000 documents, p50/p99
  - update_one($inc) from 8 threads on one document: the final count must be exact
  - find_one_and_update($inc, upsert, AFTER) from 8 threads: exact, and no value returned twice
  - features: unique index + DuplicateKeyError; find_one_and_update(upsert, ReturnDocument.AFTER)
Any error under concurrency is counted and printed: a backend with errors is disqualified.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import sys
import threading
import time

import pymongo
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

DB = "bench_store_backends"
N_DOCS = 100_000
N_ORGS = 100
PAYLOAD = "x" * 120


def client(uri: str) -> pymongo.MongoClient:
    return pymongo.MongoClient(uri, serverSelectionTimeoutMS=10_000, maxPoolSize=64)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def doc(i: int) -> dict:
    d = {
        "_id": ObjectId(),
        "org": f"org-{i % N_ORGS}",
        "email": f"user{i}@example.org",
        "created": i,
        "n": 0,
        "payload": PAYLOAD,
    }
    if i % 1000 == 0:  # an outbox-style flag on a few documents (sparse index)
        d["_outbox_pending"] = True
    return d


class Errors:
    def __init__(self) -> None:
        self.count = 0
        self.samples: list[str] = []
        self.lock = threading.Lock()

    def add(self, e: BaseException) -> None:
        with self.lock:
            self.count += 1
            if len(self.samples) < 3:
                self.samples.append(f"{type(e).__name__}: {str(e)[:200]}")


def insert_one_threads(uri: str, threads: int, seconds: float, max_ops: int, errors: Errors, settle: float) -> float:
    cl = client(uri)
    coll = cl[DB][f"ins_threads_{threads}"]
    coll.insert_one({"warmup": True})
    time.sleep(settle)  # the store's background work on a new collection (index twins) happens first
    done = [0] * threads
    stop_at = time.perf_counter() + seconds

    def work(t: int) -> None:
        n = 0
        while n < max_ops and time.perf_counter() < stop_at:
            try:
                coll.insert_one({"t": t, "i": n, "payload": PAYLOAD})
                n += 1
            except Exception as e:  # noqa: BLE001 - we count every failure
                errors.add(e)
                n += 1
        done[t] = n

    t0 = time.perf_counter()
    ths = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    elapsed = time.perf_counter() - t0
    cl.close()
    return sum(done) / elapsed


def _proc_insert(uri: str, seconds: float, max_ops: int, start_evt, q) -> None:  # type: ignore[no-untyped-def]
    cl = client(uri)
    coll = cl[DB]["ins_procs"]
    coll.find_one()
    start_evt.wait()
    n, errs, samples = 0, 0, []
    stop_at = time.perf_counter() + seconds
    while n < max_ops and time.perf_counter() < stop_at:
        try:
            coll.insert_one({"pid": os.getpid(), "i": n, "payload": PAYLOAD})
        except Exception as e:  # noqa: BLE001
            errs += 1
            if len(samples) < 3:
                samples.append(f"{type(e).__name__}: {str(e)[:200]}")
        n += 1
    q.put((n, errs, samples))
    cl.close()


def insert_one_processes(uri: str, procs: int, seconds: float, max_ops: int, errors: Errors, settle: float) -> float:
    cl = client(uri)
    cl[DB]["ins_procs"].insert_one({"warmup": True})
    cl.close()
    time.sleep(settle)
    ctx = mp.get_context("spawn")
    start_evt = ctx.Event()
    q = ctx.Queue()
    ps = [ctx.Process(target=_proc_insert, args=(uri, seconds, max_ops, start_evt, q)) for _ in range(procs)]
    for p in ps:
        p.start()
    time.sleep(1.5)  # let every process connect first
    t0 = time.perf_counter()
    start_evt.set()
    total = 0
    for _ in ps:
        n, errs, samples = q.get(timeout=seconds + 120)
        total += n
        errors.count += errs
        errors.samples.extend(samples[: max(0, 3 - len(errors.samples))])
    elapsed = time.perf_counter() - t0
    for p in ps:
        p.join(timeout=30)
    return total / elapsed


def load(coll, errors: Errors) -> tuple[float, list[ObjectId]]:  # type: ignore[no-untyped-def]
    ids: list[ObjectId] = []
    t0 = time.perf_counter()
    for start in range(0, N_DOCS, 1000):
        batch = [doc(i) for i in range(start, start + 1000)]
        try:
            coll.insert_many(batch, ordered=False)
        except Exception as e:  # noqa: BLE001
            errors.add(e)
        ids.extend(d["_id"] for d in batch)
    return N_DOCS / (time.perf_counter() - t0), ids


def latencies(fn, n: int, seconds: float) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    lat: list[float] = []
    stop_at = time.perf_counter() + seconds
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        lat.append((time.perf_counter() - t) * 1000)
        if time.perf_counter() > stop_at:
            break
    return pct(lat, 50), pct(lat, 99), len(lat) / (sum(lat) / 1000)


def inc_contention(uri: str, threads: int, per_thread: int, errors: Errors) -> tuple[float, int, int]:
    cl = client(uri)
    coll = cl[DB]["counter"]
    coll.delete_many({})
    coll.insert_one({"_id": "c", "n": 0})

    def work() -> None:
        for _ in range(per_thread):
            try:
                coll.update_one({"_id": "c"}, {"$inc": {"n": 1}})
            except Exception as e:  # noqa: BLE001
                errors.add(e)

    t0 = time.perf_counter()
    ths = [threading.Thread(target=work) for _ in range(threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    elapsed = time.perf_counter() - t0
    final = coll.find_one({"_id": "c"})["n"]
    cl.close()
    return threads * per_thread / elapsed, final, threads * per_thread


def fam_contention(uri: str, threads: int, per_thread: int, errors: Errors) -> tuple[float, int, int, bool]:
    """find_one_and_update($inc, upsert, AFTER) from many threads: exact total, no value returned twice."""
    cl = client(uri)
    coll = cl[DB]["seq"]
    coll.delete_many({})
    seen: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(per_thread):
            try:
                d = coll.find_one_and_update(
                    {"_id": "s"}, {"$inc": {"n": 1}}, upsert=True, return_document=ReturnDocument.AFTER
                )
                with lock:
                    seen.append(d["n"])
            except Exception as e:  # noqa: BLE001
                errors.add(e)

    t0 = time.perf_counter()
    ths = [threading.Thread(target=work) for _ in range(threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    elapsed = time.perf_counter() - t0
    final = (coll.find_one({"_id": "s"}) or {}).get("n", 0)
    cl.close()
    return threads * per_thread / elapsed, final, threads * per_thread, len(set(seen)) == len(seen)


def features(uri: str) -> dict:
    cl = client(uri)
    db = cl[DB]
    out: dict = {}
    u = db["uniq"]
    u.drop()
    try:
        u.create_index([("email", 1)], unique=True, name="email_unique")
        u.insert_one({"email": "a@example.org"})
        try:
            u.insert_one({"email": "a@example.org"})
            out["unique_index"] = "NO: duplicate accepted"
        except DuplicateKeyError:
            out["unique_index"] = "yes (DuplicateKeyError)"
    except Exception as e:  # noqa: BLE001
        out["unique_index"] = f"NO: {type(e).__name__}: {e}"
    f = db["fou"]
    f.drop()
    try:
        d1 = f.find_one_and_update(
            {"_id": "k"}, {"$inc": {"n": 1}, "$set": {"s": "v"}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        d2 = f.find_one_and_update({"_id": "k"}, {"$inc": {"n": 1}}, upsert=True, return_document=ReturnDocument.AFTER)
        ok = d1 == {"_id": "k", "n": 1, "s": "v"} and d2 is not None and d2["n"] == 2
        out["find_one_and_update_upsert_after"] = "yes" if ok else f"NO: got {d1!r} then {d2!r}"
    except Exception as e:  # noqa: BLE001
        out["find_one_and_update_upsert_after"] = f"NO: {type(e).__name__}: {e}"
    cl.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", default=os.environ.get("STORE_URI", "mongodb://127.0.0.1:27017/"))
    ap.add_argument("--label", default="store")
    ap.add_argument("--seconds", type=float, default=8.0, help="duration of each rate phase")
    ap.add_argument("--json", help="write results to this file")
    ap.add_argument(
        "--settle",
        type=float,
        default=3.0,
        help="seconds to wait after creating a collection or loading it (our store adds index twins in the background)",
    )
    args = ap.parse_args()

    cl = client(args.uri)
    cl.drop_database(DB)
    db = cl[DB]
    res: dict = {"label": args.label}
    errors = Errors()

    def phase(name: str) -> None:
        print(f"[{args.label}] {name}...", file=sys.stderr, flush=True)

    phase("insert_one x1 thread")
    res["insert_one_1t_per_s"] = insert_one_threads(args.uri, 1, args.seconds, 20_000, errors, args.settle)
    phase("insert_one x8 threads")
    res["insert_one_8t_per_s"] = insert_one_threads(args.uri, 8, args.seconds, 5_000, errors, args.settle)
    phase("insert_one x4 processes")
    res["insert_one_4p_per_s"] = insert_one_processes(args.uri, 4, args.seconds, 5_000, errors, args.settle)

    phase(f"insert_many 1000-doc batches ({N_DOCS} docs)")
    coll = db["items"]
    coll.create_index([("email", 1)], name="email")
    coll.create_index([("org", 1), ("created", -1)], name="org_created")
    coll.create_index([("_outbox_pending", 1)], name="outbox_pending", sparse=True)
    res["insert_many_docs_per_s"], ids = load(coll, errors)
    res["count"] = coll.count_documents({})
    time.sleep(args.settle)

    rnd = random.Random(42)
    phase("find_one by _id")
    p50, p99, rate = latencies(lambda i: coll.find_one({"_id": rnd.choice(ids)}), 2000, args.seconds)
    res["find_id_p50_ms"], res["find_id_p99_ms"], res["find_id_per_s"] = p50, p99, rate
    phase("find_one by indexed field")
    p50, p99, rate = latencies(
        lambda i: coll.find_one({"email": f"user{rnd.randrange(N_DOCS)}@example.org"}), 2000, args.seconds
    )
    res["find_email_p50_ms"], res["find_email_p99_ms"], res["find_email_per_s"] = p50, p99, rate
    phase("find eq + sort + limit 20")
    p50, p99, rate = latencies(
        lambda i: list(coll.find({"org": f"org-{rnd.randrange(N_ORGS)}"}).sort("created", -1).limit(20)),
        500,
        args.seconds * 2,
    )
    res["find_sort_p50_ms"], res["find_sort_p99_ms"], res["find_sort_per_s"] = p50, p99, rate
    sample = list(coll.find({"org": "org-7"}).sort("created", -1).limit(20))
    res["find_sort_correct"] = [d["created"] for d in sample] == list(range(N_DOCS - N_ORGS + 7, -1, -N_ORGS))[:20]

    phase("outbox polls on a sparse-indexed boolean")
    p50, p99, rate = latencies(lambda i: coll.count_documents({"_outbox_pending": True}), 500, args.seconds)
    res["count_flag_p50_ms"], res["count_flag_p99_ms"] = p50, p99
    res["count_flag_correct"] = coll.count_documents({"_outbox_pending": True}) == N_DOCS // 1000
    p50, p99, rate = latencies(lambda i: list(coll.find({"_outbox_pending": True}).limit(50)), 500, args.seconds)
    res["find_flag_limit_p50_ms"], res["find_flag_limit_p99_ms"] = p50, p99

    phase("find _id $in [10 ids]")
    p50, p99, rate = latencies(
        lambda i: list(coll.find({"_id": {"$in": rnd.sample(ids, 10)}})), 200, args.seconds
    )
    res["find_id_in_p50_ms"], res["find_id_in_p99_ms"] = p50, p99

    phase("update_one by _id $inc")
    p50, p99, rate = latencies(
        lambda i: coll.update_one({"_id": rnd.choice(ids)}, {"$inc": {"n": 1}}), 1000, args.seconds
    )
    res["update_id_p50_ms"], res["update_id_p99_ms"] = p50, p99

    phase("update_one $inc x8 threads, one document")
    res["inc_8t_per_s"], res["inc_final"], res["inc_expected"] = inc_contention(args.uri, 8, 250, errors)

    phase("find_one_and_update $inc upsert x8 threads, one document")
    (res["fam_8t_per_s"], res["fam_final"], res["fam_expected"], res["fam_unique_returns"]) = fam_contention(
        args.uri, 8, 125, errors
    )

    phase("features")
    res.update(features(args.uri))
    res["errors"] = errors.count
    res["error_samples"] = errors.samples
    cl.drop_database(DB)
    cl.close()

    print(json.dumps(res, indent=2, default=str))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2, default=str)
    ok = (
        errors.count == 0
        and res["inc_final"] == res["inc_expected"]
        and res["fam_final"] == res["fam_expected"]
        and res["fam_unique_returns"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
