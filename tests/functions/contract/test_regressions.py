"""One regression test per defect the contract fuzzer found (README.md lists them), on the smallest input."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from components.gateway_responses import SECURITY_HEADERS
from components.routes import MODELS, REFERENCE_ROUTES, Backend
from functions.api import app as api_app
from functions.api import reconcile
from functions.api import validation as api_validation
from functions.api.http import HttpError, error_response, internal_error_response, response


def test_function_answers_carry_every_security_header_the_gateway_sends() -> None:
    """Found: 200 from GET /health lacked X-Frame-Options, which every gateway response carries."""
    answers: list[dict[str, Any]] = [
        response(200, {"status": "ok"}, "r"),
        error_response(HttpError(400, "invalid_request", "bad", field="sku"), "r"),
        internal_error_response("r"),
        api_app.handler({"httpMethod": "GET", "resource": "/nowhere"}, None),
        reconcile.handler({"requestContext": {}}, None),
    ]
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer["headers"].get(name) == value, (name, json.dumps(answer)[:200])


def _event(method: str, resource: str, query: dict[str, str] | None) -> dict[str, Any]:
    return {"httpMethod": method, "resource": resource, "queryStringParameters": query,
            "requestContext": {"authorizer": {"principalId": "user-1"}}, "headers": {}}


@pytest.mark.parametrize(("method", "resource"), [("GET", "/orders"), ("GET", "/orders/{id}"), ("GET", "/health"),
                                                  ("POST", "/orders"), ("POST", "/partner/orders")])
def test_unknown_query_parameters_are_refused_naming_them(method: str, resource: str) -> None:
    """Found: GET /orders?limit=1&x-schemathesis-unknown-property=42 answered 200, ignoring the parameter."""
    answer = api_app.handler(_event(method, resource, {"limt": "5"}), None)
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"])["error"]["field"] == "limt"
    long_name = "x" * 5000
    answer = api_app.handler(_event(method, resource, {long_name: "1"}), None)
    assert len(answer["body"]) < 500  # a client-chosen name is not echoed back whole


def test_reconcile_refuses_query_parameters() -> None:
    event = {**_event("POST", "/internal/reconcile", {"limit": "5"}),
             "requestContext": {"identity": {"userArn": "arn:aws:iam::123456789012:user/ops"}}}
    answer = reconcile.handler(event, None)
    assert answer["statusCode"] == 400 and json.loads(answer["body"])["error"]["field"] == "limit"


def test_the_function_takes_exactly_the_query_parameters_the_route_table_documents() -> None:
    for route in REFERENCE_ROUTES:
        if route.backend is Backend.API:
            documented = frozenset(route.optional_query)
            assert api_app.QUERY_PARAMETERS.get((route.method, route.path), frozenset()) == documented, route.key


@pytest.mark.parametrize("note", ["\x00", "gift\x00wrap", "\u0000" * 3])
def test_the_order_model_refuses_the_nul_the_function_refuses(note: str) -> None:
    """Found: {"quantity": 1, "sku": "0", "note": "\\u0000"} passed the gateway's model, then the function said 400."""
    body = {"sku": "A-1", "quantity": 1, "note": note}
    assert not jsonschema.Draft4Validator(MODELS["OrderCreate"]).is_valid(body)
    with pytest.raises(HttpError):
        api_validation.order_input(body)
    assert jsonschema.Draft4Validator(MODELS["OrderCreate"]).is_valid({**body, "note": note.replace("\x00", " ")})
