"""Web pieces: problem+json errors, the mount prefix, request ids, pagination."""
import pytest
from flask.views import MethodView
from flask_smorest import Blueprint

from shared.schemas import CursorArgsSchema, StrictSchema, Text, page_of
from shared.web import create_service_app, current_principal
from shared.config import load_settings

blp = Blueprint("things", __name__, url_prefix="/things")


class ThingSchema(StrictSchema):
    title = Text(required=True)


@blp.route("")
class Things(MethodView):
    @blp.arguments(ThingSchema)
    @blp.response(201, ThingSchema)
    def post(self, body):
        return body

    @blp.arguments(CursorArgsSchema, location="query")
    def get(self, args):
        raise RuntimeError("secret internals")


@blp.route("/whoami")
class WhoAmI(MethodView):
    @blp.response(200)
    def get(self):
        principal = current_principal()
        return {"id": principal.id if principal else None}


@pytest.fixture
def client(keys):
    # An unreachable store: these tests never touch it, and nothing may connect at app creation.
    settings = load_settings("ideas", mongo_url="mongodb://127.0.0.1:1/", mongo_timeout_ms=50,
                             jwt_public_key_file=str(keys["public"]))
    return create_service_app(settings, import_name=__name__, title="t", api_blueprints=[blp]).test_client()


def test_validation_errors_are_problem_json_with_per_field_messages(client):
    r = client.post("/ideas/api/v1/things", json={"title": 5, "extra": 1})
    assert r.status_code == 422 and r.content_type == "application/problem+json"
    assert set(r.json["errors"]["body"]) == {"title", "extra"}
    assert r.json["instance"] == "/ideas/api/v1/things"


def test_oversized_text_is_refused(client):
    r = client.post("/ideas/api/v1/things", json={"title": "x" * 10_001})
    assert r.status_code == 422 and "title" in r.json["errors"]["body"]


def test_malformed_json_is_a_problem_not_a_crash(client):
    r = client.post("/ideas/api/v1/things", data="{nope", content_type="application/json")
    assert r.status_code == 400 and r.content_type == "application/problem+json"


def test_an_unexpected_error_is_a_500_problem_without_a_stack_trace(client):
    r = client.get("/ideas/api/v1/things")
    assert r.status_code == 500 and r.content_type == "application/problem+json"
    assert "secret internals" not in r.get_data(as_text=True) and "Traceback" not in r.get_data(as_text=True)


def test_paths_outside_the_mount_prefix_are_not_served(client):
    assert client.get("/api/v1/things").status_code == 404
    assert client.get("/ideas/healthz").json == {"status": "ok"}


def test_request_and_correlation_ids_are_echoed(client):
    r = client.get("/ideas/healthz", headers={"X-Correlation-ID": "corr-1"})
    assert r.headers["X-Correlation-ID"] == "corr-1" and r.headers["X-Request-ID"]


def test_the_openapi_document_describes_errors_as_problem_json(client):
    spec = client.get("/ideas/api/openapi.json").json
    assert spec["servers"] == [{"url": "/ideas"}]
    assert "application/problem+json" in spec["components"]["responses"]["DEFAULT_ERROR"]["content"]


def test_a_page_reports_a_cursor_only_when_more_rows_follow():
    assert page_of([1, 2, 3], 2, cursor=str) == {"items": [1, 2], "next_cursor": "2"}
    assert page_of([1, 2], 2, cursor=str) == {"items": [1, 2], "next_cursor": None}


def test_an_ended_session_cookie_means_anonymous_and_is_cleared_but_a_bad_bearer_token_is_refused(client):
    client.set_cookie("cocreate_session", "expired.or.forged")
    response = client.get("/ideas/api/v1/things/whoami")
    assert response.status_code == 200 and response.json == {"id": None}
    assert any(c.startswith("cocreate_session=;") for c in response.headers.getlist("Set-Cookie"))
    refused = client.get("/ideas/api/v1/things/whoami", headers={"Authorization": "Bearer forged"})
    assert refused.status_code == 401 and refused.content_type == "application/problem+json"
