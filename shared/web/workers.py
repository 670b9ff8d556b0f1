"""gunicorn's threaded worker, with connections shared out between the workers.

All workers wait on the one listening socket; when a connection arrives each is woken, and the first to call
accept() takes it. A worker that has just accepted is awake already, so it tends to win the next race too:
eight keep-alive connections opened at once (a load balancer's pool, a benchmark's clients) often all end up
in one worker, whose threads then take turns on one core while the other worker's core stays idle, and every
request on them waits twice as long. Here a worker that already holds as many connections as it has threads
waits a moment before accepting, so an idle worker takes the connection; if none does, it accepts it after
all (a moment later, once per connection, not per request)."""
from __future__ import annotations

import time

from gunicorn.workers.gthread import ThreadWorker

# Long enough for an idle worker, woken by the same connection, to accept it first even on a busy machine (2 ms
# was not, in one test round out of three while other tests ran); short against the life of a keep-alive
# connection, and paid only by a worker that is full already.
HAND_OFF_SECONDS = 0.01


class BalancedThreadWorker(ThreadWorker):
    def accept(self, listener):
        if self.nr_conns >= self.cfg.threads:
            time.sleep(HAND_OFF_SECONDS)
        super().accept(listener)
