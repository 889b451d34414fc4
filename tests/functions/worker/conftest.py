"""Fixtures for the worker: moto Secrets Manager, the local HTTPS partner (token + API), a fake clock."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.worker import app
from functions.worker.config import WorkerSettings

REGION = "eu-west-1"
CLIENT_ID = "worker-client"
CLIENT_SECRET = "s3cr3t-client-value"
TOKEN_PATH = "/oauth/token"
API_PATH = "/v1/orders"


@dataclass
class FakeClock:
    """Monotonic clock and sleep in one: sleeping advances the clock and is recorded, but takes no time."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Secret:
    client: Any
    arn: str


@pytest.fixture(scope="module")
def oauth_secret() -> Iterator[Secret]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.delenv("AWS_PROFILE", raising=False)
        with mock_aws():
            client = boto3.client("secretsmanager", region_name=REGION)
            arn = client.create_secret(
                Name="oauth-client",
                SecretString=json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
            )["ARN"]
            yield Secret(client, arn)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def partner(https_server: Any) -> Any:
    """The local HTTPS server acting as token endpoint and external API (happy defaults)."""
    issued = {"count": 0}

    def issue(request: Any) -> Any:
        issued["count"] += 1
        return https_server.reply(
            200, {"access_token": f"tok-{issued['count']}", "token_type": "Bearer", "expires_in": 3600}
        )

    https_server.default(TOKEN_PATH, issue)
    https_server.default(API_PATH, https_server.reply(201, {"status": "accepted"}))
    return https_server


def make_settings(server: Any, ca_bundle: str, **overrides: Any) -> WorkerSettings:
    values: dict[str, Any] = {
        "external_api_url": server.url(API_PATH),
        "token_url": server.url(TOKEN_PATH),
        "client_secret_arn": "",
        "scope": "orders:notify",
        "allowed_hosts": frozenset({"127.0.0.1"}),
        "region": REGION,
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "max_response_bytes": 4096,
        "max_attempts": 3,
        "max_total_seconds": 20.0,
        "ca_bundle": ca_bundle,
    }
    values.update(overrides)
    return WorkerSettings(**values)


@pytest.fixture
def make_worker(partner: Any, ca_bundle: str, oauth_secret: Secret, clock: FakeClock) -> Iterator[Any]:
    """make_worker(**setting overrides) -> installed Worker using the fake clock/sleep."""

    def make(**overrides: Any) -> app.Worker:
        settings = make_settings(partner, ca_bundle, client_secret_arn=oauth_secret.arn, **overrides)
        worker = app.Worker(settings, secrets_client=oauth_secret.client, sleep=clock.sleep, clock=clock)
        app.install(worker)
        return worker

    yield make
    app.install(None)


def order_detail(**overrides: Any) -> dict[str, Any]:
    detail = {
        "order_id": str(uuid.uuid4()),
        "customer_id": "customer-a",
        "sku": "SKU-1",
        "quantity": 2,
        "created_at": "2026-01-02T03:04:05.123456+00:00",
    }
    detail.update(overrides)
    return detail


def sqs_record(
    detail: dict[str, Any] | None = None, message_id: str | None = None, body: str | None = None
) -> dict[str, Any]:
    """An SQS record whose body is the EventBridge envelope, as an SQS target of a rule delivers it."""
    envelope = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "OrderCreated",
        "source": "platform.orders",
        "account": "123456789012",
        "time": "2026-01-02T03:04:05Z",
        "region": REGION,
        "resources": [],
        "detail": detail if detail is not None else order_detail(),
    }
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "rh",
        "body": body if body is not None else json.dumps(envelope),
        "attributes": {"ApproximateReceiveCount": "1"},
        "eventSource": "aws:sqs",
    }


@pytest.fixture
def record() -> Any:
    return sqs_record


@pytest.fixture
def detail() -> Any:
    return order_detail
