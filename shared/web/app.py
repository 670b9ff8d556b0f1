"""The app factory pieces every service uses: mount prefix, OpenAPI, problem+json errors, request and
correlation ids, JSON logs, identity, health, readiness, metrics, and the pages' frame (templates, languages,
CSRF). A service's own create_app calls create_service_app with its blueprints and indexes; nothing here
connects at import time."""
from __future__ import annotations

import logging
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from pymongo.database import Database

from shared import logs, metrics, outbox
from shared.auth import Actor, AuthError, Principal, TokenVerifier
from shared.config import Settings
from shared.kafka import make_producer
from shared.mongo import Index, apply_indexes, database_for, ping, reject_unsafe_keys
from shared.web import csrf
from shared.web.csrf import SESSION_COOKIE, clear_session_cookie
from shared.web.frame import init_frame
from shared.web.i18n import init_i18n
from shared.web.problems import ServiceApi, problem

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024


@dataclass
class ServiceContext:
    settings: Settings
    db: Database
    verifier: TokenVerifier | None
    indexes: list[Index] = field(default_factory=list)
    indexes_applied: bool = False

    def ensure_indexes(self) -> bool:
        if not self.indexes_applied:
            try:
                apply_indexes(self.db, self.indexes)
                self.indexes_applied = True
            except Exception:
                log.warning("indexes not applied yet (store unreachable?)", exc_info=True)
        return self.indexes_applied


def _context() -> ServiceContext:
    return current_app.extensions["cocreate"]


def settings() -> Settings:
    return _context().settings


def db() -> Database:
    return _context().db


def current_principal() -> Principal | None:
    """Who is asking, from a bearer token or the UI's session cookie; None when anonymous.
    A bearer token that is present but invalid is an error, never silently anonymous. An expired or
    unreadable session cookie only means the session ended: the visitor is anonymous, and the cookie goes."""
    if "principal" not in g:
        header = request.headers.get("Authorization", "")
        if header and not header.lower().startswith("bearer "):
            raise AuthError("unsupported authorization scheme")
        verifier = _context().verifier
        if header:
            if verifier is None:
                raise AuthError("this service has no key to verify tokens")
            g.principal = verifier.verify(header[7:].strip())
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            try:
                g.principal = verifier.verify(cookie) if cookie and verifier else None
            except AuthError:
                g.principal, g.session_ended = None, True
    return g.principal


def actor() -> Actor:
    """The signed-in principal (or None) with this request's correlation id, for use cases."""
    return Actor(current_principal(), g.get("correlation_id"))


class MountPrefix:
    """Serve the app under its prefix on the shared origin (/ideas, ...): the prefix becomes SCRIPT_NAME,
    so url_for builds prefixed links and the same app runs behind nginx or on its own."""

    def __init__(self, app, prefix: str):
        self.app = app
        self.prefix = prefix.rstrip("/")

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == self.prefix or path.startswith(self.prefix + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + self.prefix
            environ["PATH_INFO"] = path[len(self.prefix):] or "/"
        else:
            environ["PATH_INFO"] = "/__outside_prefix__" + path
        return self.app(environ, start_response)


def _broker_reachable(servers: Iterable[str], timeout: float = 0.5) -> bool:
    for server in servers:
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
                return True
        except OSError:
            continue
    return False


def _ops_blueprint() -> Blueprint:
    bp = Blueprint("ops", __name__)

    @bp.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @bp.get("/readyz")
    def readyz():
        ctx = _context()
        checks = {
            "store": ping(ctx.db),
            "broker": _broker_reachable(ctx.settings.kafka_bootstrap_servers),
        }
        checks["indexes"] = checks["store"] and ctx.ensure_indexes()
        ready = all(checks.values())
        return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503

    @bp.get("/metrics")
    def metrics_endpoint():
        body, content_type = metrics.render()
        return Response(body, content_type=content_type)

    return bp


def _load_verifier(settings: Settings) -> TokenVerifier | None:
    path = Path(settings.jwt_public_key_file)
    if not path.exists():
        log.warning("no JWT public key at %s: every token will be refused", path)
        return None
    return TokenVerifier(path.read_bytes(), settings.jwt_issuer)


def create_service_app(settings: Settings, *, import_name: str, title: str, api_blueprints=(),
                       blueprints=(), indexes: Iterable[Index] = (), config: dict | None = None) -> Flask:
    logs.configure(settings.service, settings.log_level)
    app = Flask(import_name)
    app.config.update(
        API_TITLE=title,
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "servers": [{"url": settings.prefix}],
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        },
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        JSON_SORT_KEYS=False,
    )
    app.json.ensure_ascii = False
    app.config.update(config or {})

    ctx = ServiceContext(settings=settings, db=database_for(settings), verifier=_load_verifier(settings),
                         indexes=list(indexes))
    # With OUTBOX_PUBLISH_AT_ONCE=all, the events of this process's writes go to the broker right after them,
    # from a thread with a producer of its own (made after gunicorn's fork, at the first events); the worker's
    # relay takes what it leaves. Else the relay publishes them all.
    publisher = outbox.Publisher(lambda: make_producer(settings, max_block_ms=5000), service=settings.service) \
        if settings.outbox_publish_at_once == "all" else None
    outbox.publish_at_once_by(publisher)
    app.extensions["outbox_publisher"] = publisher
    app.extensions["cocreate"] = ctx
    ctx.ensure_indexes()

    api = ServiceApi(app)
    for bp in api_blueprints:
        api.register_blueprint(bp, url_prefix="/api/v1" + (bp.url_prefix or ""))
    app.register_blueprint(_ops_blueprint())
    for bp in blueprints:
        app.register_blueprint(bp)
    init_i18n(app)
    init_frame(app)

    @app.before_request
    def start_request():
        g.started = time.perf_counter()
        rid = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        g.request_id = rid[:64]
        g.correlation_id = (request.headers.get("X-Correlation-ID") or g.request_id)[:64]
        logs.request_id.set(g.request_id)
        logs.correlation_id.set(g.correlation_id)
        if request.path.startswith("/__outside_prefix__"):
            return problem(404, f"This service answers under {settings.prefix}/.",
                           instance=request.path.removeprefix("/__outside_prefix__"))
        refused = csrf.protect()
        if refused is not None:
            return refused
        if request.method in ("POST", "PUT", "PATCH") and request.is_json and request.content_length != 0:
            body = request.get_json(silent=True)
            if body is None and request.get_data():
                return problem(400, "The request body is not valid JSON.", kind="malformed-json")
            reject_unsafe_keys(body)
        return None

    @app.after_request
    def finish_request(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        response.headers["X-Correlation-ID"] = g.get("correlation_id", "")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if g.get("session_ended"):
            clear_session_cookie(response)
        if "started" in g:
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"
            metrics.HTTP_LATENCY.labels(settings.service, request.method, endpoint,
                                        str(response.status_code)).observe(time.perf_counter() - g.started)
        return response

    app.wsgi_app = MountPrefix(app.wsgi_app, settings.prefix)
    return app
