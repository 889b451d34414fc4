"""The worker against a real local HTTPS token endpoint and external API (and moto Secrets Manager)."""

from __future__ import annotations

import base64
import socket
from urllib.parse import parse_qs

import pytest

from functions.worker import app
from functions.worker.config import ConfigError, WorkerSettings
from functions.worker.http_client import PermanentError, SafeHttpClient

TOKEN_PATH = "/oauth/token"
API_PATH = "/v1/orders"


def run(records):
    return app.handler({"Records": records}, None)


def failed_ids(result):
    return [failure["itemIdentifier"] for failure in result["batchItemFailures"]]


def test_delivers_only_allowlisted_fields_with_bearer_token(make_worker, partner, record, detail):
    make_worker()
    order = detail(note="private", customer_id="customer-a", internal={"x": 1})
    assert run([record(order, message_id="m-1")]) == {"batchItemFailures": []}

    (sent,) = partner.requests_to(API_PATH)
    assert sent.json() == {
        "order_id": order["order_id"],
        "sku": "SKU-1",
        "quantity": 2,
        "created_at": order["created_at"],
    }
    assert sent.headers["Authorization"] == "Bearer tok-1"
    assert sent.headers["Idempotency-Key"] == order["order_id"]

    (token_request,) = partner.requests_to(TOKEN_PATH)
    assert parse_qs(token_request.body.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["orders:notify"],
    }
    basic = base64.b64decode(token_request.headers["Authorization"].removeprefix("Basic ")).decode()
    assert basic == "worker-client:s3cr3t-client-value"


def test_token_is_cached_across_records(make_worker, partner, record):
    make_worker()
    assert failed_ids(run([record() for _ in range(5)])) == []
    assert len(partner.requests_to(TOKEN_PATH)) == 1
    assert len(partner.requests_to(API_PATH)) == 5
    assert {r.headers["Authorization"] for r in partner.requests_to(API_PATH)} == {"Bearer tok-1"}


def test_token_is_renewed_shortly_before_expiry(make_worker, partner, record, clock):
    partner.default(
        TOKEN_PATH, partner.reply(200, {"access_token": "short", "token_type": "bearer", "expires_in": 120})
    )
    make_worker()
    run([record()])
    clock.now += 59  # still more than the 60 s margin left
    run([record()])
    assert len(partner.requests_to(TOKEN_PATH)) == 1
    clock.now += 2  # now inside the margin
    run([record()])
    assert len(partner.requests_to(TOKEN_PATH)) == 2


def test_401_refreshes_the_token_once_and_retries_once(make_worker, partner, record):
    partner.script(API_PATH, partner.reply(401, {"error": "invalid_token"}))
    make_worker()
    assert failed_ids(run([record()])) == []
    assert [r.headers["Authorization"] for r in partner.requests_to(API_PATH)] == ["Bearer tok-1", "Bearer tok-2"]
    assert len(partner.requests_to(TOKEN_PATH)) == 2


def test_second_401_after_refresh_is_a_failure_without_more_attempts(make_worker, partner, record):
    partner.default(API_PATH, partner.reply(401, {"error": "invalid_token"}))
    make_worker()
    assert failed_ids(run([record(message_id="m-1")])) == ["m-1"]
    assert len(partner.requests_to(API_PATH)) == 2
    assert len(partner.requests_to(TOKEN_PATH)) == 2


def test_5xx_is_retried_with_backoff_then_succeeds(make_worker, partner, record, clock):
    partner.script(API_PATH, partner.reply(503), partner.reply(502))
    make_worker()
    assert failed_ids(run([record()])) == []
    assert len(partner.requests_to(API_PATH)) == 3
    assert len(clock.sleeps) == 2
    # Full jitter: attempt n waits within [0, 0.2 * 2^(n-1)].
    assert 0 <= clock.sleeps[0] <= 0.2 and 0 <= clock.sleeps[1] <= 0.4


def test_persistent_5xx_stops_after_max_attempts(make_worker, partner, record):
    partner.default(API_PATH, partner.reply(500))
    make_worker(max_attempts=4)
    assert failed_ids(run([record(message_id="m-1")])) == ["m-1"]
    assert len(partner.requests_to(API_PATH)) == 4


def test_total_time_budget_bounds_retries(make_worker, partner, record, clock):
    partner.default(API_PATH, partner.reply(503, headers={"Retry-After": "5"}))
    make_worker(max_attempts=10, max_total_seconds=12)
    assert failed_ids(run([record(message_id="m-1")])) == ["m-1"]
    # Each wait honours Retry-After (5 s); the third would end past the 12 s budget.
    assert clock.sleeps == [5.0, 5.0]
    assert len(partner.requests_to(API_PATH)) == 3


def test_429_is_retried(make_worker, partner, record):
    partner.script(API_PATH, partner.reply(429, headers={"Retry-After": "1"}))
    make_worker()
    assert failed_ids(run([record()])) == []
    assert len(partner.requests_to(API_PATH)) == 2


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_other_4xx_are_permanent_and_not_retried(make_worker, partner, record, status):
    partner.default(API_PATH, partner.reply(status))
    make_worker()
    assert failed_ids(run([record(message_id="m-1")])) == ["m-1"]
    assert len(partner.requests_to(API_PATH)) == 1


def test_token_endpoint_5xx_is_retried(make_worker, partner, record):
    partner.script(TOKEN_PATH, partner.reply(503))
    make_worker()
    assert failed_ids(run([record()])) == []
    assert len(partner.requests_to(TOKEN_PATH)) == 2


def test_read_timeout_fails_the_record(make_worker, partner, record):
    partner.default(API_PATH, partner.reply(201, {}, delay=0.6))
    make_worker(read_timeout=0.15, max_attempts=2)
    assert failed_ids(run([record(message_id="slow")])) == ["slow"]
    assert len(partner.requests_to(API_PATH)) == 2  # a timeout is transient: retried, then given up


def test_oversized_response_fails_the_record(make_worker, partner, record):
    partner.default(API_PATH, partner.reply(201, b"x" * 5000))
    make_worker(max_response_bytes=4096)
    assert failed_ids(run([record(message_id="big")])) == ["big"]


def test_unsized_streamed_response_is_cut_at_the_cap(partner, ca_bundle):
    partner.default(API_PATH, partner.reply(200, b"y" * 100_000, omit_length=True))
    client = SafeHttpClient(frozenset({"127.0.0.1"}), 1, 2, 4096, verify=ca_bundle)
    with pytest.raises(PermanentError, match="MAX_RESPONSE_BYTES"):
        client.post(partner.url(API_PATH), headers={})
    partner.default(API_PATH, partner.reply(200, b"y" * 4096, omit_length=True))
    assert len(client.post(partner.url(API_PATH), headers={}).body) == 4096


def test_redirects_are_not_followed(make_worker, partner, record):
    partner.default(API_PATH, partner.reply(307, headers={"Location": partner.url("/elsewhere")}))
    make_worker()
    assert failed_ids(run([record(message_id="m-1")])) == ["m-1"]
    assert partner.requests_to("/elsewhere") == []


def test_plain_http_is_refused_before_any_connection(ca_bundle):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        client = SafeHttpClient(frozenset({"127.0.0.1"}), 1, 1, 4096, verify=ca_bundle)
        with pytest.raises(PermanentError, match="https"):
            client.post(f"http://127.0.0.1:{port}/v1/orders", headers={})
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected


def test_disallowed_host_is_refused_before_any_request(partner, ca_bundle):
    client = SafeHttpClient(frozenset({"partner.example.com"}), 1, 1, 4096, verify=ca_bundle)
    with pytest.raises(PermanentError, match="ALLOWED_HOSTS"):
        client.post(partner.url(API_PATH), headers={})
    assert partner.received == []


BASE_ENV = {
    "EXTERNAL_API_URL": "https://partner.example.com/v1/orders",
    "OAUTH_TOKEN_URL": "https://auth.example.com/oauth/token",
    "OAUTH_CLIENT_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:oauth",
    "ALLOWED_HOSTS": "partner.example.com, auth.example.com",
    "AWS_REGION": "eu-west-1",
}


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"EXTERNAL_API_URL": "http://partner.example.com/v1/orders"}, "EXTERNAL_API_URL"),
        ({"OAUTH_TOKEN_URL": "http://auth.example.com/token"}, "OAUTH_TOKEN_URL"),
        ({"OAUTH_TOKEN_URL": "https://evil.example.net/token"}, "OAUTH_TOKEN_URL"),
        ({"EXTERNAL_API_URL": "https://u:p@partner.example.com/v1/orders"}, "EXTERNAL_API_URL"),
        ({"ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS"),
        ({"HTTP_READ_TIMEOUT": "soon"}, "HTTP_READ_TIMEOUT"),
        ({"MAX_RESPONSE_BYTES": "0"}, "MAX_RESPONSE_BYTES"),
        ({"OAUTH_CLIENT_SECRET_ARN": ""}, "OAUTH_CLIENT_SECRET_ARN"),
    ],
)
def test_unsafe_or_malformed_settings_name_the_variable(overrides, variable):
    with pytest.raises(ConfigError, match=variable):
        WorkerSettings.from_env(BASE_ENV | overrides)


def test_settings_defaults_follow_the_contract():
    settings = WorkerSettings.from_env(BASE_ENV)
    assert (settings.connect_timeout, settings.read_timeout, settings.max_response_bytes) == (3.0, 10.0, 1048576)
    assert settings.allowed_hosts == {"partner.example.com", "auth.example.com"}
    assert settings.scope is None
