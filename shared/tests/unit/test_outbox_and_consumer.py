"""Outbox staging and the consumer runner's retry and dead-letter rules, with fakes (no broker, no store)."""
import threading
import time
from types import SimpleNamespace

from shared.consumer import ConsumerRunner, Handlers
from shared.events import new_event
from shared.outbox import ENTRIES, PENDING, update_with_events, with_events

DATA = {"branch_id": "br_1", "code": "A", "name": {"he": "א", "en": "A"}, "region_id": None, "open": True}


def event():
    return new_event("cocreate.branch.created.v1", source="/directory", subject="br_1", data=DATA)


def test_a_new_document_carries_its_events_and_the_pending_flag():
    e = event()
    doc = with_events({"_id": "br_1", "code": "A"}, [e])
    assert doc[PENDING] is True
    assert [x["id"] for x in doc[ENTRIES]] == [e.id] and doc[ENTRIES][0]["value"] == e.value


def test_an_update_appends_events_in_the_same_operation():
    e1, e2 = event(), event()
    update = update_with_events({"$set": {"open": False}, "$inc": {"version": 1}}, [e1, e2])
    assert update["$set"] == {"open": False, PENDING: True}
    assert [x["id"] for x in update["$push"][ENTRIES]["$each"]] == [e1.id, e2.id]


def test_no_events_means_no_outbox_fields():
    assert with_events({"_id": 1}, []) == {"_id": 1}
    assert update_with_events({"$set": {"a": 1}}, []) == {"$set": {"a": 1}}


class FakeProcessed:
    def __init__(self):
        self.ids = set()

    def seen(self, event_ids):
        return set(event_ids) & self.ids

    def record(self, events):
        self.ids.update(e.id for e in events)


class FakeProducer:
    def __init__(self):
        self.sent = []

    def send(self, topic, key=None, value=None, headers=None):
        self.sent.append((topic, key, value, dict(headers)))
        return SimpleNamespace(get=lambda timeout=None: None)


def runner(handlers):
    return ConsumerRunner(consumer=None, producer=FakeProducer(), db=None, handlers=handlers, service="ideas",
                          max_attempts=3, backoff_seconds=0, processed=FakeProcessed())


def record(e, offset=0):
    return SimpleNamespace(value=e.value.encode(), key=e.key.encode(), headers=[], topic="cocreate.directory",
                           partition=0, offset=offset)


def test_a_redelivered_event_reaches_its_handler_once():
    calls = []
    handlers = Handlers()
    handlers.on("cocreate.branch.created.v1")(lambda db, e: calls.append(e.id))
    r, e = runner(handlers), event()
    r.process([record(e), record(e, 1)])  # twice in one batch
    r.process([record(e, 2)])  # and again in a later one
    assert calls == [e.id]


def test_a_handler_that_fails_then_succeeds_is_retried_and_not_dead_lettered():
    attempts = []
    handlers = Handlers()

    @handlers.on("cocreate.branch.created.v1")
    def flaky(db, e):
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("store hiccup")

    r = runner(handlers)
    r.process([record(event())])
    assert len(attempts) == 3 and r.producer.sent == []


def test_a_handler_that_always_fails_is_dead_lettered_and_the_next_event_is_handled():
    handled = []
    handlers = Handlers()

    @handlers.on("cocreate.branch.created.v1")
    def handler(db, e):
        if e.subject == "br_1":
            raise ValueError("cannot handle")
        handled.append(e.subject)

    bad = event()
    good = new_event("cocreate.branch.created.v1", source="/directory", subject="br_2", data=dict(DATA, branch_id="br_2"))
    r = runner(handlers)
    r.process([record(bad), record(good, 1)])
    assert handled == ["br_2"]
    [(topic, key, value, headers)] = r.producer.sent
    assert topic == "cocreate.dlt.ideas" and value == bad.value.encode()
    assert b"ValueError" in headers["dlt-reason"]


def test_a_malformed_message_goes_straight_to_dead_letters():
    r = runner(Handlers())
    r.process([SimpleNamespace(value=b"not json", key=None, headers=[], topic="t", partition=0, offset=5)])
    assert r.producer.sent[0][0] == "cocreate.dlt.ideas"


class LeftOutConsumer:
    """A group member that Kafka gave no partitions, of topics that have some (or none, when `empty`)."""

    def __init__(self, empty=False):
        self.held, self.empty, self.joins = set(), empty, 0

    def assignment(self):
        return self.held

    def subscription(self):
        return {"cocreate.ideas"}

    def partitions_for_topic(self, topic):
        return set() if self.empty else {0, 1, 2}

    def unsubscribe(self):
        pass

    def subscribe(self, topics, listener=None):
        assert topics == ["cocreate.ideas"] and listener is not None
        self.joins += 1


def test_a_member_left_without_partitions_joins_again_less_often_each_time():
    now = [0.0]
    consumer = LeftOutConsumer()
    r = ConsumerRunner(consumer=consumer, producer=None, db=None, handlers=Handlers(), service="ideas",
                       processed=FakeProcessed(), clock=lambda: now[0])
    joins = []
    for _ in range(200):  # 100 s, a check every half second
        r.rejoin_if_left_out()
        joins.append(consumer.joins)
        now[0] += 0.5
    # first after 20 s without partitions, then 40 s later, then 80 s later
    assert [joins.index(n) / 2 for n in (1, 2)] == [20.0, 60.0] and joins[-1] == 2

    consumer.held = {("cocreate.ideas", 0)}  # assigned at last: the wait starts over
    r.rejoin_if_left_out()
    consumer.held = set()
    start = consumer.joins
    for _ in range(41):
        r.rejoin_if_left_out()
        now[0] += 0.5
    assert consumer.joins == start + 1


def test_a_member_of_topics_without_partitions_does_not_rejoin():
    now = [0.0]
    consumer = LeftOutConsumer(empty=True)
    r = ConsumerRunner(consumer=consumer, producer=None, db=None, handlers=Handlers(), service="ideas",
                       processed=FakeProcessed(), clock=lambda: now[0])
    for _ in range(200):
        r.rejoin_if_left_out()
        now[0] += 0.5
    assert consumer.joins == 0


def test_a_member_that_takes_nothing_while_events_wait_joins_the_group_again():
    now = [0.0]
    consumer = LeftOutConsumer()
    consumer.held = {("cocreate.ideas", 0)}
    r = ConsumerRunner(consumer=consumer, producer=None, db=None, handlers=Handlers(), service="ideas",
                       processed=FakeProcessed(), clock=lambda: now[0])
    for _ in range(12):  # a check every 5 s, nothing waiting (the last at 55 s): all is well
        r.rejoin_if_stalled(0)
        now[0] += 5
    assert consumer.joins == 0
    joined_at = []
    for _ in range(8):  # from 60 s to 95 s, 3 events wait and none is taken
        r.rejoin_if_stalled(3)
        if consumer.joins > len(joined_at):
            joined_at.append(now[0])
        now[0] += 5
    assert joined_at == [70.0, 85.0]  # 15 s after the last check with nothing waiting, then 15 s later


def test_events_of_idempotent_handlers_skip_the_processed_record_and_others_keep_it():
    handlers, handled = Handlers(), []

    @handlers.on("cocreate.branch.created.v1", idempotent=True)
    def by_its_ids(db, e):
        handled.append(e.id)

    @handlers.on("cocreate.branch.updated.v1")
    def once(db, e):
        handled.append(e.id)

    asked = []

    class Processed(FakeProcessed):
        def seen(self, event_ids):
            ids = list(event_ids)
            asked.extend(ids)
            return super().seen(ids)

    r = ConsumerRunner(consumer=None, producer=FakeProducer(), db=None, handlers=handlers, service="ideas",
                       processed=Processed())
    idempotent = event()
    other = new_event("cocreate.branch.updated.v1", source="/directory", subject="br_1", data=DATA)
    r.process([record(idempotent), record(other, 1)])
    r.process([record(idempotent), record(other, 1)])  # redelivered: the idempotent one runs again, harmlessly
    assert asked == [other.id, other.id] and r.processed.ids == {other.id}
    assert handled == [idempotent.id, other.id, idempotent.id]


def test_idempotent_events_of_different_aggregates_are_handled_together_and_of_one_in_order():
    handlers, log, lock = Handlers(concurrency=4), [], threading.Lock()
    active, most = [0], [0]

    @handlers.on("cocreate.branch.created.v1", idempotent=True)
    def slow(db, e):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
            log.append(("start", e.subject))
        time.sleep(0.05)
        with lock:
            active[0] -= 1
            log.append(("end", e.subject))

    @handlers.on("cocreate.branch.updated.v1")
    def barrier(db, e):
        with lock:
            log.append(("alone", e.subject, active[0]))

    def created(subject):
        return new_event("cocreate.branch.created.v1", source="/directory", subject=subject, data=DATA)

    a1, b1, c1, a2 = created("br_a"), created("br_b"), created("br_c"), created("br_a")
    alone = new_event("cocreate.branch.updated.v1", source="/directory", subject="br_x", data=DATA)
    after = created("br_d")
    r = runner(handlers)
    r.process([record(e, n) for n, e in enumerate([a1, b1, c1, a2, alone, after])])
    assert most[0] == 3  # br_a, br_b and br_c at once; br_a's second event after its first
    a_steps = [step for step in log if step[1] == "br_a"]
    assert a_steps == [("start", "br_a"), ("end", "br_a"), ("start", "br_a"), ("end", "br_a")]
    ended_before = [step for step in log[:log.index(("alone", "br_x", 0))] if step[0] == "end"]
    assert len(ended_before) == 4  # the other event waited for the stretch before it, alone
    assert log[-2:] == [("start", "br_d"), ("end", "br_d")]
