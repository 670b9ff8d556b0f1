"""Sustained votes through gunicorn: concurrent clients each cast new votes (a distinct person and idea every
request) on 2,000 open ideas for ~20 s. Reports votes/s, latency and errors, checks that every vote was
counted exactly once, and compares the rate with this run's bare-Flask ceiling (bench/flask_ceiling.py) and
raw pymongo insert_one (bench/store.py): aim at least half of the lower one. Where the time goes: the cores
busy per process group during the load and in the 10 s after it (no requests: what the web processes still
ask of the store), the store commands of one vote, its steps timed in one process."""
from __future__ import annotations

import http.client
import itertools
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from pymongo import MongoClient, monitoring

from bench.common import (MONGO, bench_db, code_version, cores_busy, cpu_by_group, drop_bench_databases,
                          percentile, result_of_this_run, write)
from bench.http import worker_class
from bench.ideas_browse import (API, THREADS, WORKERS, Keys, ideas_server, seed_branches, seed_ideas,
                                wait_for_index)
from services.ideas import domain
from services.ideas.repository import FOLLOWS, IDEAS, INDEXES, VOTES
from shared.auth import PARTICIPANT, Principal
from shared.mongo import apply_indexes

IDEAS_COUNT = 2_000
PEOPLE = 5_000
CLIENTS = 16
SECONDS = 20
WARM_UP_SECONDS = 2
AFTER_SECONDS = 10
AIM = 0.5
OPEN = [(domain.SUBMITTED, 0.4, []), (domain.UNDER_REVIEW, 0.3, [domain.UNDER_REVIEW]),
        (domain.PLANNED, 0.2, [domain.UNDER_REVIEW, domain.PLANNED]),
        (domain.IN_PROGRESS, 0.1, [domain.UNDER_REVIEW, domain.PLANNED, domain.IN_PROGRESS])]


def person(p: int) -> Principal:
    home = f"br_{p % 1000:04d}"
    return Principal(id=f"pe_v{p:05d}", name=f"Voter {p}", home_branch=home,
                     branch_roles={home: frozenset({PARTICIPANT})})


class Voters:
    """The k-th vote is person k mod P on idea (person x 7919 + k div P) mod I: every pair is new (a person
    meets each idea at most once for k < P x I), and consecutive votes go to different ideas."""

    def __init__(self, ideas: list[str], tokens: list[str]):
        self.ideas, self.tokens = ideas, tokens
        self.next = itertools.count().__next__  # atomic under the GIL

    def pair(self) -> tuple[str, str]:
        k = self.next()
        p = k % len(self.tokens)
        return self.tokens[p], self.ideas[(p * 7919 + k // len(self.tokens)) % len(self.ideas)]


def load(port: int, voters: Voters, clients: int, seconds: float) -> dict:
    """`clients` threads, each on its own keep-alive connection, vote until the time is up; the requests in
    flight then finish, so every vote the server made is counted here."""
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[str, int] = {}

    def client():
        conn, mine, seen = http.client.HTTPConnection("127.0.0.1", port, timeout=60), [], {}
        while time.perf_counter() < deadline:
            token, idea_id = voters.pair()
            started = time.perf_counter()
            try:
                conn.request("PUT", f"{API}/ideas/{idea_id}/vote", headers={"Authorization": f"Bearer {token}"})
                response = conn.getresponse()
                body = response.read()
                voted = response.status == 200 and json.loads(body).get("voted") is True
                outcome = "200" if voted else f"{response.status} {body[:80]!r}"
            except (OSError, http.client.HTTPException) as exc:
                outcome = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine.append(time.perf_counter() - started)
            seen[outcome] = seen.get(outcome, 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine)
            for k, v in seen.items():
                statuses[k] = statuses.get(k, 0) + v

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    ok = statuses.get("200", 0)
    return {"seconds": round(elapsed, 1), "votes": ok, "votes_per_s": round(ok / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1), "p99_ms": round(percentile(latencies, 99) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1), "errors": sum(v for k, v in statuses.items() if k != "200"),
            "responses": statuses}


def exactness(db, successful: int) -> dict:
    def total(field: str) -> int:
        # one $sum per $group: FerretDB 1.24 answers 0 for every accumulator after the first
        return next(db[IDEAS].aggregate([{"$group": {"_id": None, "n": {"$sum": f"${field}"}}}]))["n"]

    found = {"successful_votes": successful, "sum_of_idea_votes": total("votes"),
             "active_vote_documents": db[VOTES].count_documents({"active": True}),
             "sum_of_idea_followers": total("followers"),
             "active_follow_documents": db[FOLLOWS].count_documents({"active": True})}
    found["exact"] = len(set(found.values())) == 1
    return found


class _Commands(monitoring.CommandListener):
    """The store commands a client sends."""

    def __init__(self):
        self.names: list[str] = []

    def started(self, event):
        self.names.append(event.command_name)

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def vote_steps(name: str, ideas: list[str], n: int = 300, clients: int = CLIENTS) -> dict:
    """The store commands of one services.vote; its steps timed one by one (one thread, new pairs); then
    services.vote itself in one process from `clients` threads: the work of the web workers without HTTP,
    Flask and the token."""
    from services.ideas import services
    from services.ideas.catalog import Catalog
    from shared.auth import Actor

    commands = _Commands()
    client = MongoClient(MONGO, tz_aware=True, event_listeners=[commands])
    db = client[name]
    s = services.Ideas.of(db, Catalog())
    services.vote(s, Actor(Principal(id="pe_commands")), ideas[0])
    sent = list(commands.names)
    steps: dict[str, list[float]] = {"read idea (find_one)": [], "insert vote": [], "insert follow": [],
                                     "count up idea (IdeaRepository.bump)": []}

    def timed(label, fn):
        started = time.perf_counter()
        result = fn()
        steps[label].append(time.perf_counter() - started)
        return result

    for k in range(n):
        idea_id, who = ideas[k % len(ideas)], f"pe_steps{k}"
        actor = Actor(Principal(id=who), f"corr{k}")
        doc = timed("read idea (find_one)", lambda: s.ideas.get_doc(idea_id))
        timed("insert vote", lambda: s.votes.join(idea_id, who, services._events(
            [services._fact(doc, "vote.cast", person_id=who)], actor)))
        timed("insert follow", lambda: s.follows.join(idea_id, who, services._events(
            [services._fact(doc, "idea.followed", person_id=who, reason="vote")], actor)))
        timed("count up idea (IdeaRepository.bump)", lambda: s.ideas.bump(idea_id, votes=1, followers=1))
    one_thread = {label: {"p50_ms": round(percentile(v, 50) * 1000, 2), "p99_ms": round(percentile(v, 99) * 1000, 2)}
                  for label, v in steps.items()}
    one_thread["sum of p50s"] = round(sum(x["p50_ms"] for x in one_thread.values()), 2)

    people = itertools.count()

    def vote(_):
        k = next(people)
        principal = Principal(id=f"pe_inproc{k}")
        services.vote(s, Actor(principal, f"c{k}"), ideas[(k * 7919) % len(ideas)])

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(vote, range(n * 3)))
    rate = n * 3 / (time.perf_counter() - started)
    client.close()
    return {"store_commands_per_vote": sent, "steps_one_thread": one_thread,
            f"services_vote_in_one_process_{clients}_threads_per_s": round(rate, 1)}


def main(seconds: int = SECONDS, clients: int = CLIENTS) -> dict:
    ceiling = result_of_this_run("flask_ceiling")
    if ceiling is None:
        from bench import flask_ceiling
        ceiling = flask_ceiling.main()
    raw = result_of_this_run("store")
    if raw is None:
        from bench import store
        raw = store.main()

    name = bench_db("ideas_votes")
    client = MongoClient(MONGO, tz_aware=True)
    db = client[name]
    keys = Keys()
    try:
        apply_indexes(db, INDEXES)
        seed_branches(db)
        ideas = seed_ideas(db, IDEAS_COUNT, seed=7, statuses=OPEN, hidden=0, counters=False, progress=False)
        wait_for_index(db[IDEAS], "_id", ideas[0])
        wait_for_index(db[VOTES], "_id", "none")
        voters = Voters(ideas, [keys.issue(person(p)) for p in range(PEOPLE)])
        with ideas_server(name, keys) as server:
            warm = load(server.port, voters, clients, WARM_UP_SECONDS)
            before = cpu_by_group(server.workers)
            result = load(server.port, voters, clients, seconds)
            cpu = cores_busy(before, cpu_by_group(server.workers), result["seconds"])
            before = cpu_by_group(server.workers)  # no requests now: what the web processes still ask of the store
            time.sleep(AFTER_SECONDS)
            cpu_after = cores_busy(before, cpu_by_group(server.workers), AFTER_SECONDS)
        check = exactness(db, warm["votes"] + result["votes"])
        steps = vote_steps(name, ideas)
    finally:
        client.drop_database(name)
        client.close()

    lower_name, lower = min((("flask_ceiling requests_per_s", ceiling["requests_per_s"]),
                             ("store insert_one_per_s", raw["insert_one_per_s"])), key=lambda kv: kv[1])
    ratio = result["votes_per_s"] / lower
    return write("ideas_votes", {
        "code": code_version(), "ideas": IDEAS_COUNT, "people": PEOPLE, "clients": clients,
        "warm_up_seconds": WARM_UP_SECONDS,
        "gunicorn": {"workers": WORKERS, "threads": THREADS, "worker_class": worker_class()},
        "load": f"{clients} Python client threads, keep-alive, PUT {API}/ideas/<id>/vote, every request a new "
                "(person, idea) pair; same machine",
        **result,
        "warm_up_votes": warm["votes"], "warm_up_errors": warm["errors"],
        "exactness": check,
        "cores_busy_during_load": cpu,
        f"cores_busy_{AFTER_SECONDS}_s_after_load_without_requests": cpu_after,
        "flask_ceiling_requests_per_s": ceiling["requests_per_s"], "flask_ceiling_at": ceiling["at"],
        "raw_insert_one_per_s": raw["insert_one_per_s"], "raw_insert_one_at": raw["at"],
        "lower_yardstick": lower_name,
        "votes_per_s_to_flask_ceiling": round(result["votes_per_s"] / ceiling["requests_per_s"], 3),
        "votes_per_s_to_raw_insert_one": round(result["votes_per_s"] / raw["insert_one_per_s"], 3),
        "votes_per_s_to_lower": round(ratio, 3),
        "target": f"votes/s >= {AIM} x the lower of the bare-Flask ceiling and raw insert_one, errors 0, exact",
        "within_target": ratio >= AIM and result["errors"] == 0 and warm["errors"] == 0 and check["exact"],
        "vote_in_one_process": steps,
    })


if __name__ == "__main__":
    try:
        print(main(*(int(a) for a in sys.argv[1:2])))
    finally:
        drop_bench_databases()
