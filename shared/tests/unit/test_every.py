"""A worker's periodic chore: rounds repeat until stop, and a failing round does not end them."""
from __future__ import annotations

import threading

from shared.worker import every


def test_rounds_repeat_until_stopped_and_a_failing_round_does_not_end_them():
    calls = []
    stop = threading.Event()

    def chore():
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("the store is away")
        if len(calls) == 4:
            stop.set()
        return {"done": 1}

    thread = threading.Thread(target=every, args=(0.01, chore, stop), kwargs={"what": "chore", "first": 0.0})
    thread.start()
    thread.join(5)
    assert not thread.is_alive() and calls == [0, 1, 2, 3]
