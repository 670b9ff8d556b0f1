"""The directory's administration pages through the Flask client, against the real store."""
import re

from services.directory.app import create_app
from shared.auth import ORG_ADMIN, Principal


def test_the_staff_page_lists_staff_with_their_branch_names_and_resets_a_password_behind_csrf(
        make_settings, issue_token):
    client = create_app(make_settings("directory")).test_client()
    admin = {"Authorization": f"Bearer {issue_token(Principal(id='pe_root', roles=frozenset({ORG_ADMIN})))}"}
    branch = client.post("/directory/api/v1/branches", headers=admin,
                         json={"code": "ELT", "name": {"he": "אילת", "en": "Eilat"}}).json["id"]
    person = client.post("/directory/api/v1/people", headers=admin, json={
        "name": "Rina", "email": "rina@example.org", "branch_roles": {branch: ["branch_manager"]}}).json["person"]
    client.set_cookie("cocreate_session", issue_token(Principal(id="pe_root", roles=frozenset({ORG_ADMIN}))))

    page = client.get("/directory/admin/people?lang=en")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Rina" in html and "Branch manager (Eilat)" in html

    reset = {"action": "reset", "person_id": person["id"]}
    assert client.post("/directory/admin/people", data=reset).status_code == 403  # no CSRF token
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    answer = client.post("/directory/admin/people?lang=en", data=dict(reset, csrf_token=token))
    assert answer.status_code == 200 and "New temporary password" in answer.get_data(as_text=True)


def test_the_staff_page_sets_a_role_at_one_branch_and_keeps_the_others(make_settings, issue_token):
    client = create_app(make_settings("directory")).test_client()
    root = Principal(id="pe_root", roles=frozenset({ORG_ADMIN}))
    admin = {"Authorization": f"Bearer {issue_token(root)}"}
    a = client.post("/directory/api/v1/branches", headers=admin, json={"code": "A", "name": {"he": "א", "en": "A"}}).json["id"]
    b = client.post("/directory/api/v1/branches", headers=admin, json={"code": "B", "name": {"he": "ב", "en": "B"}}).json["id"]
    person = client.post("/directory/api/v1/people", headers=admin, json={
        "name": "Omer", "email": "omer@example.org", "branch_roles": {a: ["branch_staff"], b: ["branch_staff"]}}).json["person"]
    client.set_cookie("cocreate_session", issue_token(root))
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/directory/admin/people").get_data(as_text=True)).group(1)

    saved = client.post("/directory/admin/people", data={"action": "roles", "person_id": person["id"], "branch_id": a,
                                                        "role": "branch_manager", "csrf_token": token})
    assert saved.status_code == 200
    roles = client.get(f"/directory/api/v1/people/{person['id']}", headers=admin).json["branch_roles"]
    assert roles == {a: ["branch_manager"], b: ["branch_staff"]}

    client.post("/directory/admin/people", data={"action": "roles", "person_id": person["id"], "branch_id": b,
                                                 "role": "", "csrf_token": token})
    assert client.get(f"/directory/api/v1/people/{person['id']}", headers=admin).json["branch_roles"] == {
        a: ["branch_manager"]}
