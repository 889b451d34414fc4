"""Contract fuzzing: Schemathesis generates requests from openapi.json, valid and invalid, and sends them through
the modelled gateway (tests/functions/contract/gateway.py) to the real authorizer and the real handlers on real
PostgreSQL. Every answer must keep the contract.

`make test` runs a bounded, deterministic run (CONTRACT_EXAMPLES examples, derandomized); `make fuzz` a long one
with a random seed (CONTRACT_EXAMPLES=5000 CONTRACT_RANDOM=1; hypothesis prints the seed of a failure).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from components.openapi import build_document
from components.routes import MODELS, REFERENCE_ROUTES, Route
from tests.functions.contract.callers import Caller
from tests.functions.contract.conftest import OrdersBackend
from tests.functions.contract.gateway import RestApiGateway, SigningClient

# One worker builds the module's database, JWKS server and authorizer once (pytest -n ... --dist loadgroup).
pytestmark = pytest.mark.xdist_group("contract")
DOCUMENT = build_document()  # what openapi.json holds (tests/components/test_openapi.py keeps them equal)
# Credentials come from the callers (real tokens, keys, signatures), not from generated header values.
SCHEMA = schemathesis.openapi.from_dict(
    DOCUMENT, config=SchemathesisConfig.from_dict({"generation": {"with-security-parameters": False}})
)
ROUTES = {(r.method, r.path): r for r in REFERENCE_ROUTES}
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "300"))
RANDOM = bool(os.environ.get("CONTRACT_RANDOM"))
REPORT = os.environ.get("CONTRACT_REPORT")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Text that must never reach a client: traces, code and driver names, infrastructure names and addresses.
LEAKS = ("Traceback", 'File "', ".py", "pg8000", "psycopg", "postgres", "SQLSTATE", "functions.", "functions/",
         "botocore", "boto3", "arn:aws", "127.0.0.1", "orders-bus", "app_user", "execute-api", "Exception",
         "Error:", "contract_")
CASES = st.one_of(SCHEMA.as_strategy(GenerationMode.POSITIVE), SCHEMA.as_strategy(GenerationMode.NEGATIVE))


@pytest.fixture(scope="module")
def tally() -> Iterator[Counter[str]]:
    """What the run exercised: (operation, caller kind, status) counts; written to CONTRACT_REPORT if set."""
    counts: Counter[str] = Counter()
    yield counts
    if REPORT:
        Path(REPORT).write_text(json.dumps(dict(sorted(counts.items())), indent=1) + "\n", encoding="utf-8")


def _route(case: Any) -> Route:
    return ROUTES[(case.operation.method.upper(), case.operation.path)]


def _error(response: Any) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body.get("error", {}) if isinstance(body, dict) else {}


def _header(response: Any, name: str) -> str | None:
    values = response.headers.get(name.lower())
    return values[-1] if values else None


def _valid_as_declared(route: Route, case: Any) -> bool:
    """Is the case valid under the dialect the document declares for its body (draft-04, like API Gateway)?

    Schemathesis generates with JSON Schema 2020-12 and ignores a schema's $schema, so its "positive" cases include
    e.g. {"quantity": 5.0}: an integer in 2020-12, but not in draft-04 (an integer has no fraction part there).
    """
    if route.model is None or not isinstance(case.body, (dict, list, str, int, float, bool)):
        return True
    return bool(jsonschema.Draft4Validator(MODELS[route.model]).is_valid(case.body))


def _call(case: Any, caller: Caller, gateway: RestApiGateway) -> Any:
    app: Any = SigningClient(gateway, caller.iam, gateway.stage.region) if caller.iam else gateway
    return case.call(base_url="http://localhost", app=app, headers=caller.headers())


def _documented_rejection(route: Route, response: Any) -> bool:
    """A valid request may still be refused for what the document cannot express as a schema."""
    error = _error(response)
    return (
        (response.status_code == 404 and route.path_parameters != ())  # an id nobody created
        or (response.status_code == 409 and error.get("code") == "idempotency_conflict")  # key reused
        or (response.status_code == 400 and error.get("field") == "cursor")  # an opaque cursor we never issued
    )


@settings(
    max_examples=EXAMPLES,
    derandomize=not RANDOM,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_generated_requests_keep_the_contract(
    data: st.DataObject, gateway: RestApiGateway, backend: OrdersBackend, callers: list[Caller], tally: Counter[str]
) -> None:
    """Schemathesis' fuzzing phase: random valid and invalid requests, from random callers."""
    case = data.draw(CASES, label="request")
    allowed_callers = [c for c in callers if c.allowed(_route(case))]
    # Two draws in three come from callers the route admits, so the handlers see most of the inputs.
    pool = st.sampled_from(callers)
    caller = data.draw(st.one_of(st.sampled_from(allowed_callers), st.sampled_from(allowed_callers), pool)
                       if allowed_callers else pool, label="caller")
    exchange(case, caller, gateway, backend, tally)


@pytest.mark.parametrize("operation", sorted(f"{r.method} {r.path}" for r in REFERENCE_ROUTES))
def test_boundary_requests_keep_the_contract(
    operation: str, gateway: RestApiGateway, backend: OrdersBackend, callers: list[Caller], tally: Counter[str]
) -> None:
    """Schemathesis' coverage phase: every boundary value, missing part and wrong type, deterministically.

    Each case goes out once from a caller the route admits and once from one it refuses (in rotation).
    """
    method, path = operation.split(" ", 1)
    api_operation = SCHEMA[path][method]
    config = SCHEMA.config.generation_for(operation=api_operation, phase="coverage")
    cases = list(SCHEMA.iter_coverage_cases(api_operation, generation_modes=list(GenerationMode),
                                            generation_config=config))
    assert cases, "the coverage phase generated nothing"
    route = ROUTES[(method, path)]
    admitted = [c for c in callers if c.allowed(route)]
    refused = [c for c in callers if not c.allowed(route)]
    for index, case in enumerate(cases):
        exchange(case, admitted[index % len(admitted)], gateway, backend, tally)
        exchange(case, refused[index % len(refused)], gateway, backend, tally)


def exchange(case: Any, caller: Caller, gateway: RestApiGateway, backend: OrdersBackend, tally: Counter[str]) -> None:
    """Send one request through the gateway and check everything the contract promises about the answer."""
    # Each exchange starts from an empty table, so that a failure replays (and shrinks) exactly.
    backend.sql("TRUNCATE orders")
    if case.method.upper() != case.operation.method.upper():
        _check_undeclared_method(case, caller, gateway)
        return
    route = _route(case)
    reached_before = gateway.backend_calls[route.key]
    response = _call(case, caller, gateway)
    reached = gateway.backend_calls[route.key] - reached_before
    mode = case.meta.generation.mode.value if case.meta else "?"
    tally[f"{route.key} | {mode} | {'allowed' if caller.allowed(route) else 'refused'} | {response.status_code}"] += 1
    try:
        _check(case, caller, gateway, route, response, reached)
    except AssertionError as failure:
        exchange_text = (f"{caller}: {case.as_curl_command(headers=caller.headers())}\n"
                         f"-> {response.status_code} {dict(response.headers)}\n{response.content[:500]!r}")
        raise AssertionError(f"{failure}\n{exchange_text}") from None


def _check_undeclared_method(case: Any, caller: Caller, gateway: RestApiGateway) -> None:
    """A method the API does not declare on a path: API Gateway answers 403 before any function runs."""
    reached_before = sum(gateway.backend_calls.values())
    response = _call(case, caller, gateway)
    assert response.status_code == 403, response.content
    assert _header(response, "x-amzn-ErrorType") == "MISSING_AUTHENTICATION_TOKEN"
    assert sum(gateway.backend_calls.values()) == reached_before
    assert json.loads(response.content)["error"] == {"code": "forbidden", "message": "Forbidden"}


def _check(case: Any, caller: Caller, gateway: RestApiGateway, route: Route, response: Any, reached: int) -> None:
    # Schemathesis: no 5xx; status, content type, headers and body as documented; invalid input rejected.
    case.validate_response(response, checks=CHECKS, headers=caller.headers())
    documented = DOCUMENT["paths"][route.path][route.method.lower()]["responses"]
    assert str(response.status_code) in documented, "status documented only through a 4XX/5XX range"
    text = response.content.decode("utf-8", errors="replace")
    assert not [leak for leak in LEAKS if leak in text], f"internal detail in the body: {text[:300]}"

    if not caller.allowed(route):
        assert response.status_code in (401, 403), f"{caller} got {response.status_code} from {route.key}"
        assert reached == 0, "a refused caller reached the function"
        return
    assert response.status_code not in (401, 403), f"{caller} was refused by {route.key}: {text[:200]}"
    gateway_answer = _header(response, "x-amzn-ErrorType") is not None
    assert reached == (0 if gateway_answer else 1)
    positive = case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE
    if positive and _valid_as_declared(route, case):
        assert response.status_code < 400 or _documented_rejection(route, response), (
            f"valid request refused: {response.status_code} {text[:300]}"
        )
    if response.status_code == 201:
        _assert_retry_returns_the_same_order(case, caller, gateway, response)


def _assert_retry_returns_the_same_order(case: Any, caller: Caller, gateway: RestApiGateway, first: Any) -> None:
    created = json.loads(first.content)
    assert _header(first, "Location") == f"/orders/{created['id']}"
    for _ in range(2):
        retry = _call(case, caller, gateway)
        assert retry.status_code == 200, retry.content
        assert _header(retry, "Idempotent-Replayed") == "true"
        assert json.loads(retry.content) == created
    # The same key with another body is a conflict, not a second order.
    other = case.derive()
    other.body = {**case.body, "quantity": case.body["quantity"] % 1000 + 1}
    conflict = _call(other, caller, gateway)
    assert conflict.status_code == 409 and _error(conflict).get("code") == "idempotency_conflict"
