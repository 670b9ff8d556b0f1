"""Kafka pieces: the producer (key = aggregate id, acks=all with idempotence, small linger for batching),
topic creation at start, and the consumer settings every group uses. Nothing connects at import time."""
from __future__ import annotations

import logging
import time
import uuid
from typing import Iterable

from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from shared.config import Settings
from shared.events.registry import registry

log = logging.getLogger(__name__)


def dead_letter_topic(group: str) -> str:
    return f"cocreate.dlt.{group}"


class NamespacedProducer(KafkaProducer):
    """A producer that sends to the topics of its installation's namespace (Settings.topic): callers name the
    contract's topics, as the outbox entries do."""

    def __init__(self, settings: Settings, **config):
        super().__init__(**config)
        self.settings = settings

    def send(self, topic, *args, **kwargs):
        return super().send(self.settings.topic(topic), *args, **kwargs)


def make_producer(settings: Settings, **overrides) -> KafkaProducer:
    """A producer for one process: build it after gunicorn or the worker has forked."""
    config = dict(
        bootstrap_servers=list(settings.kafka_bootstrap_servers),
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        batch_size=64 * 1024,
        max_in_flight_requests_per_connection=5,
        retries=2**31 - 1,
        client_id=f"cocreate-{settings.service}",
    )
    config.update(overrides)
    return NamespacedProducer(settings, **config) if settings.namespace else KafkaProducer(**config)


def _consumer_config(settings: Settings, group: str, overrides: dict) -> dict:
    config = dict(
        bootstrap_servers=list(settings.kafka_bootstrap_servers),
        group_id=settings.group(group),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=200,
        # The broker answers a fetch as soon as there is a record (fetch_min_bytes 1), else after this: a longer
        # wait costs no latency, only fewer empty round trips (two idle workers: 0.07 of a core less, broker
        # included, than at 50 ms).
        fetch_max_wait_ms=500,
        # A topic created just before (or by) the group's start may be missing from the first metadata: the
        # group then has no partitions of it until the metadata is read again (kafka-python's default: 5 min).
        metadata_max_age_ms=30_000,
        client_id=f"cocreate-{settings.service}-worker",
    )
    config.update(overrides)
    return config


def make_consumer(settings: Settings, group: str, topics: Iterable[str], **overrides) -> KafkaConsumer:
    """A consumer of one group that never commits on its own: the runner commits after the writes. The group
    and the contract's topics are named in the installation's namespace."""
    consumer = KafkaConsumer(**_consumer_config(settings, group, overrides))
    names = [settings.topic(t) for t in topics]
    # Read the topics' metadata before joining: a member that joins first and assigns the partitions with
    # no metadata yet gives the group none ("No partition metadata for topic ..."), until a refresh.
    for name in names:
        consumer.partitions_for_topic(name)
    consumer.subscribe(names, listener=AssignmentLog())
    return consumer


class AssignmentLog(ConsumerRebalanceListener):
    """Says in the log how many partitions, of which topics, a group member holds after each rebalance."""

    def on_partitions_revoked(self, revoked):
        pass

    def on_partitions_assigned(self, assigned):
        topics = sorted({tp.topic for tp in assigned})
        log.info("partitions assigned", extra={"partitions": len(assigned), "topics": topics})


def consumer_at_end(settings: Settings, group_prefix: str, topics: Iterable[str], *, wait_seconds: float = 60,
                    **overrides) -> KafkaConsumer:
    """A consumer that sees only what comes after it (tests, benchmarks): every partition of the topics is
    assigned to it directly, at their end, under a group of its own (`group_prefix` and a random suffix) that
    only keeps its committed offsets. It never joins the group, so there is no join to wait for and no
    rebalance to leave it without partitions (joined as a member, one such consumer once stayed without
    partitions for minutes). The topics are created if missing."""
    topics = list(topics)
    ensure_topics(settings, topics)
    config = _consumer_config(settings, f"{group_prefix}-{uuid.uuid4().hex[:8]}", overrides)
    deadline = time.time() + wait_seconds
    while True:
        consumer = KafkaConsumer(**config)
        known = {settings.topic(t): consumer.partitions_for_topic(settings.topic(t)) for t in topics}
        if all(known.values()):
            break
        consumer.close()  # a topic just created may have no partitions in the metadata yet: ask anew
        if time.time() >= deadline:
            raise TimeoutError(f"no partitions of {sorted(known)} known within {wait_seconds:.0f} s")
        time.sleep(0.5)
    partitions = [TopicPartition(name, p) for name, ids in sorted(known.items()) for p in sorted(ids)]
    consumer.assign(partitions)
    consumer.seek_to_end(*partitions)
    for tp in partitions:
        consumer.position(tp)  # resolved now, not at the first poll: what is sent from here on is seen
    return consumer


def ensure_topics(settings: Settings, topics: Iterable[str]) -> None:
    """Create missing topics (each service's own, the ones it reads, and its dead-letter topic)."""
    wanted = sorted({settings.topic(t) for t in topics})
    admin = KafkaAdminClient(bootstrap_servers=list(settings.kafka_bootstrap_servers),
                             client_id=f"cocreate-{settings.service}-admin")
    try:
        existing = set(admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        for topic in missing:
            try:
                admin.create_topics([NewTopic(topic, settings.topic_partitions, settings.topic_replication)])
                log.info("created topic", extra={"topic": topic})
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def service_topics(service: str) -> list[str]:
    """Every topic a service's worker touches: what it produces, what it consumes, its dead letters."""
    return registry.topics_of_producer(service) + registry.topics_consumed_by(service) + [
        dead_letter_topic(service)]
