"""Property-based API tests (schemathesis) over every service's OpenAPI document, against the real store:
any 5xx, or any response that breaks the document (status code, content type, headers, body schema),
fails the suite. Operations are read from the live document, so every endpoint a service adds is fuzzed
from its first day. Valid and invalid inputs are both generated."""
import importlib

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
import schemathesis.specs.openapi.checks  # noqa: F401  (registers the OpenAPI checks)
from schemathesis.checks import CHECKS

from shared.config import SERVICES

EXAMPLES = 20
# A request that fits the schema may still break a rule no schema can state (an unknown region, a wrong
# current password): such a 4xx is not a broken document, so that one check is left out.
EXCLUDED = [CHECKS.get_by_names(["positive_data_acceptance"])[0]]


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
                case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)

            try:
                answers_as_documented()
            except Unsatisfiable:
                # An operation with nothing to get wrong (no parameters, no body) has no invalid input.
                assert mode == GenerationMode.NEGATIVE, f"{operation.label}: no valid input could be generated"
