"""Batch semantics (partial failures), malformed records, secrets hygiene and the production wiring."""

from __future__ import annotations

import json
import logging

import pytest

from functions.worker import app
from functions.worker.http_client import PermanentError, SafeHttpClient

API_PATH = "/v1/orders"
TOKEN_PATH = "/oauth/token"


class LambdaContext:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_partial_batch_reports_exactly_the_failed_message_ids(make_worker, partner, record):
    make_worker()
    partner.script(API_PATH, partner.reply(201), partner.reply(400), partner.reply(201))
    records = [
        record(message_id="ok-1"),
        record(message_id="bad-json", body="{not json"),
        record(message_id="rejected"),
        record(message_id="ok-2"),
    ]
    assert app.handler({"Records": records}, None) == {
        "batchItemFailures": [{"itemIdentifier": "bad-json"}, {"itemIdentifier": "rejected"}]
    }
    assert len(partner.requests_to(API_PATH)) == 3


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r, d: r.pop("body"),
        lambda r, d: r.update(body="[]"),
        lambda r, d: r.update(body=json.dumps({"detail-type": "OrderCancelled", "detail": d})),
        lambda r, d: r.update(body=json.dumps({"detail-type": "OrderCreated", "detail": "text"})),
        lambda r, d: r.update(body=json.dumps({"detail-type": "OrderCreated", "detail": {**d, "order_id": "x"}})),
        lambda r, d: r.update(body=json.dumps({"detail-type": "OrderCreated", "detail": {**d, "quantity": "2"}})),
        lambda r, d: r.update(body=json.dumps({"detail-type": "OrderCreated", "detail": {**d, "sku": "a b"}})),
        lambda r, d: r.update(body=json.dumps({"detail-type": "OrderCreated", "detail": {**d, "created_at": 5}})),
        lambda r, d: r.update(
            body=json.dumps({"detail-type": "OrderCreated", "detail": {k: v for k, v in d.items() if k != "sku"}})
        ),
    ],
)
def test_malformed_record_fails_alone_and_sends_nothing(make_worker, partner, record, detail, mutate):
    make_worker()
    bad = record(message_id="bad")
    mutate(bad, detail())
    result = app.handler({"Records": [bad, record(message_id="good")]}, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad"}]}
    assert len(partner.requests_to(API_PATH)) == 1


def test_empty_batch(make_worker):
    make_worker()
    assert app.handler({"Records": []}, None) == {"batchItemFailures": []}


def test_records_left_when_the_lambda_is_about_to_time_out_are_handed_back(make_worker, partner, record):
    make_worker()
    result = app.handler({"Records": [record(message_id="a"), record(message_id="b")]}, LambdaContext(1500))
    assert result == {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}
    assert partner.received == []


def test_secrets_and_tokens_never_reach_the_logs(make_worker, partner, record, caplog):
    caplog.set_level(logging.DEBUG)
    partner.default(API_PATH, partner.reply(401, {"error": "invalid_token"}))
    make_worker()
    app.handler({"Records": [record(), record(body="{oops")]}, None)
    partner.default(TOKEN_PATH, partner.reply(200, {"access_token": "tok-x", "expires_in": "soon"}))
    app.current().tokens.invalidate()
    app.handler({"Records": [record()]}, None)
    assert caplog.records  # failures were logged...
    text = caplog.text
    for secret in ("s3cr3t-client-value", "tok-1", "tok-2", "tok-x", "Bearer", "Basic"):
        assert secret not in text  # ...without any credential


def test_server_certificate_from_an_untrusted_ca_is_refused(partner, tmp_path):
    import trustme

    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    client = SafeHttpClient(frozenset({"127.0.0.1"}), 1, 1, 4096, verify=str(other))
    with pytest.raises(PermanentError, match="TLS"):
        client.post(partner.url(API_PATH), headers={})
    assert partner.received == []


def test_production_wiring_from_environment(partner, ca_bundle, oauth_secret, record, monkeypatch):
    env = {
        "EXTERNAL_API_URL": partner.url(API_PATH),
        "OAUTH_TOKEN_URL": partner.url(TOKEN_PATH),
        "OAUTH_CLIENT_SECRET_ARN": oauth_secret.arn,
        "ALLOWED_HOSTS": "127.0.0.1",
        "AWS_REGION": "eu-west-1",
        "REQUESTS_CA_BUNDLE": ca_bundle,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app.install(None)
    try:
        assert app.handler({"Records": [record(), record()]}, LambdaContext(60_000)) == {"batchItemFailures": []}
        assert app.current().settings.read_timeout == 10.0
    finally:
        app.install(None)
    assert len(partner.requests_to(TOKEN_PATH)) == 1
    assert len(partner.requests_to(API_PATH)) == 2


def test_misconfiguration_fails_the_whole_invocation(monkeypatch, record):
    env = {
        "EXTERNAL_API_URL": "http://127.0.0.1/v1/orders",
        "OAUTH_TOKEN_URL": "https://127.0.0.1/token",
        "OAUTH_CLIENT_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x",
        "ALLOWED_HOSTS": "127.0.0.1",
        "AWS_REGION": "eu-west-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app.install(None)
    with pytest.raises(ValueError, match="EXTERNAL_API_URL"):
        app.handler({"Records": [record()]}, None)
