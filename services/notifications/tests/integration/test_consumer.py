"""The notifications consumer through the real broker: a redelivered event notifies nobody twice, whether the
consumer's record of processed events drops the duplicate or (as after a crash before that record) the
handler runs again and the store refuses the duplicate notifications."""
from __future__ import annotations

import threading

import pytest
from pymongo import MongoClient, monitoring

from conftest import wait_for
from services.notifications.handlers import handlers
from services.notifications.repository import DELIVERIES, EMAILS, NOTIFICATIONS
from services.notifications.tests.conftest import event_of, polled, status_data
from shared.consumer import ConsumerRunner, ProcessedEvents


class Forgetful(ProcessedEvents):
    """Remembers nothing, as if every delivery came after a crash that lost the record."""

    def seen(self, event_ids):
        return set()

    def record(self, events):
        pass


@pytest.fixture(params=["recorded", "forgotten"])
def running(request, org, consumer_at_end, producer):
    consumer = consumer_at_end("notifications", ["cocreate.ideas"])
    processed = Forgetful(org.db) if request.param == "forgotten" else None
    runner = ConsumerRunner(consumer, producer, org.db, handlers, service="notifications", processed=processed,
                            backoff_seconds=0.01)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(15)


def send(producer, event) -> None:
    producer.send(event.topic, key=event.key.encode(), value=event.value.encode()).get(timeout=10)


def test_an_event_delivered_twice_through_the_broker_notifies_each_person_once(org, running, producer):
    idea = org.idea("p1", followers=("p2", "p3"))
    moved = event_of("cocreate.idea.status_changed.v1", idea, status_data(
        idea, org.a, "under_review", org.ids["staff_a"], org.ids["p1"]), actor=org.ids["staff_a"])
    send(producer, moved)
    send(producer, moved)
    later = event_of("cocreate.idea.status_changed.v1", idea, status_data(
        idea, org.a, "planned", org.ids["staff_a"], org.ids["p1"], previous="under_review"), actor=org.ids["staff_a"])
    send(producer, later)  # one key, one partition: once this is handled, both copies were
    wait_for(lambda: org.db[NOTIFICATIONS].count_documents({"event.id": later.id}) == 3, timeout=60)
    assert org.db[NOTIFICATIONS].count_documents({"event.id": moved.id}) == 3
    assert org.db[DELIVERIES].count_documents({"event_id": moved.id}) == 1
    assert org.messages("p2") == ["idea.status_changed.follower"] * 2
    assert org.messages("p1") == ["idea.status_changed.author"] * 2


class Inserts(monitoring.CommandListener):
    """Counts the insert commands sent, per collection."""

    def __init__(self):
        self.by_collection: dict[str, int] = {}

    def started(self, event):
        if event.command_name == "insert":
            name = event.command["insert"]
            self.by_collection[name] = self.by_collection.get(name, 0) + 1

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def test_a_polled_batch_of_events_is_written_with_one_insert_of_each_kind(org, producer):
    """The consumer writes the fan-outs of a polled batch together (the store's cost is per command), with the
    same result as one event at a time; redelivered, the batch notifies nobody twice."""
    ideas = {who: org.idea(who, followers=("p3",) if who != "p3" else ()) for who in ("p1", "p2")}
    moves = [event_of("cocreate.idea.status_changed.v1", idea, status_data(
        idea, org.a, "under_review", org.ids["staff_a"], org.ids[who]), actor=org.ids["staff_a"])
        for who, idea in ideas.items()]
    inserts = Inserts()
    host, port = org.db.client.address
    client = MongoClient(f"mongodb://{host}:{port}/", tz_aware=True, event_listeners=[inserts])
    try:
        runner = ConsumerRunner(None, producer, client[org.db.name], handlers, service="notifications")
        records = polled(moves)
        runner.process(records)
        assert {name: inserts.by_collection.get(name) for name in (NOTIFICATIONS, DELIVERIES, EMAILS)} == {
            NOTIFICATIONS: 1, DELIVERIES: 1, EMAILS: 1}
        runner.process(records)  # redelivered (these events skip the processed record): the store refuses all
    finally:
        client.close()
    for move in moves:
        assert org.db[NOTIFICATIONS].count_documents({"event.id": move.id}) == 2  # the author and p3
        assert org.db[DELIVERIES].count_documents({"event_id": move.id}) == 1
        assert org.db[EMAILS].count_documents({"event.id": move.id}) == 1  # the author (followers: none by default)
    assert org.messages("p3") == ["idea.status_changed.follower"] * 2
    assert org.messages("p1") == ["idea.status_changed.author"]


def test_an_erasure_in_the_same_polled_batch_as_a_change_leaves_nothing_of_the_person(org, producer):
    """The change's fan-out is held for the batch's end; the erasure after it in the batch must still find it."""
    idea = org.idea("p1", followers=("p2",))
    moved = event_of("cocreate.idea.status_changed.v1", idea, status_data(
        idea, org.a, "under_review", org.ids["staff_a"], org.ids["p1"]), actor=org.ids["staff_a"])
    erased = event_of("cocreate.person.erased.v1", org.ids["p1"], {"person_id": org.ids["p1"]})
    runner = ConsumerRunner(None, producer, org.db, handlers, service="notifications")
    runner.process(polled([moved, erased]))
    assert org.db[NOTIFICATIONS].count_documents({"recipient": org.ids["p1"]}) == 0
    [email] = org.db[EMAILS].find({"recipient": org.ids["p1"]})  # kept as a record of what was not sent
    assert email["status"] == "cancelled" and "params" not in email
    assert org.messages("p2") == ["idea.status_changed.follower"]  # the rest of the batch is written
