"""Property-based checks of every operation against /openapi.json: no 5xx, no response that
breaks the documented schema (schemathesis, a bounded and deterministic run)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from clarion.security import issue_inbox_token

from .conftest import auth

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _stub_prefect(app) -> None:  # type: ignore[no-untyped-def]
    async def start(parameters, key):  # type: ignore[no-untyped-def]  # the Prefect boundary
        return "flow-run-stub"
    app.state.clarion.start_campaign = start


def test_api_conforms_to_its_schema(app, campus, make_key, api_settings):  # type: ignore[no-untyped-def]
    campus(20)
    _stub_prefect(app)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(
        path="/v1/inbox/stream")  # an endless stream; covered by test_delivery_paths
    api_key = auth(make_key())
    inbox = {"Authorization": f"Bearer {issue_inbox_token(api_settings, 'S000001')}"}
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=25, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):  # type: ignore[no-untyped-def]
            headers = inbox if case.path.startswith("/v1/inbox") else api_key
            case.call_and_validate(headers=headers, checks=CHECKS)
        check()
        tested.append(operation.label)
    assert len(tested) >= 11, tested
