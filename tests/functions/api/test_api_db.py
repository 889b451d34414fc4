"""Database connection security and lifecycle: TLS verification, token source, reconnects, schema."""

from __future__ import annotations

import re
import ssl
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme
from pg8000.exceptions import DatabaseError

from functions.api import app, runtime, schema
from functions.api.config import ConfigError, DbSettings, migrate_on_start
from functions.api.db import Database, IamAuthTokenProvider, build_ssl_context
from tests.functions.api.conftest import bootstrapped_database

ORDER = {"sku": "SKU-1", "quantity": 1}


def test_certificate_from_another_ca_is_refused(postgres_server, pg_database, tmp_path):
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    settings = DbSettings(
        postgres_server.host, postgres_server.port, pg_database, postgres_server.app_user, str(other_ca), "eu-west-1"
    )
    db = Database(settings, token_provider=lambda: postgres_server.app_password)
    with pytest.raises(ssl.SSLCertVerificationError):
        db.connection()


def test_handler_hides_connection_failures_behind_a_generic_500(
    postgres_server, pg_database, tmp_path, make_event, invoke, moto_bus
):
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    settings = DbSettings(
        postgres_server.host, postgres_server.port, pg_database, postgres_server.app_user, str(other_ca), "eu-west-1"
    )
    from functions.api.config import EventSettings
    from functions.api.runtime import Runtime

    runtime.install(
        Runtime.build(settings, EventSettings("bus", "platform.orders", "eu-west-1"), lambda: "x", moto_bus.events)
    )
    try:
        ev = make_event("POST", "/orders", body=ORDER, headers={"Idempotency-Key": "k"})
        ev["requestContext"]["requestId"] = "req-123"
        result = app.handler(ev, None)
    finally:
        runtime.install(None)
    assert result["statusCode"] == 500
    assert result["body"] == (
        '{"error":{"code":"internal_error","message":"Internal server error"},"request_id":"req-123"}'
    )
    assert result["headers"]["X-Request-Id"] == "req-123"
    for leak in ("Traceback", "SSL", "certificate", "127.0.0.1", str(postgres_server.port), "pg8000", "orders"):
        assert leak not in result["body"]


def test_wrong_password_from_the_token_source_is_refused(postgres_server, pg_database):
    settings = DbSettings(
        postgres_server.host,
        postgres_server.port,
        pg_database,
        postgres_server.app_user,
        postgres_server.ca_file,
        "eu-west-1",
    )
    with pytest.raises(DatabaseError) as caught:
        Database(settings, token_provider=lambda: "not-the-password").connection()
    assert caught.value.args[0]["C"] == "28P01"  # invalid_password


@pytest.mark.parametrize("content", [None, "", "not a certificate\n"])
def test_missing_or_empty_ca_bundle_fails_closed_naming_the_setting(tmp_path, content):
    path = tmp_path / "bundle.pem"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match="DB_SSL_ROOT_CERT"):
        build_ssl_context(str(path))


def test_ssl_context_verifies_chain_and_host_name(ca_bundle):
    context = build_ssl_context(ca_bundle)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_connection_is_reused_across_invocations_and_reestablished_when_killed(api, make_event, invoke):
    assert invoke(app.handler, make_event("GET", "/orders"))[0] == 200
    pid = api.runtime.db.connection().run("SELECT pg_backend_pid()")[0][0]
    assert invoke(app.handler, make_event("GET", "/orders"))[0] == 200
    assert api.runtime.db.connection().run("SELECT pg_backend_pid()")[0][0] == pid  # reused

    api.sql("SELECT pg_terminate_backend(:pid)", pid=pid)
    status, _, created = invoke(
        app.handler, make_event("POST", "/orders", body=ORDER, headers={"Idempotency-Key": "after-kill"})
    )
    assert status == 201
    assert api.runtime.db.connection().run("SELECT pg_backend_pid()")[0][0] != pid
    assert api.sql("SELECT count(*) FROM orders WHERE id = :id", id=uuid.UUID(created["id"])) == [[1]]


def test_migration_is_idempotent_and_defines_the_outbox_and_idempotency_constraint(api, make_event, invoke):
    invoke(app.handler, make_event("GET", "/orders"))
    schema.migrate(api.admin)
    schema.migrate(api.admin)
    unique = api.sql(
        """
        SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
        WHERE c.conrelid = 'orders'::regclass AND c.contype = 'u'
        """
    )
    assert unique == [[["customer_id", "idempotency_key"]]]
    published = api.sql(
        "SELECT is_nullable, column_default FROM information_schema.columns "
        "WHERE table_name = 'orders' AND column_name = 'published'"
    )
    assert published == [["NO", "false"]]


def test_database_rejects_out_of_range_quantity_even_if_validation_were_bypassed(api, make_event, invoke):
    invoke(app.handler, make_event("GET", "/orders"))
    with pytest.raises(DatabaseError):
        api.sql(
            "INSERT INTO orders (id, customer_id, idempotency_key, request_hash, sku, quantity) "
            "VALUES (gen_random_uuid(), 'c', 'k', 'h', 's', 5000)"
        )


def test_iam_token_provider_signs_a_connect_token_for_host_port_user_region(aws_credentials):
    token = IamAuthTokenProvider("db.example.internal", 6543, "orders_app", "eu-west-1")()
    parsed = urlsplit("https://" + token)
    assert (parsed.hostname, parsed.port) == ("db.example.internal", 6543)
    query = parse_qs(parsed.query)
    assert query["Action"] == ["connect"]
    assert query["DBUser"] == ["orders_app"]
    # <access key>/<date>/<region>/<service>/aws4_request: signed for rds-db in the right region.
    assert re.fullmatch(r"\w+/\d{8}/eu-west-1/rds-db/aws4_request", query["X-Amz-Credential"][0])
    assert int(query["X-Amz-Expires"][0]) <= 900
    assert len(query["X-Amz-Signature"][0]) == 64


def test_production_path_from_environment(postgres_server, make_event, invoke, aws_credentials, monkeypatch):
    """Runtime built from the contract's env vars: IAM token source, TLS with the bundle, no DDL at cold start
    (the database was bootstrapped at deploy time, with iam_user as the app role).

    The local server trusts iam_user over TLS (it cannot verify an RDS token); the token's content is
    checked by the test above.
    """
    with bootstrapped_database(postgres_server, "p", app_user=postgres_server.iam_user) as (name, _):
        monkeypatch.delenv("DB_MIGRATE_ON_START", raising=False)
        _env_for(postgres_server, name, postgres_server.iam_user, monkeypatch)
        runtime.install(None)
        try:
            status, _, body = invoke(app.handler, make_event("GET", "/orders"))
            assert (status, body) == (200, {"orders": [], "next_cursor": None})
            provider = runtime.current().db._token_provider
            assert isinstance(provider, IamAuthTokenProvider)
            assert (provider.host, provider.port, provider.user, provider.region) == (
                postgres_server.host,
                postgres_server.port,
                "iam_user",
                "eu-west-1",
            )
        finally:
            runtime.install(None)


def _env_for(server, database, user, monkeypatch, **extra):
    env = {
        "DB_HOST": server.host,
        "DB_PORT": str(server.port),
        "DB_NAME": database,
        "DB_USER": user,
        "DB_SSL_ROOT_CERT": server.ca_file,
        "EVENT_BUS_NAME": "orders-bus",
        **extra,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def iam_owned_database(postgres_server):
    """An empty database the app role owns: the local-development setup where cold-start DDL is allowed."""
    name = f"o_{uuid.uuid4().hex[:12]}"
    admin = postgres_server.admin()
    admin.run(f'CREATE DATABASE "{name}" OWNER {postgres_server.iam_user}')
    try:
        yield name
    finally:
        admin.run(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


def _has_orders_table(server, database):
    conn = server.admin(database)
    try:
        return conn.run("SELECT to_regclass('public.orders')") != [[None]]
    finally:
        conn.close()


def test_cold_start_runs_no_ddl_by_default(
    postgres_server, iam_owned_database, make_event, invoke, aws_credentials, monkeypatch
):
    # Even a role that could create the table does not: deployed stacks leave the schema to the bootstrap.
    monkeypatch.delenv("DB_MIGRATE_ON_START", raising=False)
    _env_for(postgres_server, iam_owned_database, postgres_server.iam_user, monkeypatch)
    runtime.install(None)
    try:
        status, _, _ = invoke(app.handler, make_event("GET", "/orders"))
    finally:
        runtime.install(None)
    assert status == 500  # no table, and the function did not create one
    assert not _has_orders_table(postgres_server, iam_owned_database)


def test_cold_start_migrates_when_asked(
    postgres_server, iam_owned_database, make_event, invoke, aws_credentials, monkeypatch
):
    _env_for(postgres_server, iam_owned_database, postgres_server.iam_user, monkeypatch, DB_MIGRATE_ON_START="true")
    runtime.install(None)
    try:
        status, _, body = invoke(app.handler, make_event("GET", "/orders"))
    finally:
        runtime.install(None)
    assert (status, body) == (200, {"orders": [], "next_cursor": None})
    assert _has_orders_table(postgres_server, iam_owned_database)


@pytest.mark.parametrize(("raw", "expected"), [("", False), ("false", False), ("0", False), ("TRUE", True),
                                               ("1", True)])
def test_migrate_on_start_flag_values(raw, expected):
    assert migrate_on_start({"DB_MIGRATE_ON_START": raw}) is expected
    assert migrate_on_start({}) is False


def test_migrate_on_start_rejects_other_values_naming_the_variable():
    with pytest.raises(ConfigError, match="DB_MIGRATE_ON_START"):
        migrate_on_start({"DB_MIGRATE_ON_START": "maybe"})


@pytest.mark.parametrize(
    ("missing", "overrides"),
    [
        ("DB_HOST", {"DB_HOST": ""}),
        ("DB_PORT", {"DB_PORT": "abc"}),
        ("DB_PORT", {"DB_PORT": "70000"}),
        ("DB_SSL_ROOT_CERT", {"DB_SSL_ROOT_CERT": ""}),
        ("AWS_REGION", {"AWS_REGION": ""}),
    ],
)
def test_settings_errors_name_the_variable(missing, overrides):
    env = {
        "DB_HOST": "h",
        "DB_PORT": "5432",
        "DB_NAME": "d",
        "DB_USER": "u",
        "DB_SSL_ROOT_CERT": "/c",
        "AWS_REGION": "eu-west-1",
    } | overrides
    with pytest.raises(ConfigError, match=missing):
        DbSettings.from_env(env)


def test_misconfigured_environment_is_a_generic_500(make_event, invoke, monkeypatch):
    monkeypatch.delenv("DB_HOST", raising=False)
    runtime.install(None)
    status, _, body = invoke(app.handler, make_event("GET", "/orders"))
    assert status == 500
    assert "DB_HOST" not in str(body)
