"""The frame every page shares: which language a request gets, the catalogs, and what the header shows."""
import importlib
import os
import re
import time

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from shared.auth import BRANCH_MANAGER, ORG_ADMIN, Principal
from shared.config import SERVICES, load_settings
from shared.web.catalogs import EXTRACT_METHODS, KEYWORDS, catalog_folders
from shared.web.frame import describe
from shared.web.i18n import LANG_COOKIE, compile_catalogs


def app_of(service: str, keys=None):
    settings = load_settings(service, mongo_url="mongodb://127.0.0.1:1/", mongo_timeout_ms=50,
                             jwt_public_key_file=str(keys["public"]) if keys else "/nonexistent")
    return importlib.import_module(f"services.{service}.app").create_app(settings)


@pytest.fixture(scope="module")
def ideas_app():
    return app_of("ideas")


@pytest.fixture
def ideas(ideas_app):
    return ideas_app.test_client()  # a browser of its own, with no cookies yet


def html_lang(response) -> tuple[str, str]:
    match = re.search(r'<html lang="(\w+)" dir="(\w+)">', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:300]
    return match.groups()


# --- which language ---------------------------------------------------------------------------------------

def test_hebrew_right_to_left_is_the_default_when_nothing_says_otherwise(ideas):
    assert html_lang(ideas.get("/ideas/")) == ("he", "rtl")


def test_the_browsers_accept_language_is_followed_when_nothing_else_says(ideas):
    assert html_lang(ideas.get("/ideas/", headers={"Accept-Language": "en-GB,en;q=0.8"})) == ("en", "ltr")
    assert html_lang(ideas.get("/ideas/", headers={"Accept-Language": "fr,he;q=0.5"})) == ("he", "rtl")
    assert html_lang(ideas.get("/ideas/", headers={"Accept-Language": "fr"})) == ("he", "rtl")


def test_the_query_parameter_wins_and_is_remembered_for_the_whole_origin(ideas):
    r = ideas.get("/ideas/?lang=en", headers={"Accept-Language": "he"})
    assert html_lang(r) == ("en", "ltr")
    [cookie] = [c for c in r.headers.getlist("Set-Cookie") if c.startswith(LANG_COOKIE)]
    assert cookie.startswith(f"{LANG_COOKIE}=en;") and "Path=/" in cookie and "SameSite=Lax" in cookie
    assert html_lang(ideas.get("/ideas/", headers={"Accept-Language": "he"})) == ("en", "ltr")


def test_an_unknown_language_is_ignored_and_not_remembered(ideas):
    r = ideas.get("/ideas/?lang=fr")
    assert html_lang(r) == ("he", "rtl")
    assert not [c for c in r.headers.getlist("Set-Cookie") if c.startswith(LANG_COOKIE)]


def test_the_cookie_wins_over_the_signed_in_persons_language_which_wins_over_the_browser(keys, issue_token):
    client = app_of("ideas", keys).test_client()
    client.set_cookie("cocreate_session", issue_token(Principal(id="pe_1", name="Dana", lang="en")))
    assert html_lang(client.get("/ideas/", headers={"Accept-Language": "he"})) == ("en", "ltr")
    client.set_cookie(LANG_COOKIE, "he")
    assert html_lang(client.get("/ideas/", headers={"Accept-Language": "en"})) == ("he", "rtl")


def test_pages_tell_caches_they_differ_by_cookie_and_language(ideas):
    assert {"Cookie", "Accept-Language"} <= set(ideas.get("/ideas/").vary)


# --- catalogs ------------------------------------------------------------------------------------------------

def test_the_kits_and_the_services_catalogs_are_both_searched(ideas):
    page = ideas.get("/ideas/?lang=he").get_data(as_text=True)
    assert "דילוג לתוכן" in page  # the kit's: the skip link
    assert "<h1>רעיונות</h1>" in page and "שתפו רעיון" in page  # the service's own


def test_every_string_of_the_kit_and_the_services_has_a_hebrew_translation():
    missing = []
    for folder in catalog_folders():
        extracted = {m[2] for m in extract_from_dir(folder.parent, EXTRACT_METHODS, keywords=KEYWORDS)}
        po = folder / "he" / "LC_MESSAGES" / "messages.po"
        if not extracted:
            continue
        with po.open("rb") as f:
            translated = {m.id for m in read_po(f) if m.id and m.string and not m.fuzzy}
        missing += [f"{folder.parent.name}: {text}" for text in sorted(extracted - translated)]
    assert not missing, "untranslated (python -m shared.web.catalogs update, then translate):\n" + "\n".join(missing)


def test_a_stale_catalog_is_compiled_and_a_fresh_one_left_alone(tmp_path):
    po = tmp_path / "he" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\nmsgid "Hi"\nmsgstr "שלום"\n')
    assert compile_catalogs(tmp_path) == [po.with_suffix(".mo")]
    assert compile_catalogs(tmp_path) == []
    later = time.time() + 5
    os.utime(po, (later, later))
    assert compile_catalogs(tmp_path) == [po.with_suffix(".mo")]


# --- the frame -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("lang", ["he", "en"])
def test_every_services_home_page_is_in_the_frame_in_both_languages(service, lang):
    r = app_of(service).test_client().get(f"/{service}/?lang={lang}")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert html_lang(r) == (lang, "rtl" if lang == "he" else "ltr")
    for landmark in ('<header class="site-header">', '<nav class="services"', '<main id="main"', "<footer"):
        assert landmark in page
    assert '<a class="skip-link" href="#main">' in page and "<h1>" in page
    assert f'href="/{service}/" aria-current="page"' in page
    assert f'href="/{service}/kit/static/cocreate.css?v=' in page


def test_the_kits_static_files_are_served_under_the_services_prefix(ideas):
    r = ideas.get("/ideas/kit/static/cocreate.css")
    assert r.status_code == 200 and r.mimetype == "text/css" and "margin-inline" in r.get_data(as_text=True)


def test_the_language_switch_links_to_the_same_page_in_the_other_language_keeping_its_query(ideas):
    page = ideas.get("/ideas/?lang=he&x=1").get_data(as_text=True)
    assert 'id="lang-switch" href="/ideas/?x=1&amp;lang=en" hreflang="en"' in page


def test_anyone_not_signed_in_is_offered_sign_in_returning_to_the_page(ideas):
    page = ideas.get("/ideas/?x=1").get_data(as_text=True)
    assert 'href="/directory/signin?next=%2Fideas%2F%3Fx%3D1"' in page
    assert "unread-badge" not in page and "/directory/signout" not in page


def test_a_signed_in_person_sees_their_name_branch_sign_out_form_and_the_badge_slot(keys, issue_token):
    client = app_of("ideas", keys).test_client()
    principal = Principal(id="pe_1", name="Dana Levi", home_branch="br_1", lang="en")
    client.set_cookie("cocreate_session", issue_token(principal))
    page = client.get("/ideas/").get_data(as_text=True)
    assert '<span class="viewer-name">Dana Levi</span>' in page
    assert '<span class="viewer-context">br_1</span>' in page  # no store here: the branch's id stands in
    form = re.search(r'<form class="sign-out" method="post" action="/directory/signout">(.*?)</form>', page, re.S)
    assert form and 'name="csrf_token"' in form.group(1)
    assert re.search(r'<a id="unread-badge"[^>]*data-count-url="/notifications/api/v1/inbox/unread-count"'
                     r'[^>]*hidden>', page)


def test_an_expired_session_cookie_shows_the_page_as_to_anyone(keys):
    client = app_of("ideas", keys).test_client()
    client.set_cookie("cocreate_session", "not-a-token")
    r = client.get("/ideas/")
    assert r.status_code == 200 and "/directory/signin" in r.get_data(as_text=True)


def test_the_branch_context_names_the_role_and_the_branch():
    name = {"br_1": "Haifa", "br_2": "Acre"}.get
    staff = Principal(id="pe_2", name="Noa", branch_roles={"br_1": frozenset({BRANCH_MANAGER}),
                                                           "br_2": frozenset({"branch_staff"})})
    from flask import Flask
    from flask_babel import Babel

    app = Flask(__name__)
    Babel(app)
    with app.test_request_context():
        assert describe(staff, name) == "Branch manager · Haifa (+1)"
        assert describe(Principal(id="pe_3", roles=frozenset({ORG_ADMIN})), name) == "Organization admin"
        assert describe(Principal(id="pe_4", home_branch="br_2"), name) == "Acre"
        assert describe(Principal(id="pe_5"), name) == ""
