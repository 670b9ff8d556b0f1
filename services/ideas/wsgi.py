"""gunicorn entry point: `gunicorn -c deploy/gunicorn.conf.py services.ideas.wsgi:app`.

Each worker imports this after the fork and starts loading its catalog (the browse and search index) at
once, in the background, so the first browse request does not pay for it; the same thread then keeps it
following the store and its trending order ranked, off the request path."""
import logging
import threading
import time

from services.ideas.app import create_app
from services.ideas.repository import IdeaRepository

app = create_app()


def _warm_catalog() -> None:
    started = time.perf_counter()
    try:
        catalog = app.extensions["ideas_catalog"]
        catalog.sync(IdeaRepository(app.extensions["cocreate"].db))
        logging.getLogger(__name__).info("catalog loaded", extra={
            "ideas": len(catalog.cards), "seconds": round(time.perf_counter() - started, 2)})
    except Exception:  # the store may be down at start: the first request loads it then
        logging.getLogger(__name__).exception("catalog not loaded at start")


def _catalog_thread() -> None:
    _warm_catalog()
    app.extensions["ideas_catalog"].keep_fresh(IdeaRepository(app.extensions["cocreate"].db), threading.Event())


threading.Thread(target=_catalog_thread, name="catalog", daemon=True).start()
