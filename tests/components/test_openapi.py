"""The OpenAPI document: current, valid, and saying exactly what the route table and the gateway deploy."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_spec

from components import openapi
from components.gateway_responses import GATEWAY_ERRORS, SECURITY_HEADERS, response_template
from components.routes import (
    MODELS,
    PARAMETERS,
    REFERENCE_ROUTES,
    RESPONSE_MODELS,
    Auth,
    Backend,
    Reply,
    Route,
    RouteError,
)
from functions.api import validation as api_validation
from functions.api.http import HttpError, error_response, response
from functions.api.orders import Order

DOCUMENT = openapi.build_document()
OPERATIONS = {f"{r.method} {r.path}": (r, DOCUMENT["paths"][r.path][r.method.lower()]) for r in REFERENCE_ROUTES}


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local $ref (one level is all the document uses)."""
    ref = node.get("$ref")
    if ref is None:
        return node
    target: Any = DOCUMENT
    for part in ref.removeprefix("#/").split("/"):
        target = target[part]
    return dict(target)


def schema_validator(name: str) -> jsonschema.Draft202012Validator:
    """A validator for a component schema, resolving its references inside the document."""
    # The schema at the root of a copy of the document: "#/components/..." references resolve as in the file.
    root = {**DOCUMENT["components"]["schemas"][name], "components": DOCUMENT["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


# ---- the file ------------------------------------------------------------------------------------------------


def test_openapi_json_is_current() -> None:
    """Like RULES.md: the committed document is exactly what `make openapi` generates."""
    committed = openapi.DOCUMENT_FILE.read_text(encoding="utf-8")
    assert committed == openapi.render(DOCUMENT), "openapi.json is stale: run `make openapi`"


def test_document_is_a_valid_openapi_31_document() -> None:
    validate_spec(json.loads(openapi.DOCUMENT_FILE.read_text(encoding="utf-8")))
    assert DOCUMENT["openapi"].startswith("3.1")


def test_check_mode_reports_a_stale_file_and_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    assert openapi.main(["--check", "--output", str(target)]) == 1
    assert not target.exists()
    assert openapi.main(["--output", str(target)]) == 0
    assert openapi.main(["--check", "--output", str(target)]) == 0
    target.write_text(target.read_text().replace("orders", "things", 1))
    assert openapi.main(["--check", "--output", str(target)]) == 1


# ---- operations: one per route, with its parameters, body and security ---------------------------------------


def test_every_route_is_one_operation_and_nothing_else() -> None:
    documented = {f"{method.upper()} {path}" for path, item in DOCUMENT["paths"].items() for method in item}
    assert documented == {r.key for r in REFERENCE_ROUTES}
    ids = [op["operationId"] for _, op in OPERATIONS.values()]
    assert len(set(ids)) == len(ids)
    assert OPERATIONS["GET /orders/{id}"][1]["operationId"] == "getOrdersById"


@pytest.mark.parametrize("key", sorted(OPERATIONS))
def test_parameters_are_the_gateways_required_parameters(key: str) -> None:
    route, operation = OPERATIONS[key]
    locations = {"path": "path", "header": "header", "query": "querystring"}
    documented = {
        f"method.request.{locations[p['in']]}.{p['name']}": p["required"] for p in operation.get("parameters", [])
    }
    assert documented == route.request_parameters
    for parameter in operation.get("parameters", []):
        assert parameter["schema"] == PARAMETERS[parameter["name"]]["schema"] and parameter["description"]


@pytest.mark.parametrize("key", sorted(OPERATIONS))
def test_request_bodies_are_the_exact_models_the_gateway_validates(key: str) -> None:
    route, operation = OPERATIONS[key]
    if route.model is None:
        assert "requestBody" not in operation
        return
    content = operation["requestBody"]["content"]
    assert list(content) == ["application/json"]
    assert resolve(content["application/json"]["schema"]) == MODELS[route.model]
    # The model keeps its dialect: API Gateway validates with JSON Schema draft-04.
    assert MODELS[route.model]["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert operation["requestBody"]["required"] is bool(MODELS[route.model].get("required"))


@pytest.mark.parametrize("key", sorted(OPERATIONS))
def test_security_is_the_routes_authentication(key: str) -> None:
    route, operation = OPERATIONS[key]
    schemes = DOCUMENT["components"]["securitySchemes"]
    [requirement] = operation["security"]
    if route.auth is Auth.IAM:
        assert requirement == {"sigv4": []}
        assert schemes["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    else:
        assert requirement.pop("bearerJwt") == sorted(route.scopes)
        assert requirement == ({"apiKey": []} if route.api_key_required else {})
        assert schemes["bearerJwt"] == schemes["bearerJwt"] | {"type": "http", "scheme": "bearer"}
    assert schemes["apiKey"]["name"] == "x-api-key" and schemes["apiKey"]["in"] == "header"


# ---- responses ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(OPERATIONS))
def test_success_replies_carry_their_models_and_headers(key: str) -> None:
    route, operation = OPERATIONS[key]
    for reply in route.replies:
        documented = operation["responses"][str(reply.status)]
        assert resolve(documented["content"]["application/json"]["schema"]) == RESPONSE_MODELS[reply.model]
        assert set(documented["headers"]) == set(SECURITY_HEADERS) | set(reply.headers)


@pytest.mark.parametrize("key", sorted(OPERATIONS))
def test_gateway_errors_are_documented_where_the_gateway_can_answer_them(key: str) -> None:
    route, operation = OPERATIONS[key]
    statuses = set(operation["responses"])
    assert {"403", "429", "500", "502", "504", "4XX", "5XX"} <= statuses
    assert ("401" in statuses) is (route.auth is Auth.JWT)
    assert ("400" in statuses) is bool(route.model or any(route.request_parameters.values()) or 400 in route.errors)
    assert ("413" in statuses) is (route.model is not None)
    for status in route.errors:
        assert "the function" in operation["responses"][str(status)]["description"]
    for status, documented in operation["responses"].items():
        assert resolve(documented["content"]["application/json"]["schema"]) == RESPONSE_MODELS.get(
            next((r.model for r in route.replies if str(r.status) == status), "Error")
        )


def test_gateway_examples_are_the_deployed_templates() -> None:
    _, operation = OPERATIONS["POST /partner/orders"]
    examples = operation["responses"]["403"]["content"]["application/json"]["examples"]
    forbidden = {e.response_type: e for e in GATEWAY_ERRORS if e.status == 403}
    assert "INVALID_API_KEY" in examples and "ACCESS_DENIED" in examples
    for kind, example in examples.items():
        template = json.loads(response_template(forbidden[kind]).replace("$context.requestId", "<request id>"))
        assert example["value"] == template
    assert "INVALID_API_KEY" not in OPERATIONS["POST /orders"][1]["responses"]["403"]["content"][
        "application/json"]["examples"]


def test_every_gateway_error_body_matches_the_error_schema() -> None:
    validator = schema_validator("Error")
    for error in GATEWAY_ERRORS:
        validator.validate(json.loads(response_template(error).replace("$context.requestId", "abc-123")))


def test_function_bodies_match_the_response_schemas() -> None:
    order = Order(uuid.uuid4(), "customer", "key", "hash", "SKU-1", 3, None, datetime.now(UTC), False)
    schema_validator("Order").validate(json.loads(response(201, order.to_public())["body"]))
    listing = {"orders": [order.to_public()], "next_cursor": api_validation.encode_cursor(order.created_at, order.id)}
    schema_validator("OrderList").validate(listing)
    error = error_response(HttpError(400, "invalid_request", "sku is required", field="sku"), "req-1")
    schema_validator("Error").validate(json.loads(error["body"]))
    leaky = {**order.to_public(), "customer_id": "customer"}
    assert not schema_validator("Order").is_valid(leaky)


def test_security_headers_are_required_on_every_response() -> None:
    headers = DOCUMENT["components"]["headers"]
    for name, value in SECURITY_HEADERS.items():
        assert headers[name]["required"] is True and headers[name]["schema"]["enum"] == [value]
    for _, operation in OPERATIONS.values():
        for documented in operation["responses"].values():
            assert set(SECURITY_HEADERS) <= set(documented["headers"])


def test_parameter_rules_mirror_the_function() -> None:
    limit = PARAMETERS["limit"]["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, api_validation.MAX_LIMIT)
    assert PARAMETERS["cursor"]["schema"]["maxLength"] == api_validation.MAX_CURSOR_CHARS
    key = PARAMETERS["Idempotency-Key"]["schema"]
    for sample in ["k", "a" * 255, "a" * 256, "with space", "é", "!~", "tab\t"]:
        documented = len(sample) <= key["maxLength"] and re.fullmatch(key["pattern"].strip("^$"), sample) is not None
        assert documented is (api_validation.IDEMPOTENCY_KEY_PATTERN.fullmatch(sample) is not None), sample


# ---- a route that cannot be documented is refused, naming it -------------------------------------------------


def test_undocumentable_routes_are_refused_naming_the_route() -> None:
    silent = Route("GET", "/things", Auth.JWT, Backend.API)
    with pytest.raises(RouteError, match="'GET /things': no replies"):
        openapi.build_document([*REFERENCE_ROUTES, silent])
    unknown = Route("GET", "/things", Auth.JWT, Backend.API, optional_query=("page",), replies=(Reply(200, "Health"),))
    with pytest.raises(RouteError, match="parameter 'page' has no entry"):
        openapi.build_document([*REFERENCE_ROUTES, unknown])
    with pytest.raises(RouteError, match="reply model 'Nope'"):
        openapi.build_document([replace(REFERENCE_ROUTES[0], replies=(Reply(200, "Nope"),))])
    with pytest.raises(RouteError, match="distinct 2xx"):
        openapi.build_document([replace(REFERENCE_ROUTES[0], replies=(Reply(404, "Health"),))])


# ---- the stage's documentation parts ------------------------------------------------------------------------


def test_documentation_parts_describe_existing_entities_only() -> None:
    parts = openapi.documentation_parts()
    keys = [p.key for p in parts]
    assert len(set(keys)) == len(keys)
    methods = {(p.location["method"], p.location["path"]) for p in parts if p.location["type"] == "METHOD"}
    assert methods == {(r.method, r.path) for r in REFERENCE_ROUTES}
    for part in parts:
        if part.location["type"] in ("PATH_PARAMETER", "REQUEST_HEADER", "QUERY_PARAMETER"):
            route = next(r for r in REFERENCE_ROUTES if (r.method, r.path) == (part.location["method"],
                                                                             part.location["path"]))
            assert any(name.endswith("." + part.location["name"]) for name in route.request_parameters)
        assert json.loads(part.properties_json) == part.properties
    models = {p.location["name"] for p in parts if p.location["type"] == "MODEL"}
    assert models == {r.model for r in REFERENCE_ROUTES if r.model}
    method = next(p for p in parts if p.location == {"type": "METHOD", "path": "/orders", "method": "POST"})
    assert "`orders:write`" in method.properties["description"]


def test_documentation_version_follows_the_text() -> None:
    base = openapi.documentation_version(openapi.documentation_parts())
    assert base.startswith(openapi.API_VERSION + "-")
    assert openapi.documentation_version(openapi.documentation_parts()) == base
    reworded = [replace(r, description=r.description + ".") if r.key == "GET /health" else r for r in REFERENCE_ROUTES]
    assert openapi.documentation_version(openapi.documentation_parts(reworded)) != base
