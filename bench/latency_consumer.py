"""The consuming side of the outbox latency benchmark, as its own process (like a service's worker): a
ConsumerRunner whose handler prints `<subject> <time.time()>` for every branch it handles."""
from __future__ import annotations

import signal
import sys
import threading
import time

from shared.consumer import ConsumerRunner, Handlers
from shared.kafka import make_consumer, make_producer
from shared.mongo import database_for
from bench.common import bench_settings


def main(db_name: str, group: str) -> None:
    settings = bench_settings("ideas", mongo_db=db_name)
    handlers = Handlers()

    @handlers.on("cocreate.branch.created.v1")
    def handled(db, event):
        print(event.subject, time.time(), flush=True)

    consumer = make_consumer(settings, group, ["cocreate.directory"], auto_offset_reset="latest")
    while not consumer.assignment():
        consumer.poll(timeout_ms=100)
    for tp in consumer.assignment():
        consumer.position(tp)
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    producer = make_producer(settings)
    ConsumerRunner(consumer, producer, database_for(settings), handlers, service="ideas").run(stop)
    producer.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
