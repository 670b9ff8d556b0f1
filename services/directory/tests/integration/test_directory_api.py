"""The directory through its HTTP API, against the real store: who may do what, sign-in, invites, bad input."""
import json
import logging
import uuid

import pytest

from services.directory.app import create_app
from services.directory.repository import EMAILS, PEOPLE
from shared.auth import ORG_ADMIN, Principal, TokenIssuer, generate_keypair
from shared.config import load_settings
from shared.events import registry
from shared.mongo import database_for


class Api:
    def __init__(self, client):
        self.client = client

    def call(self, method, path, token=None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.open(f"/directory/api/v1{path}", method=method, headers=headers, **kwargs)

    def ok(self, method, path, token=None, status=200, **kwargs):
        response = self.call(method, path, token, **kwargs)
        assert response.status_code == status, response.get_data(as_text=True)
        return response.json if response.get_data() else None

    def sign_in(self, email, password):
        return self.ok("POST", "/auth/token", json={"email": email, "password": password})["access_token"]


@pytest.fixture(scope="module")
def directory(infra, keys):
    """One directory app and database for the module (creating a store database per test is slow)."""
    from conftest import _created_dbs

    settings = load_settings("directory", kafka_bootstrap_servers=(infra["kafka"],), mongo_url=infra["mongo"],
                             mongo_db=f"t_directory_api_{uuid.uuid4().hex[:8]}",
                             jwt_public_key_file=str(keys["public"]), jwt_private_key_file=str(keys["private"]),
                             outbox_publish_at_once="none")
    _created_dbs.append((settings.mongo_url, settings.mongo_db))
    return Api(create_app(settings).test_client()), database_for(settings)


@pytest.fixture
def org(directory, issue_token):
    """Two new branches (A, B) with a manager and a staff member at each, a participant at A, and the
    database to inspect. Codes and addresses are unique per test, so tests share the database safely."""
    api, db = directory
    run = uuid.uuid4().hex[:6]
    admin = issue_token(Principal(id="pe_root", roles=frozenset({ORG_ADMIN})))
    a = api.ok("POST", "/branches", admin, 201, json={"code": f"A{run}", "name": {"he": "א", "en": "A"}})["id"]
    b = api.ok("POST", "/branches", admin, 201, json={"code": f"B{run}", "name": {"he": "ב", "en": "B"}})["id"]
    tokens, ids = {"admin": admin}, {"run": run}
    for who, branch, role in (("manager_a", a, "branch_manager"), ("staff_a", a, "branch_staff"),
                              ("manager_b", b, "branch_manager"), ("staff_b", b, "branch_staff")):
        created = api.ok("POST", "/people", admin, 201, json={
            "name": who, "email": f"{who}.{run}@example.org", "branch_roles": {branch: [role]}})
        ids[who] = created["person"]["id"]
        tokens[who] = api.sign_in(f"{who}.{run}@example.org", created["temporary_password"])
    invite = api.ok("POST", "/invites", tokens["staff_a"], 201, json={"branch_id": a})["code"]
    joined = api.ok("POST", f"/invites/{invite}/join", None, 201, json={"name": "Noa", "lang": "en"})
    tokens["participant"], ids["participant"] = joined["access_token"], joined["person"]["id"]
    return api, tokens, ids, {"a": a, "b": b}, db


@pytest.mark.parametrize("who, method, path, body, status", [
    ("participant", "GET", "/people", None, 403),
    ("staff_a", "GET", "/people?branch_id={b}", None, 403),
    ("staff_a", "POST", "/people", {"name": "x", "email": "x1.{run}@example.org", "branch_roles": {"{a}": ["branch_staff"]}}, 403),
    ("manager_a", "POST", "/people", {"name": "x", "email": "x2.{run}@example.org", "branch_roles": {"{a}": ["branch_staff"]}}, 201),
    ("manager_a", "POST", "/people", {"name": "x", "email": "x3.{run}@example.org", "branch_roles": {"{b}": ["branch_staff"]}}, 403),
    ("manager_a", "POST", "/people", {"name": "x", "email": "x4.{run}@example.org", "org_roles": ["org_admin"]}, 403),
    ("manager_a", "PUT", "/people/{staff_a}/roles", {"branch_roles": {"{a}": ["branch_manager"]}}, 200),
    ("manager_a", "PUT", "/people/{staff_b}/roles", {"branch_roles": {"{b}": ["branch_manager"]}}, 404),
    ("manager_a", "POST", "/people/{staff_b}/deactivate", None, 404),
    ("manager_a", "POST", "/people/{staff_a}/password-reset", None, 200),
    ("admin", "POST", "/people", {"name": "x", "email": "x5.{run}@example.org", "branch_roles": {"{b}": ["branch_staff"]}}, 201),
    ("admin", "PUT", "/people/{staff_b}/roles", {"branch_roles": {"{a}": ["branch_staff"]}}, 200),
    ("participant", "POST", "/branches", {"code": "C", "name": {"he": "ג", "en": "C"}}, 403),
    ("manager_a", "POST", "/branches", {"code": "C", "name": {"he": "ג", "en": "C"}}, 403),
    ("participant", "POST", "/invites", {"branch_id": "{a}"}, 403),
    ("staff_a", "POST", "/invites", {"branch_id": "{b}"}, 403),
    ("participant", "GET", "/service-accounts", None, 403),
    ("manager_a", "POST", "/service-accounts", {"name": "crm"}, 403),
    ("admin", "POST", "/service-accounts", {"name": "crm"}, 201),
])
def test_roles_and_branch_scope(org, who, method, path, body, status):
    api, tokens, ids, branches, _ = org
    fill = {**branches, **ids}
    path = path.format(**fill)
    if body is not None:
        body = json.loads(json.dumps(body).replace("{a}", branches["a"]).replace("{b}", branches["b"])
                          .replace("{run}", ids["run"]))
    response = api.call(method, path, tokens[who], json=body)
    assert response.status_code == status, response.get_data(as_text=True)
    if status >= 400:
        assert response.content_type == "application/problem+json"


def test_managers_list_only_the_people_of_their_own_branches(org):
    api, tokens, ids, branches, _ = org
    listed = {p["id"] for p in api.ok("GET", "/people?limit=100", tokens["manager_a"])["items"]}
    assert {ids["manager_a"], ids["staff_a"], ids["participant"]} <= listed
    assert not {ids["manager_b"], ids["staff_b"]} & listed
    of_b = {p["id"] for p in api.ok("GET", f"/people?limit=100&branch_id={branches['b']}", tokens["admin"])["items"]}
    assert {ids["manager_b"], ids["staff_b"]} <= of_b and not {ids["manager_a"], ids["participant"]} & of_b


def test_a_token_signed_by_another_key_or_tampered_is_refused(org, tmp_path):
    api, tokens, *_ = org
    generate_keypair(tmp_path / "k", tmp_path / "p")
    foreign = TokenIssuer((tmp_path / "k").read_bytes(), "cocreate-directory").issue(
        Principal(id="pe_x", roles=frozenset({ORG_ADMIN})))
    assert api.call("GET", "/people", foreign).status_code == 401
    assert api.call("GET", "/people", tokens["staff_a"][:-4] + "AAAA").status_code == 401
    assert api.call("GET", "/people", "not-a-jwt").status_code == 401


def test_passwords_are_never_returned_stored_in_clear_or_logged(org, caplog):
    api, tokens, ids, branches, db = org
    caplog.set_level(logging.DEBUG)
    created = api.ok("POST", "/people", tokens["admin"], 201, json={
        "name": "Secret Keeper", "email": f"keeper.{ids['run']}@example.org", "branch_roles": {branches["a"]: ["branch_staff"]}})
    password = created["temporary_password"]
    token = api.sign_in(f"keeper.{ids['run']}@example.org", password)
    api.ok("POST", "/me/password", token, 204, json={"current_password": password, "new_password": "a-new-passphrase"})
    person = api.ok("GET", f"/people/{created['person']['id']}", tokens["admin"])
    assert not {k for k in person if "pass" in k or "hash" in k}
    stored = db[PEOPLE].find_one({"_id": created["person"]["id"]})
    assert stored["password_hash"].startswith("$argon2") and password not in json.dumps(stored, default=str)
    logged = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert password not in logged and "a-new-passphrase" not in logged
    assert api.call("POST", "/auth/token", json={"email": f"keeper.{ids['run']}@example.org", "password": password}).status_code == 401
    assert api.sign_in(f"keeper.{ids['run']}@example.org", "a-new-passphrase")


def test_failed_sign_ins_are_throttled_even_for_the_right_password_afterwards(org):
    api, tokens, ids, branches, _ = org
    created = api.ok("POST", "/people", tokens["admin"], 201, json={
        "name": "T", "email": f"throttle.{ids['run']}@example.org", "branch_roles": {branches["a"]: ["branch_staff"]}})
    for _ in range(5):
        assert api.call("POST", "/auth/token", json={"email": f"throttle.{ids['run']}@example.org", "password": "wrong"}).status_code == 401
    response = api.call("POST", "/auth/token", json={"email": f"throttle.{ids['run']}@example.org",
                                                     "password": created["temporary_password"]})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    # an admin reset lifts the lock and hands over a new temporary password
    temporary = api.ok("POST", f"/people/{created['person']['id']}/password-reset", tokens["admin"])["temporary_password"]
    assert api.sign_in(f"throttle.{ids['run']}@example.org", temporary)


def test_a_participant_joins_by_invite_comes_back_on_the_same_device_and_controls_consents(org, make_settings):
    api, tokens, ids, branches, _ = org
    api.ok("PUT", "/population-groups", tokens["admin"], json={"items": [
        {"code": "students", "name": {"he": "סטודנטים", "en": "Students"}}]})
    code = api.ok("POST", "/invites", tokens["manager_b"], 201, json={"branch_id": branches["b"], "max_uses": 1})["code"]
    public = api.ok("GET", f"/invites/{code.lower()}")
    assert public["branch"]["id"] == branches["b"]
    joined = api.ok("POST", f"/invites/{code}/join", None, 201, json={
        "lang": "he", "age_group": "18_29", "population_group": "students"})
    assert joined["person"]["home_branch"] == branches["b"] and joined["person"]["age_group"] == "18_29"
    assert api.call("POST", f"/invites/{code}/join", json={}).status_code == 404  # its one use is taken
    again = api.ok("POST", "/auth/token", json={"device_token": joined["device_token"]})["access_token"]
    me = api.ok("PATCH", "/me", again, json={"age_group": None, "email": f"noa.{ids['run']}@example.org"})
    assert me["age_group"] is None and me["population_group"] == "students" and me["email"] == f"noa.{ids['run']}@example.org"
    assert api.call("POST", "/auth/token", json={"device_token": joined["device_token"][:-3] + "xyz"}).status_code == 401


@pytest.mark.parametrize("body, field", [
    ({"email": "a@example.org", "branch_roles": {}}, "name"),
    ({"name": 5, "email": "a@example.org"}, "name"),
    ({"name": "x", "email": "a@example.org", "branch_roles": {"br_nowhere": ["branch_staff"]}}, "branch_roles"),
    ({"name": "x" * 500, "email": "a@example.org"}, "name"),
    ({"name": "x", "email": {"$ne": ""}}, "email.$ne"),
    ({"name": "x", "email": "not-an-address", "branch_roles": {"{a}": ["branch_staff"]}}, "email"),
    ({"name": "x", "email": "a@example.org", "branch_roles": {"{a}": ["overlord"]}}, "branch_roles"),
])
def test_bad_input_gets_per_field_problems_and_changes_nothing(org, body, field):
    api, tokens, ids, branches, db = org
    body = json.loads(json.dumps(body).replace("{a}", branches["a"]))
    body = json.loads(json.dumps(body).replace("a@example.org", f"a.{ids['run']}@example.org"))
    before = (db[PEOPLE].count_documents({}), db[EMAILS].count_documents({}))
    response = api.call("POST", "/people", tokens["admin"], json=body)
    assert response.status_code == 422 and response.content_type == "application/problem+json"
    assert any(field in key for key in response.json["errors"]["body"]), response.json
    assert (db[PEOPLE].count_documents({}), db[EMAILS].count_documents({})) == before


def test_every_change_stores_its_event_with_the_person_and_the_event_fits_the_contract(org):
    api, tokens, ids, branches, db = org
    api.ok("PUT", f"/people/{ids['staff_b']}/roles", tokens["admin"], json={"branch_roles": {branches["b"]: ["branch_manager"]}})
    doc = db[PEOPLE].find_one({"_id": ids["staff_b"]})
    types = [e["type"] for e in doc["_outbox"]]
    assert types == ["cocreate.person.registered.v1", "cocreate.person.roles_changed.v1"]
    for entry in doc["_outbox"]:
        registry.validate(json.loads(entry["value"]))
    assert json.loads(doc["_outbox"][-1]["value"])["data"]["branch_roles"] == {branches["b"]: ["branch_manager"]}

    groups = [{"code": "students", "name": {"he": "סטודנטים", "en": "Students"}},
              {"code": "families", "name": {"he": "משפחות", "en": "Families"}}]
    api.ok("PUT", "/population-groups", tokens["admin"], json={"items": groups})
    [changed] = db["org_settings"].find_one({"_id": "population_groups"})["_outbox"][-1:]
    registry.validate(event := json.loads(changed["value"]))
    assert event["type"] == "cocreate.population_groups.changed.v1" and event["data"]["items"] == groups
    assert api.ok("GET", "/population-groups", tokens["admin"])["items"] == groups


def test_erasure_removes_what_identifies_a_person_and_frees_their_address(org):
    api, tokens, ids, branches, db = org
    api.ok("POST", f"/people/{ids['staff_a']}/erase", tokens["admin"], 204)
    stored = db[PEOPLE].find_one({"_id": ids["staff_a"]})
    assert stored["erased"] and stored["name"] == "" and stored["email"] is None and "password_hash" not in stored
    assert json.loads(stored["_outbox"][-1]["value"])["type"] == "cocreate.person.erased.v1"
    assert api.call("POST", "/auth/token", json={"email": f"staff_a.{ids['run']}@example.org", "password": "x"}).status_code == 401
    api.ok("POST", "/people", tokens["admin"], 201, json={
        "name": "New", "email": f"staff_a.{ids['run']}@example.org", "branch_roles": {branches["a"]: ["branch_staff"]}})
