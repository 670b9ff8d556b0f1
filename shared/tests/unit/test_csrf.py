"""CSRF protection of forms (signed double-submit token) and the session cookie helpers."""
import pytest
import dataclasses
import re

from flask import Blueprint, jsonify, make_response, render_template_string

from shared.auth import Principal
from shared.config import load_settings
from shared.web import clear_session_cookie, create_service_app, set_session_cookie
from shared.web.csrf import CSRF_COOKIE, SESSION_COOKIE, make_token

forms = Blueprint("forms", __name__)
changes = []


@forms.post("/things")
@forms.put("/things")
@forms.delete("/things")
def change_things():
    changes.append(1)
    return jsonify(changed=True)


@forms.get("/form")
def form():
    return render_template_string('<form method="post">{{ csrf_field() }}<button>Go</button></form>')


@forms.get("/signin")
def sign_in():
    return set_session_cookie(make_response("in"), "the-token", 3600)


@forms.get("/signout")
def sign_out():
    return clear_session_cookie(make_response("out"))


def make_client(keys=None, environment="development"):
    settings = load_settings("ideas", mongo_url="mongodb://127.0.0.1:1/", mongo_timeout_ms=50,
                             jwt_public_key_file=str(keys["public"]) if keys else "/nonexistent")
    settings = dataclasses.replace(settings, env=environment)
    return create_service_app(settings, import_name=__name__, title="t", blueprints=[forms]).test_client()


@pytest.fixture
def client():
    changes.clear()
    return make_client()


def test_a_form_post_without_the_token_is_refused_with_a_403_problem_and_changes_nothing(client):
    r = client.post("/ideas/things", data={"title": "x"})
    assert r.status_code == 403 and r.content_type == "application/problem+json"
    assert r.json["type"].endswith("/csrf-failed") and not changes


def test_a_form_post_with_the_token_in_the_cookie_and_the_field_passes(client):
    token = make_token("")
    client.set_cookie(CSRF_COOKIE, token)
    r = client.post("/ideas/things", data={"title": "x", "csrf_token": token})
    assert r.status_code == 200 and changes == [1]


def test_the_hidden_field_of_a_rendered_form_and_the_cookie_it_sets_pass_together(client):
    page = client.get("/ideas/form")
    field = re.search(r'<input type="hidden" name="csrf_token" value="([^"]+)">', page.get_data(as_text=True))
    assert field and client.get_cookie(CSRF_COOKIE).value == field.group(1)
    assert client.post("/ideas/things", data={"csrf_token": field.group(1)}).status_code == 200
    assert client.get("/ideas/form").headers.get("Set-Cookie") is None  # the valid cookie is kept


def test_a_token_in_the_form_that_differs_from_the_cookie_is_refused(client):
    client.set_cookie(CSRF_COOKIE, make_token(""))
    assert client.post("/ideas/things", data={"csrf_token": make_token("")}).status_code == 403


def test_a_token_without_the_cookie_is_refused(client):
    assert client.post("/ideas/things", data={"csrf_token": make_token("")}).status_code == 403


def test_a_token_made_for_another_session_is_refused_even_when_cookie_and_field_agree(client):
    # What a page on a sibling domain that can plant cookies would try: its own pair, for no session.
    planted = make_token("")
    client.set_cookie(SESSION_COOKIE, "the-victims-session")
    client.set_cookie(CSRF_COOKIE, planted)
    assert client.post("/ideas/things", data={"csrf_token": planted}).status_code == 403
    mine = make_token("the-victims-session")
    client.set_cookie(CSRF_COOKIE, mine)
    assert client.post("/ideas/things", data={"csrf_token": mine}).status_code == 200


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_a_script_sends_the_token_in_a_header_with_the_session_cookie(client, method):
    token = make_token("s")
    client.set_cookie(SESSION_COOKIE, "s")
    client.set_cookie(CSRF_COOKIE, token)
    assert getattr(client, method)("/ideas/things", json={}).status_code == 403
    assert getattr(client, method)("/ideas/things", json={}, headers={"X-CSRF-Token": token}).status_code == 200


def test_api_calls_with_a_bearer_token_are_exempt(client, keys, issue_token):
    client = make_client(keys)
    bearer = {"Authorization": f"Bearer {issue_token(Principal(id='pe_1', name='Dana'))}"}
    assert client.post("/ideas/things", data={"title": "x"}, headers=bearer).status_code == 200
    assert client.post("/ideas/things", json={"title": "x"}, headers=bearer).status_code == 200


def test_json_without_a_session_cookie_is_not_a_form_and_is_not_checked(client):
    assert client.post("/ideas/things", json={"title": "x"}).status_code == 200


def test_reading_is_never_checked(client):
    client.set_cookie(SESSION_COOKIE, "s")
    assert client.get("/ideas/healthz").status_code == 200


def test_a_new_session_gets_a_new_token_on_its_next_page(client):
    client.get("/ideas/form")
    anonymous = client.get_cookie(CSRF_COOKIE).value
    client.set_cookie(SESSION_COOKIE, "signed-in")
    client.get("/ideas/form")
    signed_in = client.get_cookie(CSRF_COOKIE).value
    assert signed_in != anonymous
    assert client.post("/ideas/things", data={"csrf_token": signed_in}).status_code == 200


def test_the_session_cookie_is_httponly_lax_for_the_whole_origin_and_is_cleared_at_sign_out(client):
    cookie = client.get("/ideas/signin").headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=the-token;")
    assert all(part in cookie for part in ("HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=3600"))
    assert "Secure" not in cookie
    cleared = client.get("/ideas/signout").headers["Set-Cookie"]
    assert cleared.startswith(f"{SESSION_COOKIE}=;") and "Max-Age=0" in cleared and "Path=/" in cleared


def test_the_session_cookie_is_secure_in_production():
    cookie = make_client(environment="production").get("/ideas/signin").headers["Set-Cookie"]
    assert "Secure" in cookie
