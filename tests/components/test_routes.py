"""The route table: validation, derived paths/parameters, and agreement with the functions' own contracts."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import jsonschema
import pytest

from components.routes import (
    MODELS,
    REFERENCE_ROUTES,
    Auth,
    Backend,
    Route,
    RouteError,
    describe,
    resource_paths,
    route_scopes,
    route_scopes_json,
    validate_routes,
)
from functions.api import app as api_app
from functions.api import validation as api_validation
from functions.api.http import HttpError
from functions.authorizer.routes import parse_route_scopes

ROUTES = {r.key: r for r in REFERENCE_ROUTES}


def test_reference_routes_are_valid_and_exercise_every_mode() -> None:
    validate_routes(REFERENCE_ROUTES)
    assert {r.auth for r in REFERENCE_ROUTES} == set(Auth)
    assert any(r.api_key_required for r in REFERENCE_ROUTES)
    assert any(r.auth is Auth.JWT and not r.api_key_required for r in REFERENCE_ROUTES)


def test_reference_routes_are_exactly_what_the_functions_serve() -> None:
    served = {f"{method} {path}" for method, path in api_app.ROUTES}
    assert {r.key for r in REFERENCE_ROUTES if r.backend is Backend.API} == served
    assert [r.key for r in REFERENCE_ROUTES if r.backend is Backend.RECONCILE] == ["POST /internal/reconcile"]


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (Route("POST", "/things", Auth.JWT, Backend.API), "needs a request model"),
        (Route("PUT", "/things", Auth.IAM, Backend.API, model="Nope"), "not defined"),
        (Route("POST", "/ops", Auth.IAM, Backend.RECONCILE, scopes=("x",), model="ReconcileRequest"),
         "JWT routes only"),
        (Route("GET", "/orders/", Auth.JWT, Backend.API), "trailing"),
        (Route("GET", "orders", Auth.JWT, Backend.API), "start with '/'"),
        (Route("GET", "/or*ders", Auth.JWT, Backend.API), "neither a literal"),
        (Route("ANY", "/orders", Auth.JWT, Backend.API), "method must be"),
        (Route("GET", "/orders", Auth.JWT, Backend.API, scopes=("has space",)), "invalid scope"),
        (Route("GET", "/orders", Auth.JWT, Backend.API, required_headers=("Bad Header",)), "invalid parameter"),
    ],
)
def test_invalid_routes_are_refused_naming_the_route(route: Route, message: str) -> None:
    with pytest.raises(RouteError, match=message) as error:
        validate_routes([*REFERENCE_ROUTES, route])
    assert route.key in str(error.value) or "routes:" in str(error.value)


def test_duplicates_and_ambiguous_parameters_are_refused() -> None:
    renamed = Route("GET", "/orders/{order_id}", Auth.JWT, Backend.API)
    with pytest.raises(RouteError, match="duplicates"):
        validate_routes([*REFERENCE_ROUTES, renamed])
    sibling = Route("DELETE", "/orders/{other}", Auth.JWT, Backend.API)
    with pytest.raises(RouteError, match="several path parameters"):
        validate_routes([*REFERENCE_ROUTES, sibling])
    with pytest.raises(RouteError, match="empty"):
        validate_routes([])


def test_an_unknown_auth_mode_is_refused() -> None:
    broken = replace(ROUTES["GET /orders"], auth="NONE")  # type: ignore[arg-type]
    with pytest.raises(RouteError, match="auth must be one of"):
        validate_routes([broken])


def test_resource_paths_list_every_parent_before_its_children() -> None:
    paths = resource_paths(REFERENCE_ROUTES)
    assert set(paths) == {"/health", "/orders", "/orders/{id}", "/partner", "/partner/orders", "/internal",
                          "/internal/reconcile"}
    for index, path in enumerate(paths):
        parent = path.rpartition("/")[0]
        assert parent == "" or paths.index(parent) < index


def test_request_parameters_require_path_ids_and_idempotency_keys() -> None:
    assert ROUTES["GET /orders/{id}"].request_parameters == {"method.request.path.id": True}
    for key in ("POST /orders", "POST /partner/orders"):
        assert ROUTES[key].request_parameters["method.request.header.Idempotency-Key"] is True
    assert ROUTES["GET /orders"].request_parameters == {
        "method.request.querystring.limit": False, "method.request.querystring.cursor": False,
    }


def test_route_scopes_are_what_the_authorizer_parses() -> None:
    parsed = {f"{r.method} {r.path}": r for r in parse_route_scopes(route_scopes_json(REFERENCE_ROUTES))}
    jwt_routes = [r for r in REFERENCE_ROUTES if r.auth is Auth.JWT]
    assert set(parsed) == {r.key for r in jwt_routes}
    for route in jwt_routes:
        assert parsed[route.key].scopes == frozenset(route.scopes)
        # The Lambda permission (arn_path) and the authorizer's policy must name the same ARN tail.
        assert parsed[route.key].arn_suffix == route.arn_path
    assert route_scopes(REFERENCE_ROUTES)["GET /orders"] == ["orders:read"]
    assert route_scopes(REFERENCE_ROUTES)["POST /orders"] == ["orders:write"]


def test_describe_changes_with_anything_that_shapes_a_route() -> None:
    base = json.dumps(describe(REFERENCE_ROUTES), sort_keys=True)
    variants = [
        [replace(r, api_key_required=True) if r.key == "GET /orders" else r for r in REFERENCE_ROUTES],
        [replace(r, required_headers=()) if r.key == "POST /orders" else r for r in REFERENCE_ROUTES],
        [replace(r, backend=Backend.RECONCILE) if r.key == "GET /health" else r for r in REFERENCE_ROUTES],
    ]
    for variant in variants:
        assert json.dumps(describe(variant), sort_keys=True) != base
    stricter = {**MODELS, "OrderCreate": {**MODELS["OrderCreate"], "maxProperties": 2}}
    assert json.dumps(describe(REFERENCE_ROUTES, stricter), sort_keys=True) != base


# ---- models --------------------------------------------------------------------------------------------------


def _walk(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = [schema]
    for child in (schema.get("properties") or {}).values():
        found.extend(_walk(child))
    return found


@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_are_strict_draft4_schemas(name: str) -> None:
    schema = MODELS[name]
    jsonschema.Draft4Validator.check_schema(schema)
    for node in _walk(schema):
        types = node["type"] if isinstance(node["type"], list) else [node["type"]]
        if "object" in types:
            assert node["additionalProperties"] is False
        if "string" in types:
            assert "maxLength" in node
        if "integer" in types:
            assert "minimum" in node and "maximum" in node


ORDER_BODIES = [
    {"sku": "ABC-1", "quantity": 1},
    {"sku": "a.b_c-9", "quantity": 1000, "note": "gift"},
    {"sku": "X", "quantity": 5, "note": None},
    {"sku": "X", "quantity": 5, "note": "n" * 500},
    {"sku": "X", "quantity": 0},
    {"sku": "X", "quantity": 1001},
    {"sku": "X", "quantity": 1.5},
    {"sku": "X", "quantity": "1"},
    {"sku": "", "quantity": 1},
    {"sku": "-abc", "quantity": 1},
    {"sku": "A" * 65, "quantity": 1},
    {"sku": "has space", "quantity": 1},
    {"sku": "X", "quantity": 1, "note": "n" * 501},
    {"sku": "X", "quantity": 1, "price": 0},
    {"quantity": 1},
    {"sku": "X"},
]


@pytest.mark.parametrize("body", ORDER_BODIES, ids=lambda b: json.dumps(b)[:40])
def test_order_model_agrees_with_the_function(body: dict[str, Any]) -> None:
    """The gateway never rejects what the function accepts (nor lets through what the function refuses)."""
    gateway_ok = jsonschema.Draft4Validator(MODELS["OrderCreate"]).is_valid(body)
    try:
        api_validation.order_input(body)
        function_ok = True
    except HttpError:
        function_ok = False
    assert gateway_ok is function_ok


def test_limits_mirror_the_function() -> None:
    order = MODELS["OrderCreate"]["properties"]
    assert order["quantity"]["maximum"] == api_validation.MAX_QUANTITY
    assert order["note"]["maxLength"] == api_validation.MAX_NOTE_CHARS
    assert set(order) == set(api_validation.ORDER_FIELDS)


@pytest.mark.parametrize(("body", "ok"), [({}, True), ({"limit": 500}, True), ({"limit": 0}, False),
                                          ({"limit": 501}, False), ({"limit": 10, "all": True}, False)])
def test_reconcile_model(body: dict[str, Any], ok: bool) -> None:
    assert jsonschema.Draft4Validator(MODELS["ReconcileRequest"]).is_valid(body) is ok
