"""The web processes' gunicorn worker (shared/web/workers.py): keep-alive connections opened at once are
shared out between the workers. Plain gthread, run the same way here, put 5 to 7 of 8 in one worker in most
rounds, so that half the machine waited while the other half queued."""
from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
APP = '''
import os, time

def app(environ, start_response):
    started = time.process_time()
    while time.process_time() - started < 0.002:  # a little CPU, as a request does
        pass
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
'''


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    (tmp_path / "pidapp.py").write_text(APP)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"), "pidapp:app"],
        cwd=tmp_path, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}", GUNICORN_BIND=f"127.0.0.1:{port}",
                 WEB_CONCURRENCY="2", GUNICORN_THREADS="4", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom")))
    try:
        deadline = time.time() + 30
        while True:
            try:
                pids = {_ask(port) for _ in range(20)}
                if len(pids) == 2 or time.time() > deadline:
                    break
            except OSError:
                if time.time() > deadline:
                    raise
            time.sleep(0.2)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def _ask(port: int, conn: http.client.HTTPConnection | None = None) -> str:
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/")
    body = c.getresponse().read().decode()
    if conn is None:
        c.close()
    return body


def _round(port: int, clients: int = 8) -> list[int]:
    """`clients` keep-alive connections opened at the same moment, ten requests each; how many connections
    each worker served."""
    start, lock, served = threading.Barrier(clients), threading.Lock(), []

    def client():
        start.wait()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        pids = {_ask(port, conn) for _ in range(10)}
        conn.close()
        with lock:
            served.append(pids.pop() if len(pids) == 1 else "moved")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(Counter(served).values())


def test_connections_opened_at_once_are_shared_out_between_the_workers(server):
    rounds = []
    for _ in range(5):
        rounds.append(_round(server))
        time.sleep(0.3)  # the connections closed: each round starts with both workers idle
    assert sum(r == [4, 4] for r in rounds) >= 4, rounds
