"""The gateway model itself: each step does what the deployed API Gateway configuration does (README.md)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from components.gateway_responses import GATEWAY_ERRORS, SECURITY_HEADERS
from components.routes import REFERENCE_ROUTES, Backend
from tests.functions.contract.callers import API_KEY, API_KEY_ID, OPERATOR, Caller
from tests.functions.contract.gateway import (
    HttpRequest,
    HttpResponse,
    IamUser,
    RestApiGateway,
    _policy_decision,
    sign,
)

# One worker builds the module's database, JWKS server and authorizer once (pytest -n ... --dist loadgroup).
pytestmark = pytest.mark.xdist_group("contract")
ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123defg/dev/GET/orders/abc"


def by_name(callers: list[Caller], name: str) -> Caller:
    return next(c for c in callers if c.name == name)


def request(method: str, path: str, caller: Caller | None = None, *, query: str = "", body: Any = None,
            headers: dict[str, str] | None = None, raw_body: bytes | None = None) -> HttpRequest:
    all_headers = dict(caller.headers() if caller else {})
    payload = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else b"")
    if payload and raw_body is None:
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    return HttpRequest(method, path, query, tuple(all_headers.items()), payload)


def error_type(response: HttpResponse) -> str | None:
    return dict(response.headers).get("x-amzn-ErrorType")


def recording(gateway: RestApiGateway) -> tuple[RestApiGateway, list[dict[str, Any]]]:
    """The same gateway, with every event a function receives recorded."""
    events: list[dict[str, Any]] = []

    def wrap(handler: Callable[..., Any]) -> Callable[..., Any]:
        def recorded(event: dict[str, Any], context: Any) -> Any:
            events.append(event)
            return handler(event, context)

        return recorded

    return replace(gateway, backends={k: wrap(v) for k, v in gateway.backends.items()}), events


# ---- routing ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("DELETE", "/orders"), ("GET", "/orders/a/b"),
                                              ("GET", "/partner/orders"), ("PUT", "/health")])
def test_undeclared_paths_and_methods_get_the_forbidden_gateway_response(
    gateway: RestApiGateway, callers: list[Caller], method: str, path: str
) -> None:
    before = sum(gateway.backend_calls.values())
    response = gateway.handle(request(method, path, by_name(callers, "all-scopes")))
    assert (response.status, error_type(response)) == (403, "MISSING_AUTHENTICATION_TOKEN")
    assert json.loads(response.body)["error"] == {"code": "forbidden", "message": "Forbidden"}
    assert sum(gateway.backend_calls.values()) == before


def test_every_gateway_answer_is_the_deployed_template_with_security_headers(gateway: RestApiGateway) -> None:
    response = gateway.handle(request("GET", "/orders"))
    headers = dict(response.headers)
    assert response.status == 401 and headers["Content-Type"] == "application/json"
    for name, value in SECURITY_HEADERS.items():
        assert headers[name] == value
    body = json.loads(response.body)
    unauthorized = next(e for e in GATEWAY_ERRORS if e.response_type == "UNAUTHORIZED")
    assert body["error"] == {"code": unauthorized.code, "message": unauthorized.message}
    assert body["request_id"] == headers["x-amzn-RequestId"]


# ---- authentication: what never reaches a function ----------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "bearer a.b.c d"])
def test_a_token_failing_the_identity_expression_is_refused_before_the_authorizer_runs(
    gateway: RestApiGateway, header: str | None
) -> None:
    before = gateway.authorizer_calls
    headers = {"Authorization": header} if header is not None else {}
    response = gateway.handle(request("GET", "/orders", headers=headers))
    assert (response.status, error_type(response)) == (401, "UNAUTHORIZED")
    assert gateway.authorizer_calls == before


@pytest.mark.parametrize("name", ["expired", "wrong-audience", "wrong-issuer", "attacker-key", "bad-signature",
                                  "hs256-confusion", "alg-none"])
def test_tokens_the_authorizer_rejects_get_401(gateway: RestApiGateway, callers: list[Caller], name: str) -> None:
    before_authorizer, before_backends = gateway.authorizer_calls, sum(gateway.backend_calls.values())
    response = gateway.handle(request("GET", "/orders", by_name(callers, name)))
    assert (response.status, error_type(response)) == (401, "UNAUTHORIZED")
    assert gateway.authorizer_calls == before_authorizer + 1  # the real authorizer said no
    assert sum(gateway.backend_calls.values()) == before_backends


def test_a_valid_token_without_the_scope_gets_403_from_its_policy(
    gateway: RestApiGateway, callers: list[Caller]
) -> None:
    response = gateway.handle(request("POST", "/orders", by_name(callers, "read"), body={"sku": "A", "quantity": 1},
                                      headers={"Idempotency-Key": "k1"}))
    assert (response.status, error_type(response)) == (403, "ACCESS_DENIED")


def test_api_key_routes_need_a_known_key_besides_the_token(gateway: RestApiGateway, callers: list[Caller]) -> None:
    for name in ("all-scopes-no-key", "all-scopes-bad-key"):
        response = gateway.handle(request("GET", "/health", by_name(callers, name)))
        assert (response.status, error_type(response)) == (403, "INVALID_API_KEY")
    assert gateway.handle(request("GET", "/health", by_name(callers, "all-scopes"))).status == 200


def test_policy_evaluation_follows_iam_rules() -> None:
    def policy(*statements: dict[str, Any]) -> dict[str, Any]:
        return {"principalId": "u", "policyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}

    allow = {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": [ARN.rsplit("/", 1)[0] + "/*"]}
    deny = {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": ARN}
    assert _policy_decision(policy(allow), ARN) is True
    assert _policy_decision(policy(allow, deny), ARN) is False  # explicit Deny wins
    assert _policy_decision(policy(), ARN) is False  # no Allow: denied
    assert _policy_decision(policy({**allow, "Action": "s3:GetObject"}), ARN) is False
    assert _policy_decision({"policyDocument": {}}, ARN) is None  # malformed: a configuration error
    assert _policy_decision(policy({"Effect": "Maybe", "Action": "*", "Resource": "*"}), ARN) is None


# ---- SigV4 routes ---------------------------------------------------------------------------------------------


def test_iam_route_accepts_only_a_valid_signature(gateway: RestApiGateway) -> None:
    gw, events = recording(gateway)
    plain = request("POST", "/internal/reconcile", body={"limit": 5})
    assert (gw.handle(plain).status, error_type(gw.handle(plain))) == (403, "MISSING_AUTHENTICATION_TOKEN")
    bearer = request("POST", "/internal/reconcile", body={"limit": 5}, headers={"Authorization": "Bearer a.b.c"})
    assert (gw.handle(bearer).status, error_type(gw.handle(bearer))) == (403, "INCOMPLETE_SIGNATURE")
    forged = sign(plain, IamUser(OPERATOR.access_key, "wrong", OPERATOR.user_arn), "eu-west-1")
    assert error_type(gw.handle(forged)) == "INVALID_SIGNATURE"
    signed = sign(plain, OPERATOR, "eu-west-1")
    tampered = replace(signed, body=json.dumps({"limit": 500}).encode())
    assert error_type(gw.handle(tampered)) == "INVALID_SIGNATURE"
    assert events == []
    answer = gw.handle(signed)
    assert answer.status == 200 and set(json.loads(answer.body)) == {"selected", "published", "failed"}
    assert events[-1]["requestContext"]["identity"]["userArn"] == OPERATOR.user_arn


# ---- request validation ---------------------------------------------------------------------------------------


def test_required_headers_must_be_present_and_not_blank(gateway: RestApiGateway, callers: list[Caller]) -> None:
    writer = by_name(callers, "write")
    for headers in ({}, {"Idempotency-Key": ""}, {"Idempotency-Key": "   "}):
        response = gateway.handle(request("POST", "/orders", writer, body={"sku": "A", "quantity": 1},
                                          headers=headers))
        assert (response.status, error_type(response)) == (400, "BAD_REQUEST_PARAMETERS")


@pytest.mark.parametrize("body", [{"sku": "A"}, {"sku": "A", "quantity": 1, "x": 1}, {"sku": "A", "quantity": 1.0},
                                  [], "text"])
def test_bodies_are_validated_against_the_draft4_model(
    gateway: RestApiGateway, callers: list[Caller], body: Any
) -> None:
    response = gateway.handle(request("POST", "/orders", by_name(callers, "write"), body=body,
                                      headers={"Idempotency-Key": "k2"}))
    assert (response.status, error_type(response)) == (400, "BAD_REQUEST_BODY")


@pytest.mark.parametrize("raw", [b"{", b"NaN", b'{"sku": "A", "quantity": NaN}', b"\xff\xfe"])
def test_unparseable_json_bodies_are_refused(gateway: RestApiGateway, callers: list[Caller], raw: bytes) -> None:
    response = gateway.handle(request("POST", "/orders", by_name(callers, "write"), raw_body=raw,
                                      headers={"Idempotency-Key": "k3", "Content-Type": "application/json"}))
    assert (response.status, error_type(response)) == (400, "BAD_REQUEST_BODY")


def test_a_body_of_another_content_type_is_not_validated_and_reaches_the_function(
    gateway: RestApiGateway, callers: list[Caller]
) -> None:
    """API Gateway validates only a body whose content type has a model; the function must refuse the rest."""
    gw, events = recording(gateway)
    response = gw.handle(request("POST", "/orders", by_name(callers, "write"), raw_body=b"sku=A&quantity=1",
                                 headers={"Idempotency-Key": "k4", "Content-Type": "text/plain"}))
    assert len(events) == 1 and response.status == 415
    assert error_type(response) is None


# ---- the proxy event and the way back ----------------------------------------------------------------------------


def test_the_function_gets_the_rest_proxy_event_with_the_authorizer_context(
    gateway: RestApiGateway, callers: list[Caller]
) -> None:
    gw, events = recording(gateway)
    partner = by_name(callers, "all-scopes")
    order_id = str(uuid.uuid4())
    gw.handle(request("GET", f"/orders/{order_id}", partner, query="", headers={"X-Trace": "1"}))
    event = events[-1]
    assert event["resource"] == "/orders/{id}" and event["path"] == f"/orders/{order_id}"
    assert event["pathParameters"] == {"id": order_id} and event["queryStringParameters"] is None
    assert event["httpMethod"] == "GET" and event["isBase64Encoded"] is False and event["body"] is None
    authorizer = event["requestContext"]["authorizer"]
    assert authorizer["principalId"] == "user-1" and authorizer["sub"] == "user-1"
    assert authorizer["scope"] == "orders:read orders:write partner:orders:write"
    assert event["multiValueHeaders"]["X-Trace"] == ["1"] and event["headers"]["X-Trace"] == "1"
    gw.handle(request("POST", "/partner/orders", partner, body={"sku": "P-1", "quantity": 2},
                      headers={"Idempotency-Key": "k5"}, query="a=1&a=2"))
    identity = events[-1]["requestContext"]["identity"]
    assert identity["apiKeyId"] == API_KEY_ID and identity["apiKey"] == API_KEY
    assert events[-1]["multiValueQueryStringParameters"] == {"a": ["1", "2"]}
    assert events[-1]["queryStringParameters"] == {"a": "2"}


def test_an_encoded_slash_stays_inside_its_path_parameter(gateway: RestApiGateway, callers: list[Caller]) -> None:
    gw, events = recording(gateway)
    response = gw.handle(request("GET", "/orders/a%2Fb", by_name(callers, "read")))
    assert events[-1]["pathParameters"] == {"id": "a/b"} and response.status == 400


@pytest.mark.parametrize(("output", "raises"), [
    (None, False), ({"statusCode": "200"}, False), ({"statusCode": 200, "body": {"a": 1}}, False),
    ({"statusCode": 200, "headers": {"X": 1}}, False), ({"statusCode": 200, "extra": 1}, False),
    ({"statusCode": 200, "body": "!!", "isBase64Encoded": True}, False), ({}, True),
])
def test_a_failing_or_malformed_function_answer_is_a_502(
    gateway: RestApiGateway, callers: list[Caller], output: Any, raises: bool
) -> None:
    def broken(event: dict[str, Any], context: Any) -> Any:
        if raises:
            raise RuntimeError("boom: /var/task/functions/api/app.py")
        return output

    gw = replace(gateway, backends={Backend.API: broken, Backend.RECONCILE: broken})
    response = gw.handle(request("GET", "/orders", by_name(callers, "read")))
    assert (response.status, error_type(response)) == (502, "INTEGRATION_FAILURE")
    assert b"boom" not in response.body and json.loads(response.body)["error"]["code"] == "bad_gateway"


def test_routes_come_from_the_route_table(gateway: RestApiGateway) -> None:
    assert tuple(gateway.routes) == REFERENCE_ROUTES
