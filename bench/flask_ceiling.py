"""The bare-Flask validated-POST ceiling under our gunicorn configuration (the yardstick for endpoints)."""
from __future__ import annotations

import os

from bench.common import write
from bench.http import Gunicorn, worker_class, wrk


def main(seconds: int = 10) -> dict:
    with Gunicorn("bench.flask_ceiling_app:app") as server:
        url = f"http://127.0.0.1:{server.port}/vote"
        wrk(url, body='{"idea_id": "id_1", "support": true}', seconds=2)  # warm up
        result = wrk(url, body='{"idea_id": "id_1", "support": true}', seconds=seconds)
    return write("flask_ceiling", {
        "gunicorn": {"workers": int(os.environ.get("WEB_CONCURRENCY", 2)),
                     "threads": int(os.environ.get("GUNICORN_THREADS", 4)), "worker_class": worker_class()},
        "load": "wrk -t2 -c16, same machine", "seconds": seconds, **result,
    })


if __name__ == "__main__":
    print(main())
