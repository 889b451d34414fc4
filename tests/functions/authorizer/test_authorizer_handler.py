"""The handler end to end: API Gateway TOKEN events in, IAM policy or exactly Exception("Unauthorized") out."""

from __future__ import annotations

import base64
import importlib
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.authorizer.authorize import authorize
from functions.authorizer.routes import Route
from functions.authorizer.tokens import MAX_HEADER_CHARS, TokenVerifier

STAGE_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev"
METHOD_ARN = f"{STAGE_ARN}/GET/orders"


def event(header: object, method_arn: object = METHOD_ARN) -> dict[str, object]:
    return {"type": "TOKEN", "authorizationToken": header, "methodArn": method_arn}


def assert_unauthorized(call: Any) -> None:
    """API Gateway's 401 contract: a plain Exception whose message is exactly "Unauthorized"."""
    with pytest.raises(Exception) as caught:
        call()
    assert type(caught.value) is Exception
    assert str(caught.value) == "Unauthorized"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def effects(policy: dict[str, Any]) -> dict[str, list[str]]:
    return {s["Effect"]: sorted(s["Resource"]) for s in policy["policyDocument"]["Statement"]}


@pytest.mark.parametrize("key_name", ["rsa_key", "ec_key"])
def test_valid_token_gets_policy_principal_and_safe_context(
    key_name: str,
    request: pytest.FixtureRequest,
    verifier: TokenVerifier,
    routes: tuple[Route, ...],
    tokens: Any,
) -> None:
    key = request.getfixturevalue(key_name)
    token = tokens.mint(key, scope="orders:read", extra_claim={"nested": "object"}, email="a@b.test")
    policy = authorize(event(f"Bearer {token}"), verifier, routes)
    assert policy["principalId"] == "user-42"
    assert policy["context"] == {"sub": "user-42", "scope": "orders:read", "client_id": "web-app"}
    assert all(isinstance(v, (str, int, bool)) for v in policy["context"].values())
    assert effects(policy) == {
        "Allow": [f"{STAGE_ARN}/GET/health", f"{STAGE_ARN}/GET/orders", f"{STAGE_ARN}/GET/orders/*"],
        "Deny": [f"{STAGE_ARN}/POST/orders", f"{STAGE_ARN}/POST/partner/orders"],
    }


def test_context_omits_client_id_when_absent(
    verifier: TokenVerifier, routes: tuple[Route, ...], tokens: Any, rsa_key: Any
) -> None:
    policy = authorize(event(f"bearer {tokens.mint(rsa_key, client_id=None)}"), verifier, routes)
    assert "client_id" not in policy["context"]


def test_valid_token_without_any_needed_scope_gets_a_deny_policy_not_401(
    verifier: TokenVerifier, tokens: Any, ec_key: Any
) -> None:
    routes = (
        Route("GET", "/orders", frozenset({"orders:read"})),
        Route("POST", "/orders", frozenset({"orders:write"})),
    )
    policy = authorize(event(f"Bearer {tokens.mint(ec_key, scope='profile')}"), verifier, routes)
    assert effects(policy) == {"Deny": [f"{STAGE_ARN}/GET/orders", f"{STAGE_ARN}/POST/orders"]}


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Basic dXNlcjpwYXNz", "garbage", "Bearer " + "a." * MAX_HEADER_CHARS + "a"],
    ids=["missing", "empty", "bearer-only", "basic", "garbage", "oversized"],
)
def test_bad_headers_are_401(header: str | None, verifier: TokenVerifier, routes: tuple[Route, ...]) -> None:
    assert_unauthorized(lambda: authorize(event(header), verifier, routes))


def test_header_field_absent_from_event_is_401(verifier: TokenVerifier, routes: tuple[Route, ...]) -> None:
    assert_unauthorized(lambda: authorize({"type": "TOKEN", "methodArn": METHOD_ARN}, verifier, routes))


@pytest.mark.parametrize(
    "bad",
    ["expired", "wrong_aud", "wrong_iss", "tampered", "unknown_kid", "alg_none", "hs256_confusion", "attacker"],
)
def test_invalid_tokens_are_401(
    bad: str,
    verifier: TokenVerifier,
    routes: tuple[Route, ...],
    tokens: Any,
    rsa_key: Any,
    attacker_key: Any,
) -> None:
    import jwt

    token = {
        "expired": lambda: tokens.mint(rsa_key, exp=1_000_000, iat=999_000, nbf=999_000),
        "wrong_aud": lambda: tokens.mint(rsa_key, aud="x"),
        "wrong_iss": lambda: tokens.mint(rsa_key, iss="https://evil.test/"),
        "tampered": lambda: tokens.mint(rsa_key, scope="a")[:-40] + "A" * 40,
        "unknown_kid": lambda: tokens.mint(rsa_key, headers={"kid": "nope"}),
        "alg_none": lambda: jwt.encode(tokens.claims(), "", algorithm="none") + "c2ln",
        "hs256_confusion": lambda: tokens.hs256_with_public_pem(rsa_key),
        "attacker": lambda: tokens.mint(attacker_key),
    }[bad]()
    assert_unauthorized(lambda: authorize(event(f"Bearer {token}"), verifier, routes))


def test_jwks_server_down_is_401_not_a_crash(
    jwks_server: Any, verifier: TokenVerifier, routes: tuple[Route, ...], tokens: Any, rsa_key: Any
) -> None:
    jwks_server.stop()
    assert_unauthorized(lambda: authorize(event(f"Bearer {tokens.mint(rsa_key)}"), verifier, routes))


@pytest.mark.parametrize("method_arn", [None, "", "arn:aws:execute-api:eu-west-1:1:a/b/GET/x", 42])
def test_malformed_method_arn_is_401(
    method_arn: object, verifier: TokenVerifier, routes: tuple[Route, ...], tokens: Any, rsa_key: Any
) -> None:
    assert_unauthorized(lambda: authorize(event(f"Bearer {tokens.mint(rsa_key)}", method_arn), verifier, routes))


def test_non_dict_event_is_401(verifier: TokenVerifier, routes: tuple[Route, ...]) -> None:
    assert_unauthorized(lambda: authorize(["not", "an", "event"], verifier, routes))


def test_unexpected_internal_error_is_401_and_logged_by_type_only(
    routes: tuple[Route, ...], tokens: Any, rsa_key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenVerifier(TokenVerifier):
        def __init__(self) -> None:
            pass

        def verify(self, token: str, remaining_ms: Any = None) -> Any:
            raise RuntimeError(f"bug while handling {token}")

    token = tokens.mint(rsa_key)
    with caplog.at_level(logging.INFO, logger="functions.authorizer"):
        assert_unauthorized(lambda: authorize(event(f"Bearer {token}"), BrokenVerifier(), routes))
    assert '"reason": "internal_error"' in caplog.text
    assert "RuntimeError" in caplog.text
    assert token not in caplog.text


def test_logs_carry_reason_kid_and_iss_but_never_the_token(
    verifier: TokenVerifier, routes: tuple[Route, ...], tokens: Any, rsa_key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    token = tokens.mint(rsa_key, iss="https://evil.test/", sub="secret-subject")
    with caplog.at_level(logging.DEBUG, logger="functions.authorizer"):
        assert_unauthorized(lambda: authorize(event(f"Bearer {token}"), verifier, routes))
    denial = next(json.loads(r.getMessage()) for r in caplog.records if "unauthorized" in r.getMessage())
    assert denial == {
        "decision": "unauthorized",
        "reason": "wrong_issuer",
        "kid": rsa_key.kid,
        "iss": "https://evil.test/",
    }
    for part in token.split("."):
        assert part not in caplog.text
    assert "secret-subject" not in caplog.text


# --- cold start through the real module, configured by environment variables ---------------------


@pytest.fixture
def app_env(jwks_server: Any, ca_file: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("JWT_ISSUER", "https://idp.test/")
    monkeypatch.setenv("JWT_AUDIENCE", "orders-api")
    monkeypatch.setenv("JWKS_URL", jwks_server.url)
    monkeypatch.setenv("ROUTE_SCOPES", json.dumps({"GET /orders": ["orders:read"], "POST /orders": ["orders:write"]}))
    # The production code trusts the system store; the test CA is added the standard OpenSSL way.
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    sys.modules.pop("functions.authorizer.app", None)
    yield
    sys.modules.pop("functions.authorizer.app", None)


def test_app_handler_end_to_end_with_module_level_cache(
    app_env: None, jwks_server: Any, tokens: Any, ec_key: Any
) -> None:
    app = importlib.import_module("functions.authorizer.app")
    token = tokens.mint(ec_key, scope="orders:write")
    for _ in range(3):
        policy = app.handler(event(f"Bearer {token}"), None)
        assert effects(policy) == {"Allow": [f"{STAGE_ARN}/POST/orders"], "Deny": [f"{STAGE_ARN}/GET/orders"]}
    assert jwks_server.requests == 1  # the cache lives across invocations
    assert_unauthorized(lambda: app.handler(event("Bearer x.y.z"), None))


def test_app_refuses_to_start_without_configuration(app_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_AUDIENCE")
    with pytest.raises(ValueError, match="JWT_AUDIENCE"):
        importlib.import_module("functions.authorizer.app")


def test_app_refuses_plain_http_jwks_url_at_start(app_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWKS_URL", "http://127.0.0.1:9/jwks.json")
    with pytest.raises(ValueError, match="JWKS_URL"):
        importlib.import_module("functions.authorizer.app")


# --- fuzzing the Authorization header -------------------------------------------------------------

B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=4,
)
CLAIM_NAMES = st.sampled_from(["iss", "aud", "sub", "exp", "nbf", "iat", "scope", "scp", "client_id"])


def b64url_json(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@st.composite
def crafted_tokens(draw: st.DrawFn) -> str:
    """Structurally plausible JWTs (JSON header and payload with fuzzed values, random signature),
    so the fuzz reaches key lookup, signature and claim checks, not only the header regex."""
    # Mostly plausible alg/kid values (so verification is reached), sometimes arbitrary JSON.
    plausible_alg = st.sampled_from(["RS256", "ES256"])
    plausible_kid = st.sampled_from(["rsa-1", "ec-1", "unknown"])
    header = {
        "alg": draw(
            st.one_of(plausible_alg, plausible_alg, st.sampled_from(["HS256", "none", "PS256", ""]), JSON_VALUES)
        ),
        "kid": draw(st.one_of(plausible_kid, plausible_kid, JSON_VALUES)),
    }
    payload = draw(st.dictionaries(CLAIM_NAMES, JSON_VALUES, max_size=5))
    if draw(st.booleans()):
        payload = {"iss": "https://idp.test/", "aud": "orders-api", "sub": "x", "exp": 4_000_000_000, **payload}
    raw_signature = draw(st.binary(min_size=1, max_size=300))
    signature = base64.urlsafe_b64encode(raw_signature).rstrip(b"=").decode()
    return f"{b64url_json(header)}.{b64url_json(payload)}.{signature}"


headers = st.one_of(
    st.text(max_size=100),
    st.text(max_size=100).map(lambda s: f"Bearer {s}"),
    st.lists(st.text(alphabet=B64URL + ".", max_size=100), min_size=1, max_size=4).map(
        lambda parts: "Bearer " + ".".join(parts)
    ),
    # Weighted x3: crafted tokens are the ones that reach key lookup and signature verification.
    crafted_tokens().map(lambda t: f"Bearer {t}"),
    crafted_tokens().map(lambda t: f"bearer {t}"),
    crafted_tokens().map(lambda t: f"BEARER  {t} "),
    st.binary(max_size=100).map(lambda b: "Bearer " + b.decode("latin-1")),
    st.integers(min_value=MAX_HEADER_CHARS - 8, max_value=MAX_HEADER_CHARS * 2).map(lambda n: "Bearer " + "a" * n),
    st.none() | st.integers() | st.lists(st.text(max_size=3), max_size=2),
)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=headers)
def test_fuzzed_authorization_header_is_always_denied_cleanly(
    header: Any, verifier: TokenVerifier, routes: tuple[Route, ...]
) -> None:
    try:
        policy = authorize(event(header), verifier, routes)
    except Exception as error:
        assert type(error) is Exception and str(error) == "Unauthorized"
    else:
        # No fuzzed header carries a valid signature, so a returned policy may only deny.
        assert all(s["Effect"] == "Deny" for s in policy["policyDocument"]["Statement"])
