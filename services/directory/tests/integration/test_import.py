"""Bulk import and the demo seed against the real store: all or nothing, events in the outbox, the API and the
command line."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.directory import importer, seed
from services.directory.app import create_app
from services.directory.repository import BRANCHES, EMAILS, INDEXES, PEOPLE, REGIONS
from services.directory.services import Directory, create_branch, create_staff, reset_password
from shared.auth import BRANCH_MANAGER, ORG_ADMIN, Principal
from shared.errors import Conflict
from shared.mongo import apply_indexes, database_for

ROOT = Path(__file__).resolve().parents[4]
ADMIN = importer.system_actor("test")
REGIONS_CSV = b"code,name_he,name_en\nnorth,\xd7\xa6\xd7\xa4\xd7\x95\xd7\x9f,North\n"
BRANCHES_CSV = "code,name_he,name_en,region_code,address\n" + "".join(
    f"b{i},סניף {i},Branch {i},{'north' if i % 2 else ''},רחוב {i}\n" for i in range(1, 6))
STAFF_CSV = ("name,email,lang,branch_code,role\n"
             "Noa Levi,noa@example.org,he,b1,branch_manager\n"
             "Noa Levi,noa@example.org,he,b2,branch_staff\n"
             "Dana Cohen,dana@example.org,en,,org_admin\n"
             "Eli Mor,eli@example.org,he,b3,branch_staff\n")


@pytest.fixture
def store(make_settings):
    settings = make_settings("directory")
    db = database_for(settings)
    apply_indexes(db, INDEXES)
    return settings, db, Directory.of(db)


@pytest.fixture
def organization(store):
    """The store with a region and five branches imported."""
    settings, db, d = store
    importer.import_regions(d, ADMIN, REGIONS_CSV)
    importer.import_branches(d, ADMIN, BRANCHES_CSV.encode())
    return settings, db, d


def outbox_types(db, collection) -> list[str]:
    return sorted(e["type"] for doc in db[collection].find({"_outbox_pending": True}) for e in doc["_outbox"])


def test_a_valid_file_imports_every_row_and_emits_one_event_per_branch_and_person(organization):
    _, db, d = organization
    assert importer.import_staff(d, ADMIN, STAFF_CSV.encode()) == 3
    assert db[BRANCHES].count_documents({}) == 5
    assert outbox_types(db, BRANCHES) == ["cocreate.branch.created.v1"] * 5
    assert db[PEOPLE].count_documents({}) == 3 and db[EMAILS].count_documents({}) == 3
    assert outbox_types(db, PEOPLE) == ["cocreate.person.registered.v1"] * 3
    north = d.regions.ids_by_code()["north"]
    assert {b["code"] for b in db[BRANCHES].find({"region_id": north})} == {"b1", "b3", "b5"}
    event = db[PEOPLE].find_one({"email": "noa@example.org"})["_outbox"][0]
    assert '"actorid":"system"' in event["value"].replace(" ", "")


def test_staff_on_several_rows_get_merged_roles_and_no_password_until_reset(organization):
    _, db, d = organization
    importer.import_staff(d, ADMIN, STAFF_CSV.encode())
    ids = d.branches.ids_by_code(["b1", "b2"])
    noa = d.people.get(d.people.id_by_email("noa@example.org"))
    assert noa.branch_roles == {ids["b1"]: {"branch_manager"}, ids["b2"]: {"branch_staff"}}
    assert d.people.credentials(noa.id)["password_hash"] is None
    assert reset_password(d, ADMIN, noa.id)  # an admin hands over a temporary password
    assert d.people.credentials(noa.id)["password_hash"].startswith("$argon2")


def test_a_file_with_bad_rows_imports_nothing_and_reports_each_bad_line(organization):
    _, db, d = organization
    bad = STAFF_CSV + "Gil,gil@example.org,he,b9,branch_staff\nHod,hod@example,he,b1,branch_staff\n"
    with pytest.raises(importer.ImportRejected) as caught:
        importer.import_staff(d, ADMIN, bad.encode())
    assert [(e.line, e.field) for e in caught.value.errors] == [(6, "branch_code"), (7, "email")]
    assert db[PEOPLE].count_documents({}) == 0 and db[EMAILS].count_documents({}) == 0


def test_duplicates_within_the_file_and_with_the_store_are_both_reported(organization):
    _, db, d = organization
    data = "code,name_he,name_en\nnew1,א,A\nb2,ב,B\nnew1,ג,C\nnew2,ד,D\n"
    with pytest.raises(importer.ImportRejected) as caught:
        importer.import_branches(d, ADMIN, data.encode())
    assert [(e.line, e.field, e.message) for e in caught.value.errors] == [
        (3, "code", "A branch with code 'b2' exists already."), (4, "code", "Line 2 has the same code 'new1'.")]
    assert db[BRANCHES].count_documents({}) == 5


def test_a_code_taken_between_the_check_and_the_write_leaves_nothing_of_the_file(organization):
    _, db, d = organization
    branches = importer.check_branches(d, ADMIN, b"code,name_he,name_en\nx1,a,A\nx2,b,B\nx3,c,C\n")
    create_branch(d, ADMIN, code="x3", name={"he": "ג", "en": "C"})  # someone else, meanwhile
    with pytest.raises(Conflict):
        importer.add_branches(d, ADMIN, branches)
    assert {b["code"] for b in db[BRANCHES].find({"code": {"$in": ["x1", "x2", "x3"]}})} == {"x3"}
    assert outbox_types(db, BRANCHES) == ["cocreate.branch.created.v1"] * 6  # the five imported and x3


def test_an_address_taken_between_the_check_and_the_write_leaves_nothing_of_the_file(organization):
    _, db, d = organization
    people = importer.check_staff(d, ADMIN, STAFF_CSV.encode())
    create_staff(d, ADMIN, name="Early", email="eli@example.org", branch_roles={d.branches.ids_by_code(["b4"])["b4"]:
                                                                              ["branch_staff"]})
    with pytest.raises(Conflict):
        importer.add_people(d, ADMIN, [(p, None) for p in people])
    assert [p["name"] for p in db[PEOPLE].find()] == ["Early"]
    assert [c["_id"] for c in db[EMAILS].find()] == ["eli@example.org"]


# --- through the API -----------------------------------------------------------------------------------

@pytest.fixture
def api(organization, issue_token):
    settings, db, d = organization
    client = create_app(settings).test_client()
    b1 = d.branches.ids_by_code(["b1"])["b1"]
    tokens = {"admin": issue_token(Principal(id="pe_admin", roles=frozenset({ORG_ADMIN}))),
              "manager": issue_token(Principal(id="pe_manager", branch_roles={b1: frozenset({BRANCH_MANAGER})}))}

    def post(kind, body: str, who="admin", content_type="text/csv"):
        return client.post(f"/directory/api/v1/imports/{kind}", data=body.encode(), content_type=content_type,
                           headers={"Authorization": f"Bearer {tokens[who]}"})

    return post, db


def test_an_admin_imports_through_the_api(api):
    post, db = api
    response = post("staff", STAFF_CSV)
    assert response.status_code == 201 and response.json == {"imported": 3}
    assert db[PEOPLE].count_documents({}) == 3


def test_the_api_answers_422_listing_every_bad_row_and_imports_nothing(api):
    post, db = api
    response = post("branches", "code,name_he,name_en\nok,א,A\n,ב,B\nb1,ג,C\n")
    assert response.status_code == 422 and response.content_type == "application/problem+json"
    assert response.json["errors"] == {"rows": [
        {"line": 3, "field": "code", "message": "Missing data for required field."},
        {"line": 4, "field": "code", "message": "A branch with code 'b1' exists already."}]}
    assert db[BRANCHES].count_documents({"code": "ok"}) == 0


def test_only_org_admins_may_import_a_branch_manager_gets_403(api):
    post, db = api
    response = post("staff", STAFF_CSV, who="manager")
    assert response.status_code == 403 and db[PEOPLE].count_documents({}) == 0


def test_the_file_must_be_sent_as_csv(api):
    post, _ = api
    assert post("regions", "code,name_he,name_en\n", content_type="text/plain").status_code == 415


# --- command line --------------------------------------------------------------------------------------

def run_cli(settings, *args):
    env = dict(os.environ, MONGO_URL=settings.mongo_url, MONGO_DB=settings.mongo_db, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "services.directory.importer", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_command_line_exits_1_with_the_report_on_a_bad_file_and_imports_a_good_one(organization, tmp_path):
    settings, db, _ = organization
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_text(STAFF_CSV + "Gil,gil@example.org,he,b9,branch_staff\n")
    good.write_text(STAFF_CSV)
    failed = run_cli(settings, "staff", str(bad))
    assert failed.returncode == 1, failed.stderr
    assert "line 6: branch_code: Unknown branch code 'b9'." in failed.stderr
    assert db[PEOPLE].count_documents({}) == 0
    done = run_cli(settings, "staff", str(good))
    assert done.returncode == 0, done.stderr
    assert "imported 3 staff" in done.stdout and db[PEOPLE].count_documents({}) == 3


# --- the demo seed --------------------------------------------------------------------------------------

def counts(db) -> dict:
    return {name: db[name].count_documents({}) for name in (REGIONS, BRANCHES, PEOPLE, EMAILS, "invites")}


def test_the_seed_is_idempotent_and_writes_how_to_sign_in(make_settings, monkeypatch, tmp_path):
    settings = make_settings("directory")
    monkeypatch.setenv("MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("MONGO_DB", settings.mongo_db)
    monkeypatch.setenv("COCREATE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("COCREATE_ADMIN_PASSWORD", "change-me-now")
    db = database_for(settings)
    assert seed.main(["--demo", "--participants", "40"]) == 0
    first = counts(db)
    assert first == {REGIONS: 4, BRANCHES: 12, PEOPLE: 1 + 36 + 40, EMAILS: 1 + 36, "invites": 12}
    assert seed.main(["--demo", "--participants", "40"]) == 0
    assert counts(db) == first
    text = (tmp_path / "demo-credentials.txt").read_text()
    assert "admin@cocreate.local / change-me-now" in text and f"/ {seed.DEMO_PASSWORD}" in text
    assert "/directory/join/" in text
    assert seed.main(["--demo", "--branches", "14", "--participants", "50"]) == 0  # grows
    assert counts(db) == {REGIONS: 4, BRANCHES: 14, PEOPLE: 1 + 42 + 50, EMAILS: 1 + 42, "invites": 14}


def test_demo_staff_sign_in_with_the_demo_password(store, keys):
    from shared.auth import TokenIssuer
    from services.directory.services import sign_in_with_password

    _, _, d = store
    seed.seed(d, ADMIN, participants=0)
    issuer = TokenIssuer(keys["private"].read_bytes(), "cocreate-directory")
    person, token = sign_in_with_password(d, issuer, email=seed.staff_email("manager", "haifa"),
                                          password=seed.DEMO_PASSWORD)
    assert token and set(person.branch_roles.values()) == {frozenset({BRANCH_MANAGER})}
