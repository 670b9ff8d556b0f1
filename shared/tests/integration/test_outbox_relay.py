"""The outbox against the real store and broker: atomic with the change, published, marked, re-published
after a crash between publishing and marking."""
import json
import threading
import time

import pytest
from prometheus_client import REGISTRY

from conftest import poll_until, wait_for
from services.directory import services
from services.directory.services import Directory
from shared.auth import ORG_ADMIN, Actor, Principal
from shared.errors import Conflict
from shared.mongo import apply_indexes, database_for
from shared import outbox
from shared.events import new_event
from shared.outbox import DIRECT, ENTRIES, PENDING, Publisher, Relay, written

from services.directory.repository import INDEXES, OUTBOX_COLLECTIONS

ADMIN = Actor(Principal(id="pe_admin", roles=frozenset({ORG_ADMIN})), "corr-test")
NAME = {"he": "סניף", "en": "Branch"}


@pytest.fixture
def directory_db(make_settings):
    db = database_for(make_settings("directory"))
    apply_indexes(db, INDEXES)
    return db


def event_ids(records):
    return [json.loads(r.value)["id"] for r in records]


def test_a_change_and_its_event_are_stored_in_one_document(directory_db):
    branch = services.create_branch(Directory.of(directory_db), ADMIN, code="ATOM-1", name=NAME)
    doc = directory_db.branches.find_one({"_id": branch.id})
    assert doc[PENDING] is True
    [entry] = doc["_outbox"]
    assert entry["type"] == "cocreate.branch.created.v1" and entry["key"] == branch.id


def test_a_refused_write_leaves_no_event(directory_db):
    repo = Directory.of(directory_db)
    services.create_branch(repo, ADMIN, code="DUP-1", name=NAME)
    with pytest.raises(Conflict):
        services.create_branch(repo, ADMIN, code="DUP-1", name=NAME)
    assert directory_db.branches.count_documents({}) == 1
    assert sum(len(d["_outbox"]) for d in directory_db.branches.find({PENDING: True})) == 1


def test_the_relay_publishes_pending_events_with_the_aggregate_id_as_key_and_clears_the_outbox(
        directory_db, producer, consumer_at_end):
    consumer = consumer_at_end("ideas", ["cocreate.directory"])
    branch = services.create_branch(Directory.of(directory_db), ADMIN, code="REL-1", name=NAME)
    relay = Relay(directory_db, OUTBOX_COLLECTIONS, producer, service="directory")
    assert relay.relay_once() == 1
    records = poll_until(consumer, lambda rs: any(r.key == branch.id.encode() for r in rs))
    [record] = [r for r in records if r.key == branch.id.encode()]
    envelope = json.loads(record.value)
    assert envelope["type"] == "cocreate.branch.created.v1" and envelope["correlationid"] == "corr-test"
    assert dict(record.headers)["content-type"] == b"application/cloudevents+json"
    assert directory_db.branches.count_documents({PENDING: True}) == 0
    assert "_outbox" not in directory_db.branches.find_one({"_id": branch.id})
    assert relay.relay_once() == 0


def test_a_relay_stopped_between_publishing_and_marking_publishes_again(directory_db, producer, consumer_at_end,
                                                                        monkeypatch):
    consumer = consumer_at_end("ideas", ["cocreate.directory"])
    branch = services.create_branch(Directory.of(directory_db), ADMIN, code="CRASH-1", name=NAME)
    relay = Relay(directory_db, OUTBOX_COLLECTIONS, producer, service="directory")

    def crash(*args, **kwargs):
        raise SystemExit("relay killed after publishing")

    with monkeypatch.context() as patched:
        patched.setattr(Relay, "_mark_sent", crash)
        with pytest.raises(SystemExit):
            relay.relay_once()
    assert directory_db.branches.count_documents({PENDING: True}) == 1  # nothing was marked
    assert relay.relay_once() == 1  # a restarted relay publishes it again
    records = poll_until(consumer, lambda rs: len([r for r in rs if r.key == branch.id.encode()]) == 2)
    ids = event_ids([r for r in records if r.key == branch.id.encode()])
    assert ids[0] == ids[1]  # the same event twice: consumers drop the second (see test_consumer_runner)


def test_events_appended_while_the_relay_publishes_are_not_lost(directory_db, producer):
    repo = Directory.of(directory_db)
    branch = services.create_branch(repo, ADMIN, code="RACE-1", name=NAME)
    relay = Relay(directory_db, OUTBOX_COLLECTIONS, producer, service="directory")
    original = relay._mark_sent

    def close_meanwhile(collection, docs, done):
        services.close_branch(repo, ADMIN, branch.id)  # a writer appends during publication
        return original(collection, docs, done)

    relay._mark_sent = close_meanwhile
    assert relay.relay_once() == 1
    relay._mark_sent = original
    doc = directory_db.branches.find_one({"_id": branch.id})
    assert [e["type"] for e in doc["_outbox"]] == ["cocreate.branch.closed.v1"] and doc[PENDING] is True
    assert relay.relay_once() == 1
    assert directory_db.branches.count_documents({PENDING: True}) == 0


def test_only_one_relay_of_a_service_holds_the_lease(directory_db, producer):
    first = Relay(directory_db, OUTBOX_COLLECTIONS, producer, service="directory")
    second = Relay(directory_db, OUTBOX_COLLECTIONS, producer, service="directory")
    assert first.holds_lease() and not second.holds_lease()
    first.release()
    assert second.holds_lease()


def looks(service: str, collection: str) -> float:
    return REGISTRY.get_sample_value("cocreate_outbox_looks_total", {"service": service, "collection": collection}) or 0


def test_a_quiet_collection_is_looked_at_less_often_and_one_with_events_at_every_interval(directory_db, producer):
    clock = Seconds()
    service = f"directory-pace-{id(clock)}"  # its own metric labels
    relay = Relay(directory_db, OUTBOX_COLLECTIONS, producer, service=service, poll_seconds=0.05,
                  idle_poll_seconds=0.5, clock=clock)
    branches, others = OUTBOX_COLLECTIONS[0], OUTBOX_COLLECTIONS[1:]
    looked = lambda name: looks(service, name)  # noqa: E731

    assert relay.relay_once(due_only=True) == 0 and looked(branches) == 1  # every collection at first
    clock.at += 0.01
    assert relay.relay_once(due_only=True) == 0 and looked(branches) == 1  # not yet: the poll interval
    clock.at += 0.05
    relay.relay_once(due_only=True)
    assert looked(branches) == 2  # quiet under a second: every poll interval
    clock.at = 2.0
    relay.relay_once(due_only=True)
    assert looked(branches) == 3  # quiet 2 s: next look in min(0.5, 2 / 4) s
    assert relay._next_look_in() == pytest.approx(0.5)

    services.create_branch(Directory.of(directory_db), ADMIN, code="PACE-1", name=NAME)
    clock.at = 2.3
    assert relay.relay_once(due_only=True) == 0 and looked(branches) == 3  # waits for its turn...
    clock.at = 2.5
    assert relay.relay_once(due_only=True) == 1  # ...and goes out then (the others were due too)
    assert relay.relay_once(due_only=True) == 0 and looked(branches) == 4  # fewer than a batch: again in 50 ms
    assert all(looked(name) == 4 for name in others)  # the quiet ones: in half a second
    clock.at = 2.56
    relay.relay_once(due_only=True)
    assert looked(branches) == 5 and all(looked(name) == 4 for name in others)  # events a moment ago: every 50 ms
    assert relay.relay_once() == 0 and all(looked(name) == 5 for name in others)  # not due_only: every one

    clock.at = 10.0  # quiet for a while: the next look is half a second away...
    relay.relay_once(due_only=True)
    assert relay._next_look_in() == pytest.approx(0.5)
    relay.wake(branches)  # ...unless events were just written: then a quarter of the poll interval after the last
    assert relay._next_look_in() == pytest.approx(0.0125)


def test_a_full_batch_is_followed_by_another_look_at_once(directory_db, producer):
    clock = Seconds()
    relay = Relay(directory_db, OUTBOX_COLLECTIONS, producer, service="directory", batch=2, clock=clock)
    relay.relay_once()  # what earlier tests left
    for n in range(3):
        services.create_branch(Directory.of(directory_db), ADMIN, code=f"FULL-{n}", name=NAME)
    clock.at += 1
    assert relay.relay_once(due_only=True) == 2 and relay._next_look_in() == 0  # a full batch: there may be more
    assert relay.relay_once(due_only=True) == 1 and relay._next_look_in() > 0


def test_a_running_relay_publishes_at_once_what_its_process_says_it_has_written(directory_db, producer):
    relay = Relay(directory_db, OUTBOX_COLLECTIONS, producer, service="directory", poll_seconds=0.05,
                  idle_poll_seconds=30.0)
    relay.relay_once()
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(0.3)  # waiting for its next look...
        for name in OUTBOX_COLLECTIONS:
            relay._look_at[name] = relay.clock() + 30  # ...which is, say, 30 s away (a collection quiet for long)
        services.create_branch(Directory.of(directory_db), ADMIN, code="WAKE-1", name=NAME)
        written(OUTBOX_COLLECTIONS[0])
        started = time.monotonic()
        wait_for(lambda: directory_db.branches.count_documents({PENDING: True}) == 0, timeout=5, every=0.01)
        assert time.monotonic() - started < 1.0  # not the 30 s it would have waited
    finally:
        stop.set()
        relay._woken.set()
        thread.join(5)


# --- publishing at once ---------------------------------------------------------------------------------

def branch_event(branch_id: str, n: int):
    return new_event("cocreate.branch.updated.v1", source="/directory", subject=branch_id,
                     data={"branch_id": branch_id, "code": f"AT-{n}", "name": NAME, "region_id": None,
                           "address": None, "open": True})


@pytest.fixture
def at_once(producer):
    """This process publishes its writes' events at once, through the test's producer; back to the relay after."""
    publisher = Publisher(lambda: producer, service="directory")
    outbox.publish_at_once_by(publisher)
    yield publisher
    outbox.publish_at_once_by(None)


def test_events_published_at_once_reach_the_broker_in_order_without_a_relay_and_leave_the_outbox_empty(
        directory_db, at_once, consumer_at_end):
    consumer = consumer_at_end("ideas", ["cocreate.directory"])
    branches = directory_db.branches
    first, second = branch_event("br_at_once1", 1), branch_event("br_at_once1", 2)
    outbox.insert_one(branches, {"_id": "br_at_once1", "code": "AT-1"}, [first])
    assert at_once.idle(timeout=10)
    result = outbox.update_one(branches, {"_id": "br_at_once1"}, {"$set": {"code": "AT-2"}}, [second])
    assert result.modified_count == 1 and at_once.idle(timeout=10)
    records = poll_until(consumer, lambda rs: len([r for r in rs if r.key == b"br_at_once1"]) == 2)
    assert event_ids(r for r in records if r.key == b"br_at_once1") == [first.id, second.id]
    doc = branches.find_one({"_id": "br_at_once1"})
    assert doc["code"] == "AT-2" and ENTRIES not in doc and PENDING not in doc


def test_an_update_behind_events_still_waiting_leaves_all_of_them_to_the_relay_in_order(
        directory_db, producer, at_once, consumer_at_end):
    consumer = consumer_at_end("ideas", ["cocreate.directory"])
    branches = directory_db.branches
    waiting, behind = branch_event("br_behind1", 1), branch_event("br_behind1", 2)
    outbox.publish_at_once_by(None)  # written by the relay's way: pending
    outbox.insert_one(branches, {"_id": "br_behind1", "code": "AT-1"}, [waiting])
    outbox.publish_at_once_by(at_once)
    outbox.update_one(branches, {"_id": "br_behind1"}, {"$set": {"code": "AT-2"}}, [behind])
    assert at_once.idle(timeout=10)
    doc = branches.find_one({"_id": "br_behind1"})
    assert doc["code"] == "AT-2" and doc[PENDING] is True  # not published at once: it would have overtaken
    assert [e["id"] for e in doc[ENTRIES]] == [waiting.id, behind.id]
    Relay(directory_db, OUTBOX_COLLECTIONS, producer, service="directory").relay_once()
    records = poll_until(consumer, lambda rs: len([r for r in rs if r.key == b"br_behind1"]) == 2)
    assert event_ids(r for r in records if r.key == b"br_behind1") == [waiting.id, behind.id]


def test_an_update_that_matches_nothing_changes_nothing(directory_db, at_once):
    outbox.insert_one(directory_db.branches, {"_id": "br_nomatch", "version": 2}, [])
    result = outbox.update_one(directory_db.branches, {"_id": "br_nomatch", "version": 1}, {"$set": {"version": 2}},
                               [branch_event("br_nomatch", 1)])
    assert result.matched_count == 0
    assert directory_db.branches.find_one({"_id": "br_nomatch"}) == {"_id": "br_nomatch", "version": 2}


def test_what_a_publisher_could_not_publish_the_relay_publishes_after_the_grace(directory_db, producer,
                                                                               consumer_at_end, monkeypatch):
    def broker_away():
        raise OSError("no broker")

    publisher = Publisher(broker_away, service="directory")
    outbox.publish_at_once_by(publisher)
    try:
        event = branch_event("br_left1", 1)
        outbox.insert_one(directory_db.branches, {"_id": "br_left1"}, [event])
        assert publisher.idle(timeout=10)
    finally:
        outbox.publish_at_once_by(None)
    assert directory_db.branches.find_one({"_id": "br_left1"})[PENDING] == DIRECT
    consumer = consumer_at_end("ideas", ["cocreate.directory"])
    relay = Relay(directory_db, OUTBOX_COLLECTIONS, producer, service="directory")
    relay.relay_once()
    assert directory_db.branches.find_one({"_id": "br_left1"})[PENDING] == DIRECT  # within the grace: left be
    monkeypatch.setattr(outbox, "DIRECT_GRACE_SECONDS", 0.0)
    assert relay.relay_once() >= 1
    records = poll_until(consumer, lambda rs: any(r.key == b"br_left1" for r in rs))
    assert event_ids(r for r in records if r.key == b"br_left1") == [event.id]
    assert PENDING not in directory_db.branches.find_one({"_id": "br_left1"})


class Seconds:
    """A monotonic clock moved by hand."""

    def __init__(self):
        self.at = 0.0

    def __call__(self) -> float:
        return self.at
