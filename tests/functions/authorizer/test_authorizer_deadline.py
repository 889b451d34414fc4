"""One deadline for the whole JWKS fetch, derived from the invocation's time, and the old keys kept on
any refresh failure.

The slow servers (conftest.SlowServer) stall in one phase each - a TLS handshake that never completes,
or the handshake, the headers or the body written one byte at a time - and would need minutes to get
through it. The fetch budget comes from the JWKS_FETCH_TIMEOUT_SECONDS setting scaled for tests
(TEST_FETCH_SECONDS). What is asserted is the mechanism: the fetch fails with the deadline's reason,
not before the budget has passed, and the server saw the client hang up while still in the phase it
stalls in. The upper bound on the elapsed time is deliberately loose (the machine is shared); it only
catches a fetch that outlives its deadline by far.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from functions.authorizer.jwks import (
    REMAINING_TIME_SHARE,
    JwksCache,
    JwksError,
    fetch_budget,
    https_fetcher,
)

LOOSE_UPPER_BOUND = 20.0
"""Seconds past the budget a failed fetch may take in these tests; the slow servers need minutes."""
AMPLE_SECONDS = 30.0
"""Fetch budget where a test needs a prompt server's keys, whatever the load on the machine."""
STAGE_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/dev"


def timed_failure(fetch: Callable[[float], Any], seconds: float) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(JwksError) as caught:
        fetch(seconds)
    return caught.value.reason, time.monotonic() - started


# --- fetch_budget: derived from the invocation's remaining time and the setting --------------------


@pytest.mark.parametrize(
    ("configured", "remaining", "budget"),
    [
        (3.0, None, 3.0),  # no Lambda context (local use): the setting alone
        (3.0, 5.0, 2.5),  # a cold 5 s invocation: half its time, below the setting
        (3.0, 60.0, 3.0),  # plenty of time left: the setting
        (3.0, 0.2, 0.1),  # almost out of time: a share of what is left
        (3.0, 0.0, 0.0),
        (3.0, -1.0, 0.0),
    ],
)
def test_fetch_budget_is_the_setting_capped_by_a_share_of_the_remaining_time(
    configured: float, remaining: float | None, budget: float
) -> None:
    assert fetch_budget(configured, remaining) == pytest.approx(budget)


def test_no_time_left_fails_without_connecting(slow_server: Callable[[str], Any], ca_file: str) -> None:
    server = slow_server("handshake-hang")
    with pytest.raises(JwksError) as caught:
        https_fetcher(server.url, ca_file=ca_file)(0.0)
    assert caught.value.reason == "jwks_fetch_deadline_exceeded"
    assert server.phase == "tcp"  # no connection was made


# --- the fetch itself ends at its deadline, whatever phase the server stalls in --------------------


@pytest.mark.parametrize("stall", ["handshake-hang", "handshake-drip", "headers-drip", "body-drip"])
def test_fetch_ends_at_its_deadline_whatever_phase_stalls(
    stall: str, slow_server: Callable[[str], Any], ca_file: str, test_fetch_seconds: float
) -> None:
    server = slow_server(stall)
    stalled_phase = stall.partition("-")[0]  # handshake, headers or body
    reason, elapsed = timed_failure(https_fetcher(server.url, ca_file=ca_file), test_fetch_seconds)
    assert reason == "jwks_fetch_deadline_exceeded"
    assert server.client_gone.wait(LOOSE_UPPER_BOUND), "the client never hung up"
    # The client gave up inside the stalled phase: the deadline, not a finished transfer, ended it.
    assert server.phase == stalled_phase
    assert test_fetch_seconds <= elapsed < test_fetch_seconds + LOOSE_UPPER_BOUND


def test_a_resolver_that_hangs_is_abandoned_at_the_deadline(test_fetch_seconds: float) -> None:
    release = threading.Event()
    calls: list[str] = []

    def hanging_resolver(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        calls.append(host)
        release.wait()
        return []

    try:
        fetch = https_fetcher("https://idp.invalid/jwks.json", resolve=hanging_resolver)
        reason, elapsed = timed_failure(fetch, test_fetch_seconds)
    finally:
        release.set()
    assert calls == ["idp.invalid"]
    assert reason == "jwks_fetch_deadline_exceeded"
    assert test_fetch_seconds <= elapsed < test_fetch_seconds + LOOSE_UPPER_BOUND


def test_a_prompt_server_is_fetched_through_the_deadline_machinery(
    jwks_server: Any, ca_file: str, rsa_key: Any, ec_key: Any
) -> None:
    """The control: the deadline machinery does not break a normal fetch (given ample time)."""
    document = https_fetcher(jwks_server.url, ca_file=ca_file)(AMPLE_SECONDS)
    assert [key["kid"] for key in document["keys"]] == [rsa_key.kid, ec_key.kid]


# --- refresh failures keep the old keys --------------------------------------------------------------


class SwitchableFetcher:
    """Fetches from ``target`` (changed by the test); records the budget of each call."""

    def __init__(self, target: Callable[[float], Any]) -> None:
        self.target = target
        self.budgets: list[float] = []

    def __call__(self, seconds: float) -> Any:
        self.budgets.append(seconds)
        return self.target(seconds)


@pytest.fixture
def switchable(jwks_server: Any, ca_file: str) -> SwitchableFetcher:
    return SwitchableFetcher(https_fetcher(jwks_server.url, ca_file=ca_file))


@pytest.fixture
def warm_cache(switchable: SwitchableFetcher, clock: Any, rsa_key: Any) -> JwksCache:
    """A cache holding the IdP's keys, whose next use is due for a refresh (the keys expired)."""
    cache = JwksCache(switchable, algorithms=("RS256", "ES256"), cache_seconds=3600, min_refresh_seconds=60,
                      fetch_seconds=AMPLE_SECONDS, clock=clock)
    assert cache.get_key(rsa_key.kid).key_id == rsa_key.kid
    clock.now += 3600
    return cache


def refresh_failures(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if "jwks_refresh_failed" in r.getMessage()]


@pytest.mark.parametrize("stall", ["handshake-hang", "body-drip"])
def test_slow_idp_at_refresh_keeps_the_old_keys_within_the_deadline(
    stall: str, warm_cache: JwksCache, switchable: SwitchableFetcher, slow_server: Callable[[str], Any],
    ca_file: str, rsa_key: Any, test_fetch_seconds: float, caplog: pytest.LogCaptureFixture,
) -> None:
    switchable.target = https_fetcher(slow_server(stall).url, ca_file=ca_file)
    # The invocation's remaining time sets the budget: the share of it is the test setting.
    remaining_ms = round(test_fetch_seconds / REMAINING_TIME_SHARE * 1000)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="functions.authorizer"):
        assert warm_cache.get_key(rsa_key.kid, lambda: remaining_ms).key_id == rsa_key.kid
    elapsed = time.monotonic() - started
    assert warm_cache.fetch_count == 2
    assert switchable.budgets == [AMPLE_SECONDS, pytest.approx(test_fetch_seconds)]
    [failure] = refresh_failures(caplog)
    assert failure == {"event": "jwks_refresh_failed", "reason": "jwks_fetch_deadline_exceeded",
                       "budget_ms": round(test_fetch_seconds * 1000), "kept_old_keys": True}
    assert test_fetch_seconds <= elapsed < test_fetch_seconds + LOOSE_UPPER_BOUND


DEEPLY_NESTED = b"[" * 100_000 + b"]" * 100_000  # within the size limit; json.loads raises RecursionError


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, DEEPLY_NESTED, "jwks_not_json"),
        (200, b'{"keys": [' + b"[" * 100_000, "jwks_not_json"),
        (200, b"<html>maintenance</html>", "jwks_not_json"),
        (200, b"\xff\xfe not utf-8", "jwks_not_json"),
        (200, b'{"keys": "' + b"x" * (256 * 1024) + b'"}', "jwks_too_large"),
        (503, b'{"keys": []}', "jwks_http_503"),
        (200, b"[]", "jwks_malformed"),
        (200, b'{"keys": []}', "jwks_no_usable_keys"),
        (200, b'{"keys": [{"kty": "RSA", "kid": "rsa-1", "n": 5, "e": "AQAB"}]}', "jwks_no_usable_keys"),
    ],
    ids=["recursion", "nested-unterminated", "html", "not-utf8", "too-large", "http-503", "not-object", "no-keys",
         "number-modulus"],
)
def test_every_refresh_failure_keeps_the_old_keys(
    status: int, body: bytes, reason: str, warm_cache: JwksCache, jwks_server: Any, rsa_key: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    jwks_server.status, jwks_server.raw_body = status, body
    with caplog.at_level(logging.WARNING, logger="functions.authorizer"):
        assert warm_cache.get_key(rsa_key.kid).key_id == rsa_key.kid
    assert jwks_server.requests == 2  # the refresh really happened and failed
    [failure] = refresh_failures(caplog)
    assert (failure["reason"], failure["kept_old_keys"]) == (reason, True)


def test_a_body_cut_short_is_a_failed_refresh_even_if_what_arrived_parses(
    warm_cache: JwksCache, jwks_server: Any, rsa_key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps({"keys": [rsa_key.public_jwk]}).encode() + b" " * 100
    jwks_server.raw_body, jwks_server.declared_length = body, len(body) + 1000
    with caplog.at_level(logging.WARNING, logger="functions.authorizer"):
        assert warm_cache.get_key(rsa_key.kid).key_id == rsa_key.kid
    assert jwks_server.requests == 2
    assert [f["reason"] for f in refresh_failures(caplog)] == ["jwks_truncated"]


@pytest.mark.parametrize("error", [RecursionError(), RuntimeError("bug"), KeyError("x")])
def test_an_unexpected_error_while_refreshing_keeps_the_old_keys(
    error: Exception, warm_cache: JwksCache, switchable: SwitchableFetcher, rsa_key: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(seconds: float) -> Any:
        raise error

    switchable.target = broken
    with caplog.at_level(logging.WARNING, logger="functions.authorizer"):
        assert warm_cache.get_key(rsa_key.kid).key_id == rsa_key.kid
    [failure] = refresh_failures(caplog)
    assert failure["reason"] == "jwks_refresh_error" and failure["error_type"] == type(error).__name__


def test_refresh_for_an_unknown_kid_that_fails_keeps_the_old_keys(
    switchable: SwitchableFetcher, clock: Any, rsa_key: Any, ec_key: Any
) -> None:
    cache = JwksCache(switchable, algorithms=("RS256", "ES256"), cache_seconds=3600, min_refresh_seconds=60,
                      fetch_seconds=AMPLE_SECONDS, clock=clock)
    cache.get_key(rsa_key.kid)

    def broken(seconds: float) -> Any:
        raise RecursionError

    switchable.target = broken
    clock.now += 61
    with pytest.raises(JwksError) as caught:
        cache.get_key("rotated-kid")
    assert caught.value.reason == "unknown_kid"
    assert cache.get_key(ec_key.kid).key_id == ec_key.kid


# --- through the Lambda handler: the context's remaining time sets the deadline ----------------------


class FakeLambdaContext:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms
        self.asked = 0

    def get_remaining_time_in_millis(self) -> int:
        self.asked += 1
        return self.remaining_ms


@pytest.fixture
def app_with_slow_idp(
    slow_server: Callable[[str], Any], ca_file: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str], Any]]:
    """Imports functions.authorizer.app (a cold start) against a body-dripping IdP with the given setting."""

    def load(fetch_timeout_setting: str) -> Any:
        monkeypatch.setenv("JWT_ISSUER", "https://idp.test/")
        monkeypatch.setenv("JWT_AUDIENCE", "orders-api")
        monkeypatch.setenv("JWKS_URL", slow_server("body-drip").url)
        monkeypatch.setenv("ROUTE_SCOPES", json.dumps({"GET /orders": ["orders:read"]}))
        monkeypatch.setenv("JWKS_FETCH_TIMEOUT_SECONDS", fetch_timeout_setting)
        monkeypatch.setenv("SSL_CERT_FILE", ca_file)
        sys.modules.pop("functions.authorizer.app", None)
        return importlib.import_module("functions.authorizer.app")

    yield load
    sys.modules.pop("functions.authorizer.app", None)


@pytest.mark.parametrize(
    ("setting", "remaining_ms", "budget_ms"),
    [
        ("60", 1000, int(1000 * REMAINING_TIME_SHARE)),  # the invocation's time decides
        ("0.3", 60_000, 300),  # the setting decides
    ],
)
def test_cold_start_against_a_slow_idp_answers_401_well_inside_the_invocation(
    setting: str, remaining_ms: int, budget_ms: int, app_with_slow_idp: Callable[[str], Any], tokens: Any,
    rsa_key: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    app = app_with_slow_idp(setting)
    context = FakeLambdaContext(remaining_ms)
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {tokens.mint(rsa_key)}",
             "methodArn": f"{STAGE_ARN}/GET/orders"}
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="functions.authorizer"), pytest.raises(Exception) as caught:
        app.handler(event, context)
    elapsed = time.monotonic() - started
    assert str(caught.value) == "Unauthorized"  # a 401 from the function, not a timeout's 500
    assert context.asked == 1
    [failure] = refresh_failures(caplog)
    assert failure == {"event": "jwks_refresh_failed", "reason": "jwks_fetch_deadline_exceeded",
                       "budget_ms": budget_ms, "kept_old_keys": False}
    assert budget_ms / 1000 <= elapsed < budget_ms / 1000 + LOOSE_UPPER_BOUND


def test_a_warm_invocation_does_not_ask_for_the_remaining_time(
    jwks_server: Any, ca_file: str, tokens: Any, rsa_key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The context is read only when a fetch is due: the hot path pays nothing for the deadline."""
    for name, value in {"JWT_ISSUER": "https://idp.test/", "JWT_AUDIENCE": "orders-api", "JWKS_URL": jwks_server.url,
                        "ROUTE_SCOPES": json.dumps({"GET /orders": ["orders:read"]}), "SSL_CERT_FILE": ca_file}.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("functions.authorizer.app", None)
    try:
        app = importlib.import_module("functions.authorizer.app")
        event = {"type": "TOKEN", "authorizationToken": f"Bearer {tokens.mint(rsa_key)}",
                 "methodArn": f"{STAGE_ARN}/GET/orders"}
        cold, warm = FakeLambdaContext(5000), FakeLambdaContext(5000)
        app.handler(event, cold)
        app.handler(event, warm)
    finally:
        sys.modules.pop("functions.authorizer.app", None)
    assert (cold.asked, warm.asked) == (1, 0)
