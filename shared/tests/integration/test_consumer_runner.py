"""The consumer runner against the real broker and store: idempotent, commits after writes, dead-letters."""
import json
import threading
import time

import pytest
from kafka import KafkaAdminClient, TopicPartition

from conftest import poll_until, wait_for
from shared.consumer import PROCESSED, ConsumerRunner, Handlers
from shared.events import new_event
from shared.kafka import dead_letter_topic, ensure_topics
from shared.mongo import database_for
from shared.readmodels import BRANCHES, keep_branches


def branch_event(code: str):
    data = {"branch_id": f"br_{code}", "code": code, "name": {"he": "ס", "en": "B"}, "region_id": "rg_1",
            "open": True}
    return new_event("cocreate.branch.created.v1", source="/directory", subject=data["branch_id"], data=data)


def send(producer, event):
    producer.send(event.topic, key=event.key.encode(), value=event.value.encode()).get(timeout=10)


class Running:
    """A ConsumerRunner on a thread, stopped (and its consumer closed) at the end of the test."""

    def __init__(self, runner):
        self.stop = threading.Event()
        self.thread = threading.Thread(target=runner.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def close(self):
        self.stop.set()
        self.thread.join(15)


@pytest.fixture
def ideas(make_settings, consumer_at_end, producer):
    """The ideas service's consumer side, on a fresh group and database, with counted handler calls."""
    settings = make_settings("ideas")
    db = database_for(settings)
    handlers = Handlers()
    keep_branches(handlers)
    calls = []
    inner = handlers.by_type["cocreate.branch.created.v1"]

    def counted(db, event):
        calls.append(event.id)
        if event.data["code"].startswith("POISON"):
            raise ValueError("this handler cannot take poison")
        inner(db, event)

    handlers.by_type["cocreate.branch.created.v1"] = counted
    ensure_topics(settings, [dead_letter_topic("ideas")])
    consumer = consumer_at_end("ideas", ["cocreate.directory"])
    runner = ConsumerRunner(consumer, producer, db, handlers, service="ideas", max_attempts=3, backoff_seconds=0.01)
    running = Running(runner)
    yield db, calls, consumer
    running.close()


def test_the_same_event_delivered_twice_changes_nothing_the_second_time(ideas, producer):
    db, calls, _ = ideas
    event = branch_event("TWICE")
    send(producer, event)
    send(producer, event)
    wait_for(lambda: db[PROCESSED].find_one({"_id": event.id}) is not None)
    later = branch_event("AFTER")  # once a later event is handled, the duplicate has surely been seen
    send(producer, later)
    wait_for(lambda: db[BRANCHES].find_one({"_id": later.subject}) is not None)
    assert calls.count(event.id) == 1
    assert db[BRANCHES].count_documents({"_id": event.subject}) == 1


def test_a_message_whose_handler_always_fails_is_dead_lettered_and_the_group_goes_on(
        ideas, producer, consumer_at_end, make_settings):
    db, calls, _ = ideas
    dlt = consumer_at_end("ideas", [dead_letter_topic("ideas")])
    poison, healthy = branch_event("POISON"), branch_event("HEALTHY")
    send(producer, poison)
    send(producer, healthy)
    wait_for(lambda: db[BRANCHES].find_one({"_id": healthy.subject}) is not None)
    assert calls.count(poison.id) == 3  # bounded retries
    records = poll_until(dlt, lambda rs: any(json.loads(r.value)["id"] == poison.id for r in rs))
    [dead] = [r for r in records if json.loads(r.value)["id"] == poison.id]
    headers = dict(dead.headers)
    assert b"ValueError" in headers["dlt-reason"]
    # where it came from, as the broker names it (the suite's namespace: "test.cocreate.directory")
    assert json.loads(headers["dlt-origin"])["topic"] == make_settings("ideas").topic("cocreate.directory")
    assert db[BRANCHES].find_one({"_id": poison.subject}) is None


def test_the_offset_is_committed_only_after_the_handlers_writes(make_settings, consumer_at_end, producer):
    settings = make_settings("ideas")
    db = database_for(settings)
    release = threading.Event()
    handlers = Handlers()

    @handlers.on("cocreate.branch.created.v1")
    def slow(db, event):
        release.wait(20)
        db["seen"].insert_one({"_id": event.id})

    consumer = consumer_at_end("ideas", ["cocreate.directory"])
    group = consumer.config["group_id"]
    running = Running(ConsumerRunner(consumer, producer, db, handlers, service="ideas"))
    admin = KafkaAdminClient(bootstrap_servers=list(settings.kafka_bootstrap_servers))
    try:
        event = branch_event("SLOW")
        sent = producer.send(event.topic, key=event.key.encode(), value=event.value.encode()).get(timeout=10)
        tp = TopicPartition(sent.topic, sent.partition)

        def committed():
            offset = admin.list_group_offsets(group).get(group, {}).get(tp)
            return offset.offset if offset else -1

        time.sleep(1.0)  # the handler holds the record; nothing may be committed past it meanwhile
        assert committed() <= sent.offset and db["seen"].count_documents({}) == 0
        release.set()
        wait_for(lambda: committed() == sent.offset + 1)
        assert db["seen"].find_one({"_id": event.id}) is not None
    finally:
        release.set()
        running.close()
        admin.close()
