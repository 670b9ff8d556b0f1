"""Property-based API tests (schemathesis) over every service's OpenAPI document, against the real store:
any 5xx, or any response that breaks the document (status, content type, body schema), fails the suite.
Every endpoint a service adds is fuzzed from its first day."""
import importlib

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from shared.config import SERVICES


@pytest.fixture(params=SERVICES)
def api_schema(request, make_settings):
    app = importlib.import_module(f"services.{request.param}.app").create_app(make_settings(request.param))
    return schemathesis.openapi.from_wsgi(f"/{request.param}/api/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_answers_as_its_document_says(case, admin_token):
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"})
