"""Processes as ops see them: readiness follows the store without a restart; a worker stops cleanly on
SIGTERM (finishes its batch, commits, leaves its group)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import wait_for
from services.ideas.app import create_app

ROOT = Path(__file__).resolve().parents[1]


def infra(command: str) -> None:
    subprocess.run(["bash", str(ROOT / "deploy/local/infra.sh"), command], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def test_readyz_turns_not_ready_when_the_store_stops_and_ready_again_when_it_returns(make_settings):
    client = create_app(make_settings("ideas")).test_client()
    assert client.get("/ideas/readyz").status_code == 200
    infra("down-store")
    try:
        response = client.get("/ideas/readyz")
        assert response.status_code == 503
        assert response.json["checks"]["store"] is False and response.json["checks"]["broker"] is True
        assert client.get("/ideas/healthz").status_code == 200  # alive, only not ready
    finally:
        infra("up-store")
    wait_for(lambda: client.get("/ideas/readyz").status_code == 200, timeout=30, every=0.5)


def test_a_worker_stops_cleanly_on_sigterm(make_settings):
    settings = make_settings("ideas")
    env = dict(os.environ, PYTHONPATH=str(ROOT), MONGO_URL=settings.mongo_url, MONGO_DB=settings.mongo_db,
               KAFKA_BOOTSTRAP_SERVERS=",".join(settings.kafka_bootstrap_servers), LOG_LEVEL="INFO")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    worker = subprocess.Popen([sys.executable, "-m", "services.ideas.worker"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            line = worker.stdout.readline()
            lines.append(line)
            if "consumer started" in line or worker.poll() is not None:
                break
        assert any("consumer started" in line for line in lines), "".join(lines)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(40) == 0
        rest = worker.stdout.read()
    finally:
        if worker.poll() is None:
            worker.kill()
    messages = [json.loads(line)["message"] for line in (lines + rest.splitlines()) if line.startswith("{")]
    assert "consumer stopped" in messages and messages[-1] == "worker stopped"
