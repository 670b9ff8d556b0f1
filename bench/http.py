"""HTTP load with wrk (Debian's package): runs a gunicorn app with our configuration and measures it."""
from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def call(port: int, method: str, path: str, token: str, body: dict | None = None,
         timeout: float = 60) -> tuple[int, dict]:
    """One JSON request as a signed-in client, on a connection of its own: the status and the JSON answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
        return response.status, (json.loads(raw) if raw else {})
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_class() -> str:
    """The worker class deploy/gunicorn.conf.py names (what the benchmarks ran under)."""
    found = re.search(r'^worker_class = "([^"]+)"', (ROOT / "deploy/gunicorn.conf.py").read_text(), re.M)
    return found.group(1) if found else "unknown"


class Gunicorn:
    """gunicorn with deploy/gunicorn.conf.py serving `target` on a free loopback port."""

    def __init__(self, target: str, env: dict | None = None):
        self.port = free_port()
        self.env = dict(os.environ, **(env or {}), GUNICORN_BIND=f"127.0.0.1:{self.port}", PYTHONPATH=str(ROOT),
                        PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="bench-prom-"), LOG_LEVEL="WARNING")
        self.target = target

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy/gunicorn.conf.py"),
                                      self.target], env=self.env, cwd=ROOT, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn {self.target} did not start")

    def __exit__(self, *exc):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(30)


def wrk(url: str, *, body: str | None = None, method: str = "POST", headers: dict | None = None,
        seconds: int = 10, connections: int = 16, threads: int = 2, lua: str | None = None) -> dict:
    """Run wrk; returns requests/s, latency percentiles (ms) and non-2xx count."""
    script = lua or _lua(method, body, headers or {})
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency",
                          "-s", f.name, url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def _lua(method: str, body: str | None, headers: dict) -> str:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = [[{body}]]")
        headers = {"Content-Type": "application/json", **headers}
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    return "\n".join(lines) + "\n"


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def parse_wrk(out: str) -> dict:
    result = {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for p in ("50", "90", "99"):
        m = re.search(rf"^\s+{p}(?:\.000)?%\s+(\S+)", out, re.M)
        if m:
            result[f"p{p}_ms"] = round(_ms(m.group(1)), 2)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non_2xx"] = int(errors.group(1)) if errors else 0
    socket_errors = re.search(r"Socket errors: (.*)", out)
    result["socket_errors"] = socket_errors.group(1) if socket_errors else ""
    return result
