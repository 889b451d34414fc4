"""Fixtures for the api/reconcile handlers: a real, bootstrapped database and moto's EventBridge → SQS."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.api import bootstrap, runtime
from functions.api.config import DbSettings, EventSettings
from functions.api.runtime import Runtime

REGION = "eu-west-1"
BUS = "orders-bus"
SOURCE = "platform.orders"


FAKE_AWS_ENV = {
    # Fake credentials so nothing can reach a real account even if a mock were missing.
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@contextlib.contextmanager
def fake_aws_env() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in FAKE_AWS_ENV.items():
            mp.setenv(key, value)
        for key in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            mp.delenv(key, raising=False)
        yield


@pytest.fixture
def aws_credentials() -> Iterator[None]:
    with fake_aws_env():
        yield


def settings_for(server: Any, database: str, ca_file: str | None = None) -> DbSettings:
    return DbSettings(
        host=server.host,
        port=server.port,
        name=database,
        user=server.app_user,
        ssl_root_cert=ca_file or server.ca_file,
        region=REGION,
    )


@dataclass
class Bus:
    """moto EventBridge bus with a rule sending every OrderCreated to an SQS queue we can read."""

    events: Any
    sqs: Any
    queue_url: str

    def received(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        for _ in range(20):  # bounded drain
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not batch:
                break
            for message in batch:
                messages.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return messages


@pytest.fixture(scope="module")
def moto_bus() -> Iterator[Bus]:
    # One moto session per test module (starting moto costs ~0.1 s); `api` drains the queue per test.
    with fake_aws_env(), mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        queue_url = sqs.create_queue(QueueName="orders")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(
            Name="orders-to-queue",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": [SOURCE], "detail-type": ["OrderCreated"]}),
        )
        events.put_targets(Rule="orders-to-queue", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
        yield Bus(events, sqs, queue_url)


def build_runtime(settings: DbSettings, server: Any, events_client: Any) -> Runtime:
    return Runtime.build(
        settings,
        EventSettings(bus_name=BUS, source=SOURCE, region=REGION),
        token_provider=lambda: server.app_password,
        events_client=events_client,
    )


@dataclass
class Api:
    runtime: Runtime
    bus: Bus | None
    db_settings: DbSettings
    admin: Any

    def sql(self, statement: str, **params: Any) -> list[list[Any]]:
        """Inspect the database directly (as the admin role), independently of the code under test."""
        return list(self.admin.run(statement, **params) or [])

    def order_count(self) -> int:
        """Rows in orders; 0 when the table does not exist yet (nothing reached the database)."""
        if self.sql("SELECT to_regclass('public.orders')") == [[None]]:
            return 0
        return int(self.sql("SELECT count(*) FROM orders")[0][0])


@contextlib.contextmanager
def bootstrapped_database(server: Any, prefix: str, app_user: str | None = None) -> Iterator[tuple[str, Any]]:
    """A database set up as in a deployed stack: owned by the admin (the RDS master user's part), schema and
    app-role grants applied by the bootstrap's own `provision`. Yields (name, admin connection to it)."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    root = server.admin()
    root.run(f'CREATE DATABASE "{name}"')
    admin = server.admin(name)
    try:
        bootstrap.provision(admin, app_user or server.app_user)
        yield name, admin
    finally:
        admin.close()
        root.run(f'DROP DATABASE "{name}" WITH (FORCE)')
        root.close()


@pytest.fixture(scope="module")
def module_database(postgres_server: Any) -> Iterator[tuple[DbSettings, Any]]:
    """One bootstrapped database per test module (CREATE DATABASE costs ~0.2 s) and an admin connection to it.

    The handlers thus run with exactly the privileges the deployed app role has (no DDL, no DELETE).
    """
    with bootstrapped_database(postgres_server, "m") as (name, admin):
        yield settings_for(postgres_server, name), admin


@pytest.fixture(scope="module")
def module_runtime(module_database: tuple[DbSettings, Any], postgres_server: Any, moto_bus: Bus) -> Iterator[Runtime]:
    rt = build_runtime(module_database[0], postgres_server, moto_bus.events)
    yield rt
    rt.db.close()


@pytest.fixture
def api(module_runtime: Runtime, module_database: tuple[DbSettings, Any], moto_bus: Bus) -> Iterator[Api]:
    """The handlers' runtime: real database (password auth, TLS), moto EventBridge; emptied per test.

    The runtime (and its connection) lives for the module, like a warm Lambda execution environment.
    """
    settings, admin = module_database
    api = Api(module_runtime, moto_bus, settings, admin)
    if api.sql("SELECT to_regclass('public.orders')") != [[None]]:
        api.sql("TRUNCATE orders")
    moto_bus.received()
    runtime.install(module_runtime)
    try:
        yield api
    finally:
        runtime.install(None, close_previous=False)  # the module reuses it


@pytest.fixture
def api_factory(postgres_server: Any) -> Iterator[Any]:
    """Install a runtime over a fresh bootstrapped database with a given EventBridge client."""
    with bootstrapped_database(postgres_server, "f") as (name, admin):
        settings = settings_for(postgres_server, name)

        def make(events_client: Any) -> Api:
            rt = build_runtime(settings, postgres_server, events_client)
            runtime.install(rt)
            return Api(rt, None, settings, admin)

        try:
            yield make
        finally:
            runtime.install(None)


class Context:
    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())


def event(
    method: str,
    resource: str,
    *,
    principal: str | None = "customer-a",
    body: Any = None,
    raw_body: str | None = None,
    headers: dict[str, str] | None = None,
    path_params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    api_key_id: str | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """An API Gateway REST (AWS_PROXY) event, as the authorizer and API Gateway would fill it."""
    all_headers = {"Content-Type": "application/json"} if body is not None or raw_body is not None else {}
    all_headers.update(headers or {})
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    if text is not None and base64_body:
        text = base64.b64encode(text.encode()).decode()
    request_context: dict[str, Any] = {
        "requestId": str(uuid.uuid4()),
        "identity": {"apiKeyId": api_key_id, "sourceIp": "203.0.113.9"},
        "resourcePath": resource,
        "httpMethod": method,
    }
    if principal is not None:
        request_context["authorizer"] = {"principalId": principal}
    path = resource
    for key, value in (path_params or {}).items():
        path = path.replace("{" + key + "}", value)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "queryStringParameters": query,
        "pathParameters": path_params,
        "body": text,
        "isBase64Encoded": base64_body,
        "requestContext": request_context,
    }


def call(handler: Any, ev: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    result = handler(ev, Context())
    body = json.loads(result["body"]) if result.get("body") else None
    return result["statusCode"], result["headers"], body


@pytest.fixture
def make_event() -> Any:
    return event


@pytest.fixture
def invoke() -> Any:
    """invoke(handler, event) -> (status, headers, parsed body)."""
    return call
