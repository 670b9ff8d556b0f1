"""Protection of forms against cross-site requests: a signed double-submit token, and the session cookie
helpers the directory uses at sign-in and sign-out.

The token is `<nonce>.<HMAC(session cookie, nonce)>`. It travels twice: in the `cocreate_csrf` cookie and in
the request (the form's hidden `csrf_token` field, or the `X-CSRF-Token` header for scripts). Another site
can make a browser send the cookie but can neither read it nor forge a token bound to a session it does not
know. The session cookie is the signing key, so every service checks every other's tokens without a shared
secret, and a new session (sign-in, sign-out) gets a new token on its next page.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from flask import Response, current_app, g, request
from markupsafe import Markup, escape

from shared.web.problems import problem

CSRF_COOKIE = "cocreate_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_COOKIE = "cocreate_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# What a page on another site can send without the browser asking first (CORS "simple" requests).
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
CSRF_COOKIE_MAX_AGE = 7 * 24 * 3600


def _production() -> bool:
    return current_app.extensions["cocreate"].settings.production


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signature(nonce: str, session: str) -> str:
    return _b64(hmac.new(session.encode(), nonce.encode(), hashlib.sha256).digest())


def make_token(session: str) -> str:
    nonce = _b64(secrets.token_bytes(24))
    return f"{nonce}.{_signature(nonce, session)}"


def token_is_valid(token: str | None, session: str) -> bool:
    if not token or token.count(".") != 1:
        return False
    nonce, signature = token.split(".")
    return hmac.compare_digest(signature, _signature(nonce, session))


def _session() -> str:
    return request.cookies.get(SESSION_COOKIE, "")


def csrf_token() -> str:
    """This request's token: the cookie's while it fits the session, else a new one (set on the response)."""
    if "csrf_token" not in g:
        current = request.cookies.get(CSRF_COOKIE)
        if token_is_valid(current, _session()):
            g.csrf_token = current
        else:
            g.csrf_token = g.csrf_new = make_token(_session())
    return g.csrf_token


def csrf_field() -> Markup:
    """The hidden input every form carries: {{ csrf_field() }}."""
    return Markup('<input type="hidden" name="%s" value="%s">') % (CSRF_FIELD, escape(csrf_token()))


def must_check() -> bool:
    """Unsafe methods sent with the session cookie, or as a form; never API calls with a bearer token (a
    browser never adds that header on another site's behalf, and API clients have no cookie to steal)."""
    if request.method not in UNSAFE_METHODS:
        return False
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return False
    return SESSION_COOKIE in request.cookies or request.mimetype in FORM_TYPES


def protect() -> Response | None:
    """before_request: refuse an unsafe request whose token is missing, differs from the cookie's, or was
    not made for this session. Nothing is read or changed before the check."""
    if not must_check():
        return None
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.mimetype in FORM_TYPES:
        sent = request.form.get(CSRF_FIELD)
    if cookie and sent and hmac.compare_digest(cookie, sent) and token_is_valid(cookie, _session()):
        return None
    return problem(403, "This form has expired or was not sent from this site. Reload the page and try again.",
                   kind="csrf-failed")


def set_csrf_cookie(response: Response) -> Response:
    """after_request: send the token made during this request, if one was."""
    if g.get("csrf_new"):
        response.set_cookie(CSRF_COOKIE, g.csrf_new, max_age=CSRF_COOKIE_MAX_AGE, path="/", httponly=True,
                            samesite="Lax", secure=_production())
    return response


# --- the session cookie (written by the directory at sign-in, read by every service) --------------------------

def set_session_cookie(response: Response, token: str, max_age: int) -> Response:
    """Sign-in: the signed token as an HttpOnly, SameSite=Lax cookie for the whole origin (Secure in
    production, behind https)."""
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True, samesite="Lax",
                        secure=_production())
    return response


def clear_session_cookie(response: Response) -> Response:
    """Sign-out: remove the session cookie (same attributes, so the browser matches it)."""
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax", secure=_production())
    return response
