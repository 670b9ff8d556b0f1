"""Languages of the pages: which locale a request gets, the message catalogs (the kit's, then the service's
own) and their compilation when stale. English is the source language; Hebrew is the organization's default.
Commands for the catalogs (compile, update from the code): shared/web/catalogs.py."""
from __future__ import annotations

import logging
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, Response, current_app, request
from flask_babel import Babel, get_locale

from shared.auth import AuthError

log = logging.getLogger(__name__)
LANGUAGES = ("he", "en")
DEFAULT_LANGUAGE = "he"
SOURCE_LANGUAGE = "en"
LANG_COOKIE = "cocreate_lang"
LANG_PARAM = "lang"
LANG_COOKIE_MAX_AGE = 365 * 24 * 3600
DOMAIN = "messages"
KIT_ROOT = Path(__file__).resolve().parent
KIT_TRANSLATIONS = KIT_ROOT / "translations"


def _principal_lang() -> str | None:
    from shared.web.app import current_principal  # the app module imports this one

    try:
        principal = current_principal()
    except AuthError:  # an expired or broken session cookie: the page is still shown, as to anyone
        return None
    return principal.lang if principal else None


def select_language() -> str:
    """?lang= (remembered in the cookie afterwards) → the cookie → the signed-in person's language →
    the browser's Accept-Language → Hebrew."""
    for candidate in (request.args.get(LANG_PARAM), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    lang = _principal_lang()
    if lang in LANGUAGES:
        return lang
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def current_language() -> str:
    return get_locale().language


def as_utc(at: datetime | str | float) -> datetime:
    """A moment as the services keep or send it (a datetime, naive meaning UTC; ISO 8601 text; epoch seconds),
    as an aware UTC datetime, ready for Flask-Babel's date and time formats."""
    if isinstance(at, (int, float)):
        return datetime.fromtimestamp(at, timezone.utc)
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def text_direction() -> str:
    return get_locale().text_direction  # "rtl" for Hebrew


def remember_language(response: Response) -> Response:
    """A page asked for with ?lang= sets the language cookie for the whole origin (path=/), so every
    service answers in the language chosen last."""
    chosen = request.args.get(LANG_PARAM)
    if chosen in LANGUAGES and request.cookies.get(LANG_COOKIE) != chosen:
        response.set_cookie(LANG_COOKIE, chosen, max_age=LANG_COOKIE_MAX_AGE, path="/", samesite="Lax",
                            httponly=True, secure=current_app.extensions["cocreate"].settings.production)
    if response.mimetype == "text/html":
        response.vary.update(("Cookie", "Accept-Language"))
    return response


def translation_dirs(app: Flask) -> list[Path]:
    """The kit's catalog first, then the service's own (translations/ beside its app module), which wins
    where both translate the same string."""
    return [KIT_TRANSLATIONS, Path(app.root_path) / "translations"]


def init_i18n(app: Flask) -> Babel:
    dirs = translation_dirs(app)
    for folder in dirs:
        compile_catalogs(folder)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Jerusalem")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(d) for d in dirs)
    babel = Babel(app, locale_selector=select_language)
    app.after_request(remember_language)
    app.jinja_env.globals.update(current_language=current_language, text_direction=text_direction)
    return babel


# --- catalogs -----------------------------------------------------------------------------------------------

def compile_catalogs(folder: Path) -> list[Path]:
    """Compile each .po under `folder` whose .mo is missing or older; returns what was written. Cheap and
    idempotent, so every app creation runs it; in a read-only image the build has compiled them already."""
    written = []
    for po in sorted(folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parents[1].name)
        tmp = None
        try:
            # A temporary file renamed into place: gunicorn's workers may compile at the same moment.
            fd, tmp = tempfile.mkstemp(dir=po.parent, prefix=".messages-", suffix=".mo")
            with os.fdopen(fd, "wb") as target:
                write_mo(target, catalog)
            os.chmod(tmp, 0o644)
            os.replace(tmp, mo)
            written.append(mo)
        except OSError:  # a read-only image whose build did not compile: say so, serve what there is
            log.warning("could not compile %s; pages keep the previous translations", po, exc_info=True)
            if tmp:
                Path(tmp).unlink(missing_ok=True)
    return written
