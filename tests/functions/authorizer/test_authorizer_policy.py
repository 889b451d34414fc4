"""ROUTE_SCOPES parsing, methodArn parsing, the policy's meaning under IAM evaluation, and settings."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from functions.authorizer.config import ConfigError, load_settings
from functions.authorizer.routes import Route, build_policy, parse_method_arn, parse_route_scopes

STAGE_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev"


def evaluate(policy: dict[str, Any], request_arn: str) -> bool:
    """IAM evaluation for execute-api:Invoke: an explicit Deny wins, then an Allow, else deny.

    In execute-api resource ARNs "*" matches any run of characters (including "/") and "?" one.
    """

    def matches(pattern: str) -> bool:
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        return re.fullmatch(regex, request_arn) is not None

    effects = {
        statement["Effect"]
        for statement in policy["policyDocument"]["Statement"]
        if statement["Action"] == "execute-api:Invoke" and any(matches(r) for r in statement["Resource"])
    }
    return "Deny" not in effects and "Allow" in effects


def request(method: str, path: str) -> str:
    return f"{STAGE_ARN}/{method}{path}"


ROUTES = parse_route_scopes(
    json.dumps(
        {
            "GET /orders": ["orders:read"],
            "POST /orders": ["orders:write"],
            "GET /orders/{id}": ["orders:read"],
            "GET /health": [],
            "POST /partner/orders": ["partner:write", "orders:write"],
        }
    )
)

# (method, concrete request path) of every configured route, and the scopes it needs.
REQUESTS = [
    ("GET", "/orders", {"orders:read"}),
    ("POST", "/orders", {"orders:write"}),
    ("GET", "/orders/7f9c", {"orders:read"}),
    ("GET", "/health", set()),
    ("POST", "/partner/orders", {"partner:write", "orders:write"}),
]

SCOPE_SETS = [
    frozenset(),
    frozenset({"orders:read"}),
    frozenset({"orders:write"}),
    frozenset({"orders:read", "orders:write"}),
    frozenset({"partner:write"}),
    frozenset({"partner:write", "orders:write", "orders:read"}),
]


def policy_for(scopes: frozenset[str], method_arn: str = f"{STAGE_ARN}/GET/orders") -> dict[str, Any]:
    return build_policy("user-42", parse_method_arn(method_arn), ROUTES, scopes, {"sub": "user-42"})


@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=lambda s: "+".join(sorted(s)) or "no-scopes")
def test_policy_decides_every_route_by_its_scopes(scopes: frozenset[str]) -> None:
    policy = policy_for(scopes)
    for method, path, needed in REQUESTS:
        assert evaluate(policy, request(method, path)) == (needed <= scopes), (method, path)


@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=lambda s: "+".join(sorted(s)) or "no-scopes")
def test_policy_is_the_same_whichever_route_triggered_it(scopes: frozenset[str]) -> None:
    # API Gateway caches the first policy for the token and reuses it on every route of the stage.
    policies = [policy_for(scopes, request(method, path)) for method, path, _ in REQUESTS]
    assert all(p == policies[0] for p in policies)


def test_missing_scope_denies_that_route_explicitly_and_allows_the_others() -> None:
    policy = policy_for(frozenset({"orders:read"}))
    statements = {s["Effect"]: s["Resource"] for s in policy["policyDocument"]["Statement"]}
    assert sorted(statements["Allow"]) == [
        f"{STAGE_ARN}/GET/health",
        f"{STAGE_ARN}/GET/orders",
        f"{STAGE_ARN}/GET/orders/*",
    ]
    assert sorted(statements["Deny"]) == [f"{STAGE_ARN}/POST/orders", f"{STAGE_ARN}/POST/partner/orders"]


def test_unconfigured_routes_and_other_stages_are_not_allowed() -> None:
    policy = policy_for(SCOPE_SETS[-1])
    assert not evaluate(policy, request("DELETE", "/orders/1"))
    assert not evaluate(policy, request("POST", "/internal/reconcile"))
    assert not evaluate(policy, "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/GET/orders")
    assert not evaluate(policy, "arn:aws:execute-api:eu-west-1:123456789012:other9/dev/GET/orders")


def test_no_scopes_for_any_protected_route_yields_a_deny_only_policy() -> None:
    routes = parse_route_scopes('{"GET /orders": ["orders:read"], "POST /orders": ["orders:write"]}')
    policy = build_policy("u", parse_method_arn(f"{STAGE_ARN}/GET/orders"), routes, frozenset(), {})
    assert [s["Effect"] for s in policy["policyDocument"]["Statement"]] == ["Deny"]


def test_explicit_deny_beats_a_wildcard_allow_on_an_overlapping_route() -> None:
    routes = parse_route_scopes('{"GET /files/{path+}": ["files:read"], "GET /files/secret": ["admin"]}')
    policy = build_policy("u", parse_method_arn(f"{STAGE_ARN}/GET/files/a"), routes, frozenset({"files:read"}), {})
    assert evaluate(policy, request("GET", "/files/a/b"))
    assert not evaluate(policy, request("GET", "/files/secret"))


def test_policy_shape_and_context() -> None:
    policy = build_policy(
        "user-42",
        parse_method_arn(f"{STAGE_ARN}/GET/orders"),
        ROUTES,
        frozenset({"orders:read"}),
        {"sub": "user-42", "scope": "orders:read"},
    )
    assert policy["principalId"] == "user-42"
    assert policy["policyDocument"]["Version"] == "2012-10-17"
    assert policy["context"] == {"sub": "user-42", "scope": "orders:read"}


@pytest.mark.parametrize(
    ("key", "suffix"),
    [
        ("GET /orders", "GET/orders"),
        ("get /orders/{id}", "GET/orders/*"),
        ("ANY /{proxy+}", "*/*"),
        ("GET /", "GET/"),
        ("DELETE /a/{x}/b/{y}", "DELETE/a/*/b/*"),
    ],
)
def test_route_arn_suffixes(key: str, suffix: str) -> None:
    (route,) = parse_route_scopes(json.dumps({key: []}))
    assert route.arn_suffix == suffix


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        "{}",
        '{"GET": []}',
        '{"FETCH /orders": []}',
        '{"GET orders": []}',
        '{"GET /orders/": []}',
        '{"GET /orders//x": []}',
        '{"GET /orders/*": []}',
        '{"GET /orders/{id": []}',
        '{"GET /orders": "orders:read"}',
        '{"GET /orders": ["orders read"]}',
        '{"GET /orders": [1]}',
        '{"GET /orders/{a}": [], "get /orders/{b}": []}',
    ],
)
def test_invalid_route_scopes_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_route_scopes(raw)


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "arn:aws:lambda:eu-west-1:123456789012:function:x",
        "arn:aws:execute-api:eu-west-1:1234:abc/dev/GET/x",
        "arn:aws:execute-api:eu-west-1:123456789012:abc*/dev/GET/x",
        "arn:aws:execute-api:eu-west-1:123456789012:abc/*/GET/x",
        "arn:aws:execute-api:eu-west-1:123456789012:abc",
    ],
)
def test_malformed_method_arns_are_refused(arn: str) -> None:
    with pytest.raises(ValueError):
        parse_method_arn(arn)


def test_method_arn_parts_are_taken_from_the_event() -> None:
    stage = parse_method_arn("arn:aws-cn:execute-api:cn-north-1:210987654321:q1w2e3/prod/POST/partner/orders")
    assert (stage.partition, stage.region, stage.account, stage.api_id, stage.stage) == (
        "aws-cn",
        "cn-north-1",
        "210987654321",
        "q1w2e3",
        "prod",
    )
    route = Route(method="GET", path="/health", scopes=frozenset())
    assert stage.route_arn(route) == "arn:aws-cn:execute-api:cn-north-1:210987654321:q1w2e3/prod/GET/health"


VALID_ENV = {
    "JWT_ISSUER": "https://idp.test/",
    "JWT_AUDIENCE": "orders-api",
    "JWKS_URL": "https://idp.test/.well-known/jwks.json",
    "ROUTE_SCOPES": '{"GET /orders": ["orders:read"]}',
}


def test_settings_defaults() -> None:
    settings = load_settings(VALID_ENV)
    assert settings.algorithms == ("RS256", "ES256")
    assert (settings.jwks_cache_seconds, settings.jwks_min_refresh_seconds) == (3600, 60)
    assert settings.jwks_fetch_timeout_seconds == 3.0
    assert settings.routes == (Route("GET", "/orders", frozenset({"orders:read"})),)


def test_settings_overrides() -> None:
    env = {**VALID_ENV, "JWT_ALGORITHMS": " ES256 ", "JWKS_CACHE_SECONDS": "600", "JWKS_MIN_REFRESH_SECONDS": "30",
           "JWKS_FETCH_TIMEOUT_SECONDS": "1.5"}
    settings = load_settings(env)
    assert settings.jwks_fetch_timeout_seconds == 1.5
    assert (settings.algorithms, settings.jwks_cache_seconds, settings.jwks_min_refresh_seconds) == (
        ("ES256",),
        600,
        30,
    )


@pytest.mark.parametrize("name", ["JWT_ISSUER", "JWT_AUDIENCE", "JWKS_URL", "ROUTE_SCOPES"])
def test_missing_required_variable_is_named(name: str) -> None:
    env = {k: v for k, v in VALID_ENV.items() if k != name}
    with pytest.raises(ConfigError, match=name):
        load_settings(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JWKS_URL", "http://idp.test/jwks.json"),
        ("JWKS_URL", "https:///jwks.json"),
        ("JWT_ALGORITHMS", "HS256"),
        ("JWT_ALGORITHMS", "RS256,none"),
        ("JWT_ALGORITHMS", ","),
        ("JWKS_CACHE_SECONDS", "soon"),
        ("JWKS_CACHE_SECONDS", "0"),
        ("JWKS_MIN_REFRESH_SECONDS", "-5"),
        ("JWKS_MIN_REFRESH_SECONDS", "7200"),
        ("JWKS_FETCH_TIMEOUT_SECONDS", "0"),
        ("JWKS_FETCH_TIMEOUT_SECONDS", "-1"),
        ("JWKS_FETCH_TIMEOUT_SECONDS", "soon"),
        ("JWKS_FETCH_TIMEOUT_SECONDS", "nan"),
        ("JWKS_FETCH_TIMEOUT_SECONDS", "inf"),
        ("ROUTE_SCOPES", '{"GET /orders": "orders:read"}'),
    ],
)
def test_invalid_variable_is_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({**VALID_ENV, name: value})
