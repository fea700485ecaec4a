"""Property-based API test: schemathesis generates requests, valid and invalid, from the
running system's `/api/v1/openapi.json` and sends them as an admin; no answer may be a server
error, and every answer must be one the document promises (status code, content type, schema).

One test per operation. The list of operations comes from the app's own OpenAPI document,
built here without a server, so that collection needs no running system; the requests are
generated from the document the running system serves.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from serve_deployments.context import ApiContext
from serve_deployments.rest_api import build_rest_app
from tests.conftest import RunningSystem

# Operations the fuzzer leaves to the explicit tests of test_rest_api.py, and why:
NOT_FUZZED = {
    # An endless stream: every generated request would wait out its timeout.
    ("GET", "/events/stream"),
    # Would revoke the tokens other tests of this session hold (ids are small integers).
    ("DELETE", "/tokens/{token_id}"),
}
# Operations that change a setting the whole system shares, and the value the other tests of
# the session rely on: put back after the fuzzing (a station nobody registered is refused).
RESTORED = {("PUT", "/onboarding/policy"): {"unknown_stations": "refuse"}}
EXAMPLES_PER_OPERATION = 30

OPERATIONS = sorted(
    (method.upper(), path)
    for path, ops in build_rest_app(ApiContext(None, None, None, {}, None))  # type: ignore[arg-type]
    .openapi()["paths"]
    .items()
    for method in ops
    if (method.upper(), path) not in NOT_FUZZED
)


@pytest.fixture(scope="session")
def served_schema(system: RunningSystem):
    return schemathesis.openapi.from_url(f"{system.http}/api/v1/openapi.json", timeout=30)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_request_gets_a_server_error_or_an_undocumented_answer(
    served_schema, system: RunningSystem, method: str, path: str
):
    operation = served_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )
    auth = {"Authorization": f"Bearer {system.admin_token}"}

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def exchange(case) -> None:
        case.call_and_validate(
            base_url=f"{system.http}/api/v1",
            headers=auth,
            timeout=60,
            # 422 also answers what a schema cannot express: a cursor this API never handed
            # out, a period ending before it starts, a reservation expiring in the past.
            # test_rest_api.py checks those answers one by one.
            excluded_checks=[positive_data_acceptance],
        )

    try:
        exchange()
    finally:
        if (method, path) in RESTORED:
            r = httpx.request(
                method,
                f"{system.http}/api/v1{path}",
                headers=auth,
                json=RESTORED[method, path],
                timeout=30,
            )
            assert r.status_code == 200, r.text
