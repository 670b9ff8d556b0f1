"""The local platform: Kafka and the store, every service's web (gunicorn) and worker, and the nginx edge
on one port, as `make run` (foreground; Ctrl-C stops everything it started), `make up` and `make down`.

Usage: python deploy/local/stack.py run | up | down | status

Environment: COCREATE_VAR_DIR (the infrastructure's data, and the JWT keys), COCREATE_STACK_DIR (this
stack's pid files, logs, nginx and metrics files; default the var dir, so a second stack, e.g. the browser
tests', runs beside a developer's with its own folder and ports), EDGE_PORT, SERVICES_BASE_PORT,
WORKER_METRICS_BASE_PORT. Kafka and the store are shared: a stack starts them only when they are not running,
and stops only what it started.
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from shared.config import SERVICES  # noqa: E402

VAR = Path(os.environ.get("COCREATE_VAR_DIR", ROOT / "var")).resolve()
STACK = Path(os.environ.get("COCREATE_STACK_DIR", VAR)).resolve()
RUN, LOG = STACK / "run", STACK / "log"
PIDFILE = RUN / "stack.pid"
INFRA_MARK = RUN / "stack-started-infra"
EDGE_PORT = int(os.environ.get("EDGE_PORT", "8080"))
BASE_PORT = int(os.environ.get("SERVICES_BASE_PORT", "8001"))  # directory 8001, ideas 8002, ...
METRICS_BASE_PORT = int(os.environ.get("WORKER_METRICS_BASE_PORT", "9101"))
PYTHON = sys.executable
INFRA_PORTS = (("KAFKA_PORT", "9092"), ("STORE_PORT", "27017"))
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


def service_port(name: str) -> int:
    return BASE_PORT + SERVICES.index(name)


def say(message: str) -> None:
    print(f"[cocreate] {message}", flush=True)


def service_env(name: str, web: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("JWT_PUBLIC_KEY_FILE", str(VAR / "keys" / "jwt-public.pem"))
    env.setdefault("JWT_PRIVATE_KEY_FILE", str(VAR / "keys" / "jwt-private.pem"))
    env.setdefault("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}")
    env.setdefault("MONGO_URL", f"mongodb://127.0.0.1:{os.environ.get('STORE_PORT', '27017')}/")
    env.setdefault("COCREATE_PUBLIC_URL", f"http://localhost:{EDGE_PORT}")
    env.setdefault("WEBHOOK_ALLOW_PRIVATE", "true")  # a local stack: webhook receivers run on this machine
    env["PYTHONPATH"] = str(ROOT)
    if web:  # only gunicorn's processes share a multiprocess metrics folder; the worker serves its own
        env["PROMETHEUS_MULTIPROC_DIR"] = str(STACK / "prometheus" / name)
        # gunicorn's control socket goes to $XDG_RUNTIME_DIR/gunicorn.ctl: one per service and stack.
        env["XDG_RUNTIME_DIR"] = str(RUN / f"{name}-web")
        (RUN / f"{name}-web").mkdir(parents=True, exist_ok=True, mode=0o700)
    else:
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["WORKER_METRICS_PORT"] = str(METRICS_BASE_PORT + SERVICES.index(name))
    env["GUNICORN_BIND"] = f"127.0.0.1:{service_port(name)}"
    return env


def render_edge_config() -> Path:
    values = {f"{s.upper()}_UPSTREAM": f"127.0.0.1:{service_port(s)}" for s in SERVICES}
    values.update(EDGE_PORT=str(EDGE_PORT), VAR_DIR=str(STACK))  # nginx's pid, logs and temporary files
    nginx_dir = STACK / "nginx"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (nginx_dir / sub).mkdir(parents=True, exist_ok=True)
    server = string.Template((ROOT / "deploy/nginx/cocreate.conf.template").read_text()).safe_substitute(values)
    (nginx_dir / "cocreate.conf").write_text(server)
    main = string.Template((ROOT / "deploy/local/nginx.conf.template").read_text()).safe_substitute(values)
    (nginx_dir / "nginx.conf").write_text(main)
    return nginx_dir / "nginx.conf"


class Stack:
    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def spawn(self, label: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = open(LOG / f"{label}.log", "ab")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append((label, proc))

    def start(self) -> None:
        for d in (RUN, LOG):
            d.mkdir(parents=True, exist_ok=True)
        # Kafka and the store may serve others too (make test, another stack): whatever answers is left
        # alone, and the stack stops them at the end only if it found neither.
        answering = [listening(int(os.environ.get(var, default))) for var, default in INFRA_PORTS]
        if not all(answering):
            say("starting Kafka and the store")
            subprocess.run(["bash", "deploy/local/infra.sh", "up"], cwd=ROOT, check=True)
            if not any(answering):
                INFRA_MARK.touch()
        from shared.auth import ensure_keypair
        ensure_keypair(VAR / "keys" / "jwt-private.pem", VAR / "keys" / "jwt-public.pem")
        self.start_smtp_sink()
        for name in SERVICES:
            self.spawn(f"{name}-worker", [PYTHON, "-m", f"services.{name}.worker"], service_env(name, web=False))
            self.spawn(f"{name}-web", [PYTHON, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py",
                                       f"services.{name}.wsgi:app"], service_env(name))
        conf = render_edge_config()
        self.spawn("edge", ["nginx", "-c", str(conf), "-p", str(STACK / "nginx")])
        self.wait_ready()

    def start_smtp_sink(self) -> None:
        """A local SMTP server that takes every e-mail and prints it to its log (aiosmtpd, a dev requirement),
        so notifications' e-mails are delivered rather than retried until dead. Only when e-mail goes to this
        machine and nothing listens there yet (Mailpit, another stack's sink)."""
        host, port = os.environ.get("SMTP_HOST", "localhost"), int(os.environ.get("SMTP_PORT", "1025"))
        if host not in LOCAL_HOSTS or listening(port):
            return
        say(f"e-mails go to a local SMTP sink on 127.0.0.1:{port} (printed to {LOG / 'smtp-sink.log'})")
        self.spawn("smtp-sink", [PYTHON, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"])

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.time() + timeout
        pending = list(SERVICES)
        while pending and time.time() < deadline:
            for label, proc in self.procs:
                if proc.poll() is not None:
                    raise SystemExit(f"{label} exited with {proc.returncode}; see {LOG / (label + '.log')}")
            pending = [s for s in pending if not ready(f"http://127.0.0.1:{EDGE_PORT}/{s}/readyz")]
            time.sleep(0.3)
        if pending:
            raise SystemExit(f"not ready after {timeout:.0f}s: {', '.join(pending)} (logs in {LOG})")

    def seed(self) -> None:
        """The demo organization (directory), then the demo ideas (once the ideas service heard of it)."""
        for name in ("directory", "ideas"):
            if (ROOT / "services" / name / "seed.py").exists():
                subprocess.run([PYTHON, "-m", f"services.{name}.seed", "--demo"], cwd=ROOT,
                               env=service_env(name), check=True)

    def stop(self) -> None:
        for label, proc in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.time() + 20
        for label, proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if INFRA_MARK.exists():
            subprocess.run(["bash", "deploy/local/infra.sh", "down"], cwd=ROOT)
            INFRA_MARK.unlink(missing_ok=True)


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except Exception:
        return False


def banner() -> None:
    base = f"http://localhost:{EDGE_PORT}"
    say("Cocreate is running:")
    for name in SERVICES:
        print(f"    {base}/{name}/   (API docs: {base}/{name}/api/openapi.json)")
    creds = VAR / "demo-credentials.txt"
    if creds.exists():
        print(creds.read_text())
    print(f"    logs: {LOG}")


def run(detached: bool) -> None:
    stack = Stack()
    stopping = False

    def on_signal(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    PIDFILE.parent.mkdir(parents=True, exist_ok=True)
    PIDFILE.write_text(str(os.getpid()))
    try:
        stack.start()
        stack.seed()
        (RUN / "stack.ready").touch()
        banner()
        if not detached:
            say("Ctrl-C stops everything this started")
        while not stopping:
            for label, proc in stack.procs:
                if proc.poll() is not None:
                    say(f"{label} exited with {proc.returncode}; stopping (see {LOG / (label + '.log')})")
                    stopping = True
            time.sleep(0.5)
    finally:
        say("stopping")
        (RUN / "stack.ready").unlink(missing_ok=True)
        stack.stop()
        PIDFILE.unlink(missing_ok=True)
        say("stopped")


def running_pid() -> int | None:
    try:
        pid = int(PIDFILE.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def up() -> None:
    if running_pid() and (RUN / "stack.ready").exists():
        say(f"already running on http://localhost:{EDGE_PORT}")
        return
    if running_pid():
        down()
    (RUN / "stack.ready").unlink(missing_ok=True)
    LOG.mkdir(parents=True, exist_ok=True)
    log = open(LOG / "stack.log", "ab")
    proc = subprocess.Popen([PYTHON, __file__, "run", "--detached"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        if (RUN / "stack.ready").exists():
            say(f"up on http://localhost:{EDGE_PORT} (make down stops it; log: {LOG / 'stack.log'})")
            return
        if proc.poll() is not None:
            raise SystemExit(f"the stack failed to start; see {LOG / 'stack.log'}:\n"
                             + (LOG / "stack.log").read_text()[-3000:])
        time.sleep(0.5)
    raise SystemExit("the stack did not become ready in 180 s")


def down() -> None:
    pid = running_pid()
    if not pid:
        say("not running")
        PIDFILE.unlink(missing_ok=True)
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.time() + 60
    while time.time() < deadline and running_pid():
        time.sleep(0.3)
    say("stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["run", "up", "down", "status"])
    parser.add_argument("--detached", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.command == "run":
        run(args.detached)
    elif args.command == "up":
        up()
    elif args.command == "down":
        down()
    else:
        pid = running_pid()
        print(f"running (pid {pid})" if pid else "not running")
        sys.exit(0 if pid else 1)


if __name__ == "__main__":
    main()
