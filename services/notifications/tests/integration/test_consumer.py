"""The notifications consumer through the real broker: a redelivered event notifies nobody twice, whether the
consumer's record of processed events drops the duplicate or (as after a crash before that record) the
handler runs again and the store refuses the duplicate notifications."""
from __future__ import annotations

import threading

import pytest

from conftest import wait_for
from services.notifications.handlers import handlers
from services.notifications.repository import DELIVERIES, NOTIFICATIONS
from services.notifications.tests.conftest import event_of, status_data
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
