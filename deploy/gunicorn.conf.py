"""gunicorn settings for every service's web process (compose and `make run` alike), from the environment."""
import os
import shutil

from environs import Env

env = Env()
bind = env.str("GUNICORN_BIND", "0.0.0.0:8000")
workers = env.int("WEB_CONCURRENCY", 2)
# gthread (requests wait on the store; threads keep a worker busy meanwhile), with new connections shared out
# between the workers instead of piling up on whichever accepted the last one (shared/web/workers.py).
worker_class = "shared.web.workers.BalancedThreadWorker"
threads = env.int("GUNICORN_THREADS", 4)
timeout = env.int("GUNICORN_TIMEOUT", 30)
graceful_timeout = 20
keepalive = 5
max_requests = env.int("GUNICORN_MAX_REQUESTS", 0)
accesslog = None  # the app logs each request as JSON with its request and correlation ids
errorlog = "-"
loglevel = env.str("LOG_LEVEL", "info").lower()
preload_app = False  # each worker builds its own clients after the fork

# Prometheus multiprocess mode: every worker writes its samples here and /metrics sums them.
_prom_dir = env.str("PROMETHEUS_MULTIPROC_DIR", "/tmp/cocreate-prometheus")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _prom_dir


def on_starting(server):
    shutil.rmtree(_prom_dir, ignore_errors=True)
    os.makedirs(_prom_dir, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
