"""Property-based API tests (schemathesis) over every service's OpenAPI document, against the real store:
any 5xx, or any response that breaks the document (status code, content type, headers, body schema),
fails the suite. Operations are read from the live document, so every endpoint a service adds is fuzzed
from its first day. Valid and invalid inputs are both generated."""
import importlib

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from shared.config import SERVICES

EXAMPLES = 25


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_answers_as_its_document_says(service, make_settings, admin_token):
    app = importlib.import_module(f"services.{service}.app").create_app(make_settings(service))
    schema = schemathesis.openapi.from_wsgi(f"/{service}/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    headers = {"Authorization": f"Bearer {admin_token}"}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                      derandomize=True, database=None)
            def answers_as_documented(case):
                case.call_and_validate(headers=headers)

            answers_as_documented()
