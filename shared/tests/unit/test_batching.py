"""Group commit: every request gets its own item's answer, concurrent requests share writes, errors reach
everyone of their batch, and a request alone is written at once."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.batching import GroupCommit


def test_a_request_alone_is_written_at_once_in_a_batch_of_its_own():
    batches = []
    commit = GroupCommit(lambda items: batches.append(list(items)) or [item * 2 for item in items])
    assert commit.submit(21) == 42
    assert commit.submit(5) == 10
    assert batches == [[21], [5]]


def test_concurrent_requests_share_writes_and_each_gets_its_own_answer():
    batches = []

    def write(items):
        batches.append(list(items))
        time.sleep(0.01)  # a write takes a while: requests arriving meanwhile queue for the next one
        return [f"done {item}" for item in items]

    commit = GroupCommit(write, max_batch=16)
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(commit.submit, range(200)))
    assert answers == [f"done {n}" for n in range(200)]
    assert sorted(item for batch in batches for item in batch) == list(range(200))  # each written once
    assert len(batches) < 100 and max(len(b) for b in batches) <= 16


def test_a_failed_write_fails_every_request_of_its_batch_and_the_next_batch_goes_on():
    started, release = threading.Event(), threading.Event()
    calls = []

    def write(items):
        calls.append(list(items))
        if len(calls) == 1:
            started.set()
            release.wait(5)
            return ["first"]
        if len(calls) == 2:
            raise ValueError("store away")
        return ["ok"] * len(items)

    commit = GroupCommit(write)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(commit.submit, "a")
        started.wait(5)
        queued = [pool.submit(commit.submit, item) for item in ("b", "c")]
        time.sleep(0.05)
        release.set()
        assert first.result(5) == "first"
        for future in queued:
            with pytest.raises(ValueError, match="store away"):
                future.result(5)
    assert calls[1] == ["b", "c"]
    assert commit.submit("d") == "ok"


def test_a_write_answering_the_wrong_number_of_results_is_an_error():
    commit = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        commit.submit("x")
