"""Errors as application/problem+json (RFC 9457): one helper builds every error response, and the API
class documents the same shape in OpenAPI, so clients and the schema fuzzer see what is really sent."""
from __future__ import annotations

import http
import logging
from typing import Any

import marshmallow as ma
from flask import Response, json, request
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from shared.auth import AuthError, Forbidden
from shared.errors import Conflict, DomainError, NotFound, RateLimited
from shared.mongo import UnsafeKeyError

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://cocreate.example/problems/"
_LOCATIONS = {"json": "body", "query": "query", "view_args": "path", "form": "form", "headers": "headers",
              "cookies": "cookies", "files": "files", "path": "path"}


class ProblemSchema(ma.Schema):
    type = ma.fields.String(metadata={"description": "URI naming the kind of problem"})
    title = ma.fields.String(metadata={"description": "Short summary of the kind of problem"})
    status = ma.fields.Integer(metadata={"description": "HTTP status code"})
    detail = ma.fields.String(metadata={"description": "What went wrong this time"})
    instance = ma.fields.String(metadata={"description": "The request path"})
    errors = ma.fields.Dict(metadata={"description": "Per-field messages, by location (body, query, path) "
                                                      "and field name"})


def problem(status: int, detail: str | None = None, *, kind: str | None = None,
            errors: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
            instance: str | None = None) -> Response:
    phrase = http.HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (kind or phrase.lower().replace(" ", "-").replace("'", "")),
        "title": phrase,
        "status": status,
        "instance": instance or (request.script_root + request.path if request else ""),
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _field_errors(messages: dict[str, Any]) -> dict[str, Any]:
    """webargs groups messages by location (json, query, ...); name them as the client sees them."""
    return {_LOCATIONS.get(location, location): fields for location, fields in messages.items()}


class ServiceApi(Api):
    """flask-smorest's Api, answering and documenting every error as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self):
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Error (problem+json)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def _register_error_handlers(self):
        self._app.register_error_handler(HTTPException, self.handle_http_exception)
        self._app.register_error_handler(AuthError, lambda e: problem(
            401, str(e), kind="unauthenticated", headers={"WWW-Authenticate": 'Bearer realm="cocreate"'}))
        self._app.register_error_handler(Forbidden, lambda e: problem(403, str(e), kind="forbidden"))
        self._app.register_error_handler(UnsafeKeyError, lambda e: problem(
            422, "The request holds a field name that is not allowed.", kind="validation-error",
            errors={"body": {e.path: [str(e)]}}))
        self._app.register_error_handler(DomainError, lambda e: problem(
            422, str(e), kind="rule-violation", errors={"body": {e.field: [str(e)]}} if e.field else None))
        self._app.register_error_handler(Conflict, lambda e: problem(409, str(e), kind="conflict"))
        self._app.register_error_handler(NotFound, lambda e: problem(404, str(e) or None, kind="not-found"))
        self._app.register_error_handler(RateLimited, lambda e: problem(
            429, str(e), kind="rate-limited", headers={"Retry-After": str(e.retry_after)}))
        self._app.register_error_handler(Exception, self.handle_unexpected)

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        messages = data.get("errors") or data.get("messages")
        if error.code == 422 and messages:
            return problem(422, data.get("message") or "The request is not valid.", kind="validation-error",
                           errors=_field_errors(messages), headers=data.get("headers"))
        return problem(error.code or 500, data.get("message") or error.description, headers=data.get("headers"))

    def handle_unexpected(self, error: Exception):
        if isinstance(error, HTTPException):
            return self.handle_http_exception(error)
        log.exception("unhandled error")
        return problem(500, "Something went wrong on our side; it has been logged.")
