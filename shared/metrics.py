"""Prometheus metrics shared by the web and worker processes of every service.

Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set by deploy/gunicorn.conf.py before the app is imported,
so every worker writes its samples there and /metrics aggregates them (multiprocess mode)."""
from __future__ import annotations

import os

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)

HTTP_LATENCY = Histogram(
    "cocreate_http_request_seconds", "HTTP request latency", ["service", "method", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_PUBLISHED = Counter("cocreate_events_published_total", "Events published by the outbox relay",
                           ["service", "type"])
PUBLISH_FAILURES = Counter("cocreate_outbox_publish_failures_total", "Outbox publish attempts that failed",
                           ["service"])
OUTBOX_LOOKS = Counter("cocreate_outbox_looks_total", "Reads of an outbox collection by the relay",
                       ["service", "collection"])
OUTBOX_BACKLOG = Gauge("cocreate_outbox_backlog", "Aggregates with events waiting in their outbox",
                       ["service"], multiprocess_mode="max")
OUTBOX_DELAY = Histogram("cocreate_outbox_delay_seconds", "From an event's creation to its publication",
                         ["service"], buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
EVENTS_CONSUMED = Counter("cocreate_events_consumed_total", "Events taken from Kafka by outcome",
                          ["service", "type", "outcome"])
HANDLER_SECONDS = Histogram("cocreate_event_handler_seconds", "Time spent in event handlers",
                            ["service", "type"])
CONSUMER_LAG = Gauge("cocreate_consumer_lag", "Messages behind the end of each consumed partition",
                     ["service", "topic", "partition"], multiprocess_mode="max")


def render() -> tuple[bytes, str]:
    """The exposition text: aggregated across processes when running under gunicorn."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
