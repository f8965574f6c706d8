"""Property-based checks of every operation against /openapi.json: no 5xx, no response that
breaks the documented schema (schemathesis, a bounded and deterministic run)."""

from __future__ import annotations

import itertools

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from clarion.security import issue_inbox_token

from .conftest import auth

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def _httpx_kwargs(kwargs: dict) -> dict:  # type: ignore[type-arg]
    """schemathesis gives requests-style arguments; TestClient speaks httpx."""
    out = {k: v for k, v in kwargs.items() if k in ("method", "url", "headers", "params",
                                                    "cookies", "json", "files")}
    if "data" in kwargs and kwargs["data"] is not None:
        data = kwargs["data"]
        out["content" if isinstance(data, (bytes, str)) else "data"] = data
    return out


def _stub_prefect(app) -> None:  # type: ignore[no-untyped-def]
    async def start(parameters, key):  # type: ignore[no-untyped-def]  # the Prefect boundary
        return "flow-run-stub"
    app.state.clarion.start_campaign = start


def test_api_conforms_to_its_schema(app, client, campus, make_key, api_settings):  # type: ignore[no-untyped-def]
    campus(20)
    _stub_prefect(app)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(
        path="/v1/inbox/stream")  # an endless stream; covered by test_delivery_paths
    api_key = auth(make_key())
    inbox = {"Authorization": f"Bearer {issue_inbox_token(api_settings, 'S000001')}"}
    tested = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=20, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):  # type: ignore[no-untyped-def]
            headers = inbox if case.path.startswith("/v1/inbox") else api_key
            # sent through the app's TestClient: schemathesis's own requests transport trips
            # over urllib3-future in this environment
            kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
            response = client.request(**_httpx_kwargs(kwargs))
            case.validate_response(response, checks=CHECKS, headers=headers)
        try:
            check()
        except Unsatisfiable:  # nothing to break in an operation without inputs
            assert mode is GenerationMode.NEGATIVE
        tested.append(operation.label)
    assert len(set(tested)) >= 11, tested

