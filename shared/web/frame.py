"""The frame every service's pages share: templates (the service's own folder first, then the kit's), the kit's
static files under /<prefix>/kit/static/, and what the frame shows of the signed-in person."""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from flask import Blueprint, Flask, current_app, request, url_for
from flask_babel import lazy_gettext
from jinja2 import ChoiceLoader, FileSystemLoader

from shared.auth import STAFF_ROLES, AuthError, BRANCH_MANAGER, Principal
from shared.readmodels import BRANCHES
from shared.web import csrf
from shared.web.i18n import LANG_PARAM, LANGUAGES, current_language

log = logging.getLogger(__name__)
KIT_ROOT = Path(__file__).resolve().parent
KIT_TEMPLATES = KIT_ROOT / "templates"
KIT_STATIC = KIT_ROOT / "static"
STATIC_MAX_AGE = 365 * 24 * 3600  # URLs carry the file's hash, so a changed file gets a new URL
BRANCH_NAME_TTL = 300.0
BRANCH_LIST_TTL = 60.0

# The services as people know them, in the order of the navigation.
NAVIGATION = (
    ("ideas", "/ideas/", lazy_gettext("Ideas")),
    ("feedback", "/feedback/", lazy_gettext("Feedback")),
    ("notifications", "/notifications/", lazy_gettext("Inbox")),
    ("directory", "/directory/", lazy_gettext("Directory")),
)
LANGUAGE_NAMES = {"he": "עברית", "en": "English"}  # each in its own language, never translated
SIGN_IN_URL = "/directory/signin"
SIGN_OUT_URL = "/directory/signout"
UNREAD_COUNT_URL = "/notifications/api/v1/inbox/unread-count"


class KitBlueprint(Blueprint):
    def get_send_file_max_age(self, filename):
        return STATIC_MAX_AGE


@lru_cache(maxsize=64)
def _file_hash(path: Path, mtime: float) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def kit_static(filename: str) -> str:
    """URL of one of the kit's static files, versioned by its content."""
    path = KIT_STATIC / filename
    return url_for("kit.static", filename=filename, v=_file_hash(path, path.stat().st_mtime))


def language_switch_url(lang: str) -> str:
    """This page again, in `lang` (the other query parameters kept)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != LANG_PARAM] + [(LANG_PARAM, lang)]
    return f"{request.script_root}{request.path}?{urlencode(args)}"


@dataclass(frozen=True)
class Viewer:
    """The signed-in person as the frame shows them."""

    name: str
    context: str  # role and branch, in the page's language


class BranchNames:
    """Branch names from the service's own `branches` collection (every service keeps one), held for a few
    minutes: the frame shows one on every page and a branch is renamed rarely."""

    def __init__(self, ttl: float = BRANCH_NAME_TTL):
        self.ttl = ttl
        self.cache: dict[str, tuple[float, dict]] = {}

    def name(self, branch_id: str, lang: str) -> str:
        hit = self.cache.get(branch_id)
        if hit is None or hit[0] < time.monotonic():
            from shared.web.app import db

            try:
                doc = db()[BRANCHES].find_one({"_id": branch_id}, {"name": 1}) or {}
            except Exception:  # the store is down: the page still renders, with the branch's id
                log.warning("branch %s: name not read", branch_id, exc_info=True)
                return branch_id
            hit = (time.monotonic() + self.ttl, doc.get("name") or {})
            self.cache[branch_id] = hit
        names = hit[1]
        return names.get(lang) or names.get("he") or names.get("en") or branch_id


class BranchList:
    """Every branch the service knows from the directory, read at most once a minute per process: forms and
    lists show them all, and an organization may have thousands (one query, not one per branch)."""

    def __init__(self, ttl: float = BRANCH_LIST_TTL):
        self.ttl = ttl
        self.until = 0.0
        self.docs: list[dict] = []

    def all(self) -> list[dict]:
        if time.monotonic() >= self.until:
            from shared.web.app import db

            self.docs = list(db()[BRANCHES].find({}, {"name": 1, "open": 1}))
            self.until = time.monotonic() + self.ttl
        return self.docs


def localized(names: dict) -> str:
    """A name given per language, in the page's language (else Hebrew, else English)."""
    return names.get(current_language()) or names.get("he") or names.get("en") or ""


def branch_options(docs: list[dict] | None = None, open_only: bool = False) -> list[tuple[str, str]]:
    """(id, name in the page's language) of these branch documents, or of every branch the service knows,
    sorted by name."""
    if docs is None:
        docs = current_app.extensions["cocreate_branch_list"].all()
    found = [(d["_id"], localized(d.get("name") or {}) or d["_id"]) for d in docs
             if d.get("open", True) or not open_only]
    return sorted(found, key=lambda b: b[1])


def describe(principal: Principal, branch_name) -> str:
    """"Branch manager · Haifa", "Staff · Haifa (+2)", "Organization admin", or the home branch's name."""
    if principal.kind == "service":
        return str(lazy_gettext("Service account"))
    if principal.is_org_admin:
        return str(lazy_gettext("Organization admin"))
    staff_at = principal.branches_with(STAFF_ROLES)
    if staff_at:
        first = staff_at[0]
        role = (lazy_gettext("Branch manager") if BRANCH_MANAGER in principal.branch_roles[first]
                else lazy_gettext("Staff"))
        more = f" (+{len(staff_at) - 1})" if len(staff_at) > 1 else ""
        return f"{role} · {branch_name(first)}{more}"
    return branch_name(principal.home_branch) if principal.home_branch else ""


def viewer() -> Viewer | None:
    from shared.web.app import current_principal

    try:
        principal = current_principal()
    except AuthError:  # an expired session: the page shows "Sign in", as to anyone
        return None
    if principal is None:
        return None
    names: BranchNames = current_app.extensions["cocreate_branch_names"]
    lang = current_language()
    return Viewer(name=principal.name or principal.id,
                  context=describe(principal, lambda branch_id: names.name(branch_id, lang)))


def frame_context() -> dict:
    current = current_app.extensions["cocreate"].settings.service
    other = [lang for lang in LANGUAGES if lang != current_language()][0]
    return {
        "navigation": [(name, url, label, name == current) for name, url, label in NAVIGATION],
        "switch_to": {"lang": other, "name": LANGUAGE_NAMES[other], "url": language_switch_url(other)},
        "viewer": viewer(),
        "sign_in_url": f"{SIGN_IN_URL}?{urlencode({'next': request.script_root + request.full_path.rstrip('?')})}",
        "sign_out_url": SIGN_OUT_URL,
        "unread_count_url": UNREAD_COUNT_URL,
    }


def init_frame(app: Flask) -> None:
    """Templates, static files and the frame's context for one service's app (the CSRF check itself runs in
    the app's own before_request, after the request ids are set)."""
    kit = KitBlueprint("kit", __name__, static_folder=str(KIT_STATIC), static_url_path="/kit/static")
    app.register_blueprint(kit)
    loaders = [app.jinja_loader] if app.jinja_loader is not None else []
    app.jinja_loader = ChoiceLoader(loaders + [FileSystemLoader(str(KIT_TEMPLATES))])
    app.extensions["cocreate_branch_names"] = BranchNames()
    app.extensions["cocreate_branch_list"] = BranchList()
    app.jinja_env.globals.update(csrf_field=csrf.csrf_field, csrf_token=csrf.csrf_token, kit_static=kit_static)
    app.context_processor(frame_context)
    app.after_request(csrf.set_csrf_cookie)
