"""The deploy-time bootstrap against a real PostgreSQL server, with the master secret in moto's Secrets Manager.

The "master" here is what RDS gives: a non-superuser role with CREATEROLE that owns the database (RDS's
rds_superuser membership adds nothing the bootstrap uses). Each test gets its own database and app role name.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pg8000.native
import pytest
import trustme
from moto import mock_aws
from pg8000.exceptions import DatabaseError

from functions.api import bootstrap, schema
from functions.api.bootstrap import BootstrapError
from functions.api.config import BootstrapSettings, ConfigError
from tests.functions.api.conftest import REGION, fake_aws_env

INSUFFICIENT_PRIVILEGE = "42501"


@dataclass
class Master:
    user: str
    password: str


@dataclass
class Env:
    server: Any
    master: Master
    database: str
    app_user: str
    secret_arn: str
    secrets: Any

    def settings(self, **changes: Any) -> BootstrapSettings:
        base = BootstrapSettings(
            host=self.server.host,
            port=self.server.port,
            name=self.database,
            app_user=self.app_user,
            ssl_root_cert=self.server.ca_file,
            master_secret_arn=self.secret_arn,
            region=REGION,
        )
        return replace(base, **changes)

    def environ(self, monkeypatch: pytest.MonkeyPatch, **changes: str) -> None:
        s = self.settings()
        env = {
            "DB_HOST": s.host,
            "DB_PORT": str(s.port),
            "DB_NAME": s.name,
            "DB_APP_USER": s.app_user,
            "DB_SSL_ROOT_CERT": s.ssl_root_cert,
            "DB_MASTER_SECRET_ARN": s.master_secret_arn,
            **changes,
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    def admin_sql(self, statement: str, **params: Any) -> list[list[Any]]:
        conn = self.server.admin(self.database)
        try:
            return list(conn.run(statement, **params) or [])
        finally:
            conn.close()

    def login_as_app(self) -> pg8000.native.Connection:
        """Give the (password-less) app role a password, test-side only, and log in as it over TLS."""
        password = secrets.token_hex(16)
        root = self.server.admin()
        try:
            root.run(f"ALTER ROLE \"{self.app_user}\" PASSWORD '{password}'")
        finally:
            root.close()
        return pg8000.native.Connection(
            user=self.app_user, password=password, host=self.server.host, port=self.server.port,
            database=self.database, ssl_context=self.server.ssl_context(), timeout=10,
        )


@pytest.fixture(scope="module")
def master(postgres_server: Any) -> Iterator[Master]:
    m = Master(f"master_{secrets.token_hex(4)}", secrets.token_hex(16))
    root = postgres_server.admin()
    root.run(f"CREATE ROLE {m.user} LOGIN CREATEROLE PASSWORD '{m.password}'")
    try:
        yield m
    finally:
        root.run(f"DROP ROLE {m.user}")
        root.close()


@pytest.fixture(scope="module")
def secretsmanager() -> Iterator[Any]:
    with fake_aws_env(), mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def env(postgres_server: Any, master: Master, secretsmanager: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    database = f"b_{secrets.token_hex(6)}"
    app_user = f"app_{secrets.token_hex(4)}"
    root = postgres_server.admin()
    # As on RDS: the database (and so, on PostgreSQL 15, its public schema) belongs to the master user.
    root.run(f'CREATE DATABASE "{database}" OWNER {master.user}')
    arn = secretsmanager.create_secret(
        Name=f"rds!db-{uuid.uuid4()}", SecretString=json.dumps({"username": master.user, "password": master.password})
    )["ARN"]
    try:
        yield Env(postgres_server, master, database, app_user, arn, secretsmanager)
    finally:
        root.run(f'DROP DATABASE "{database}" WITH (FORCE)')
        root.run(f'DROP ROLE IF EXISTS "{app_user}"')
        root.close()


@pytest.fixture
def rds_iam(postgres_server: Any) -> Iterator[None]:
    """The role RDS has and a plain server lacks; the master can grant it (RDS: via rds_superuser)."""
    root = postgres_server.admin()
    root.run("CREATE ROLE rds_iam NOLOGIN")
    try:
        yield
    finally:
        root.run("DROP ROLE rds_iam")
        root.close()


def is_member(e: Env, role: str) -> bool:
    rows = e.admin_sql(
        "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member "
        "WHERE r.rolname = :role AND u.rolname = :user",
        role=role, user=e.app_user,
    )
    return bool(rows)


def table_privileges(e: Env) -> set[str]:
    rows = e.admin_sql(
        "SELECT privilege_type FROM information_schema.role_table_grants "
        "WHERE table_name = 'orders' AND grantee = :user",
        user=e.app_user,
    )
    return {row[0] for row in rows}


def column_update_privileges(e: Env) -> set[str]:
    rows = e.admin_sql(
        "SELECT column_name FROM information_schema.column_privileges "
        "WHERE table_name = 'orders' AND grantee = :user AND privilege_type = 'UPDATE'",
        user=e.app_user,
    )
    return {row[0] for row in rows}


def sqlstate(excinfo: pytest.ExceptionInfo[DatabaseError]) -> str:
    return str(excinfo.value.args[0]["C"])


# ---- the whole path: environment -> secret -> TLS connection -> provisioning -------------------------------------
def test_fresh_database_gets_role_schema_and_grants(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.environ(monkeypatch)
    summary = bootstrap.handler({"operation": "bootstrap"}, None)
    assert summary["app_user"] == env.app_user
    assert summary["role_created"] is True
    assert summary["rds_iam_granted"] is False  # a plain PostgreSQL server has no rds_iam role
    assert summary["schema_version"] == schema.SCHEMA_VERSION
    json.dumps(summary)  # the Invocation's result must be JSON

    role = env.admin_sql("SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolpassword IS NULL "
                         "FROM pg_authid WHERE rolname = :n", n=env.app_user)
    assert role == [[True, False, False, False, True]]  # may log in, nothing else, no password
    # The table belongs to the master (the migration role), not to the app role.
    assert env.admin_sql("SELECT tableowner FROM pg_tables WHERE tablename = 'orders'") == [[env.master.user]]
    assert table_privileges(env) == {"SELECT", "INSERT"}
    assert column_update_privileges(env) == {"published", "published_at"}
    indexes = {r[0] for r in env.admin_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'orders'")}
    assert {"orders_customer_created_idx", "orders_unpublished_idx"} <= indexes


def test_running_twice_is_idempotent_and_converges_to_the_same_grants(env: Env, monkeypatch: pytest.MonkeyPatch
                                                                      ) -> None:
    env.environ(monkeypatch)
    first = bootstrap.handler({}, None)
    # Privileges added by hand (or by an older version) are taken away again by the next run.
    env.admin_sql(f'GRANT DELETE, TRUNCATE ON orders TO "{env.app_user}"')
    second = bootstrap.handler({}, None)
    assert first["role_created"] is True and second["role_created"] is False
    assert {k: v for k, v in first.items() if k != "role_created"} == {
        k: v for k, v in second.items() if k != "role_created"
    }
    assert table_privileges(env) == {"SELECT", "INSERT"}
    assert column_update_privileges(env) == {"published", "published_at"}
    assert env.admin_sql("SELECT count(*) FROM pg_tables WHERE tablename = 'orders'") == [[1]]


def test_existing_rows_survive_a_rerun(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.environ(monkeypatch)
    bootstrap.handler({}, None)
    env.admin_sql("INSERT INTO orders (id, customer_id, idempotency_key, request_hash, sku, quantity) "
                  "VALUES (gen_random_uuid(), 'c', 'k', 'h', 's', 1)")
    bootstrap.handler({}, None)
    assert env.admin_sql("SELECT count(*) FROM orders") == [[1]]


def test_rds_iam_is_granted_when_the_server_has_it(env: Env, rds_iam: None, monkeypatch: pytest.MonkeyPatch) -> None:
    env.environ(monkeypatch)
    assert bootstrap.handler({}, None)["rds_iam_granted"] is True
    assert is_member(env, "rds_iam")
    assert bootstrap.handler({}, None)["rds_iam_granted"] is True  # granting again is harmless


def test_missing_rds_iam_is_reported_and_not_granted(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    env.environ(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="functions.api.bootstrap"):
        assert bootstrap.handler({}, None)["rds_iam_granted"] is False
    assert not is_member(env, "rds_iam")
    assert any("rds_iam" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_an_existing_app_role_is_kept(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.admin_sql(f'CREATE ROLE "{env.app_user}" LOGIN')
    env.environ(monkeypatch)
    assert bootstrap.handler({}, None)["role_created"] is False
    assert table_privileges(env) == {"SELECT", "INSERT"}


# ---- what the app role can and cannot do, with real statements ---------------------------------------------------
INSERT = ("INSERT INTO orders (id, customer_id, idempotency_key, request_hash, sku, quantity) "
          "VALUES (:id, 'cust', :key, 'h', 'SKU-1', 2)")


def test_app_role_can_do_what_the_code_does(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.environ(monkeypatch)
    bootstrap.handler({}, None)
    conn = env.login_as_app()
    try:
        order_id = uuid.uuid4()
        conn.run(INSERT + " ON CONFLICT ON CONSTRAINT orders_customer_idempotency_key DO NOTHING RETURNING id",
                 id=order_id, key="k1")
        assert conn.run("SELECT sku, quantity FROM orders WHERE id = :id", id=order_id) == [["SKU-1", 2]]
        conn.run("START TRANSACTION")
        locked = conn.run("SELECT id FROM orders WHERE NOT published FOR UPDATE SKIP LOCKED")
        conn.run("UPDATE orders SET published = true, published_at = clock_timestamp() WHERE id = :id", id=order_id)
        conn.run("COMMIT")
        assert locked == [[order_id]]
        assert conn.run("SELECT published FROM orders WHERE id = :id", id=order_id) == [[True]]
    finally:
        conn.close()


@pytest.fixture(scope="module")
def app_session(postgres_server: Any, master: Master, secretsmanager: Any) -> Iterator[tuple[Env, Any]]:
    """One bootstrapped database with one order, and a session of its app role (shared by the refusal cases:
    each statement below fails, so none changes what the next one sees)."""
    database, app_user = f"r_{secrets.token_hex(6)}", f"app_{secrets.token_hex(4)}"
    root = postgres_server.admin()
    root.run(f'CREATE DATABASE "{database}" OWNER {master.user}')
    arn = secretsmanager.create_secret(
        Name=f"rds!db-{uuid.uuid4()}", SecretString=json.dumps({"username": master.user, "password": master.password})
    )["ARN"]
    e = Env(postgres_server, master, database, app_user, arn, secretsmanager)
    conn = None
    try:
        bootstrap.run(e.settings(), secretsmanager)
        e.admin_sql(INSERT, id=uuid.uuid4(), key="k")
        conn = e.login_as_app()
        yield e, conn
    finally:
        if conn is not None:
            conn.close()
        root.run(f'DROP DATABASE "{database}" WITH (FORCE)')
        root.run(f'DROP ROLE IF EXISTS "{app_user}"')
        root.close()


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE sneaky (x int)",
        "CREATE SCHEMA sneaky",
        "DROP TABLE orders",
        "ALTER TABLE orders ADD COLUMN sneaky text",
        "CREATE INDEX sneaky_idx ON orders (sku)",
        "DELETE FROM orders",
        "TRUNCATE orders",
        "UPDATE orders SET sku = 'other'",  # only the outbox columns are writable
    ],
)
def test_app_role_cannot_change_the_schema_or_delete(app_session: tuple[Env, Any], statement: str) -> None:
    e, conn = app_session
    with pytest.raises(DatabaseError) as caught:
        conn.run(statement)
    assert sqlstate(caught) == INSUFFICIENT_PRIVILEGE, caught.value
    assert e.admin_sql("SELECT count(*), min(sku) FROM orders") == [[1, "SKU-1"]]
    assert e.admin_sql("SELECT to_regclass('public.sneaky')") == [[None]]
    assert e.admin_sql("SELECT count(*) FROM information_schema.columns WHERE column_name = 'sneaky'") == [[0]]


# ---- refusals ----------------------------------------------------------------------------------------------------
# Settings whose database and secret are never reached (the run must stop before).
UNREACHABLE = BootstrapSettings(
    host="127.0.0.1", port=9, name="none", app_user="app_user", ssl_root_cert="/nonexistent",
    master_secret_arn="arn:aws:secretsmanager:eu-west-1:123456789012:secret:none", region=REGION,
)


def never_connect(*args: Any) -> Any:
    raise AssertionError("no connection may be attempted")


class RecordingSecrets:
    def __init__(self) -> None:
        self.calls = 0

    def get_secret_value(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        raise AssertionError("the secret must not be read for a refused configuration")


@pytest.mark.parametrize(
    "name",
    [
        'app"; DROP TABLE orders; --',
        "app'); DROP ROLE postgres; --",
        "App_User",  # upper case would need quoting everywhere else too
        "1app",
        "a" * 64,
        "",
        "app user",
        "pg_monitor",
        "rds_superuser",
        "rds_iam",
        "postgres",
    ],
)
def test_malicious_or_reserved_app_user_is_rejected_before_anything_runs(name: str) -> None:
    client = RecordingSecrets()
    connected: list[Any] = []
    with pytest.raises(ValueError, match="DB_APP_USER"):
        bootstrap.run(replace(UNREACHABLE, app_user=name), client, lambda *a: connected.append(a))
    assert client.calls == 0 and connected == []


def test_provision_itself_refuses_a_bad_name_before_any_statement() -> None:
    statements: list[str] = []

    class Conn:
        def run(self, sql: str, **params: Any) -> list[Any]:
            statements.append(sql)
            return []

    with pytest.raises(ValueError, match="DB_APP_USER"):
        bootstrap.provision(Conn(), 'x"; DROP TABLE orders; --')
    assert statements == []


def test_app_user_equal_to_the_master_is_rejected(env: Env) -> None:
    with pytest.raises(ConfigError, match="DB_APP_USER"):
        bootstrap.run(env.settings(app_user=env.master.user), env.secrets)
    assert env.admin_sql("SELECT to_regclass('public.orders')") == [[None]]


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("not json at all", "not a JSON object"),
        (json.dumps(["x"]), "not a JSON object"),
        (json.dumps({"username": "u"}), "no password"),
        (json.dumps({"password": "p4ss-w0rd-secret"}), "no username"),
    ],
)
def test_malformed_master_secret_fails_naming_the_variable_without_its_content(
    secretsmanager: Any, secret: str, expected: str
) -> None:
    arn = secretsmanager.create_secret(Name=f"bad-{uuid.uuid4()}", SecretString=secret)["ARN"]
    with pytest.raises(BootstrapError, match="DB_MASTER_SECRET_ARN") as caught:
        bootstrap.run(replace(UNREACHABLE, master_secret_arn=arn), secretsmanager, never_connect)
    assert expected in str(caught.value)
    assert "p4ss-w0rd-secret" not in str(caught.value) and "not json at all" not in str(caught.value)


def test_unknown_secret_fails_naming_the_variable(secretsmanager: Any) -> None:
    with pytest.raises(BootstrapError, match=r"DB_MASTER_SECRET_ARN.*ResourceNotFoundException"):
        bootstrap.run(UNREACHABLE, secretsmanager, never_connect)


def test_wrong_master_password_fails_without_revealing_it(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    wrong = "Wr0ng-" + secrets.token_hex(8)
    arn = env.secrets.create_secret(Name=f"wrong-{uuid.uuid4()}",
                                    SecretString=json.dumps({"username": env.master.user, "password": wrong}))["ARN"]
    with caplog.at_level(logging.INFO), pytest.raises(BootstrapError, match="connecting to") as caught:
        bootstrap.run(env.settings(master_secret_arn=arn), env.secrets)
    assert "28P01" in str(caught.value)  # the server's verdict: invalid password
    assert wrong not in str(caught.value) and wrong not in caplog.text


def test_no_password_in_logs_or_result(env: Env, monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    env.environ(monkeypatch)
    # INFO is the function's log level (botocore's DEBUG wire dumps are off in Lambda, as here).
    with caplog.at_level(logging.INFO):
        summary = bootstrap.handler({}, None)
    assert env.master.password not in caplog.text
    assert env.master.password not in json.dumps(summary)
    assert "bootstrap done" in caplog.text
    credentials = bootstrap.read_master_secret(env.secret_arn, env.secrets)
    assert env.master.password not in repr(credentials)


def test_server_certificate_from_another_ca_is_refused(env: Env, tmp_path: Any) -> None:
    other = tmp_path / "other.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with pytest.raises(BootstrapError, match="SSLCertVerificationError"):
        bootstrap.run(env.settings(ssl_root_cert=str(other)), env.secrets)
    assert env.admin_sql("SELECT to_regclass('public.orders')") == [[None]]


def test_missing_ca_bundle_fails_naming_the_setting(env: Env, tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="DB_SSL_ROOT_CERT"):
        bootstrap.run(env.settings(ssl_root_cert=str(tmp_path / "absent.pem")), env.secrets)


@pytest.mark.parametrize(
    "variable", ["DB_HOST", "DB_NAME", "DB_APP_USER", "DB_SSL_ROOT_CERT", "DB_MASTER_SECRET_ARN", "AWS_REGION"]
)
def test_settings_name_a_missing_variable(variable: str) -> None:
    environ = {
        "DB_HOST": "db.internal", "DB_PORT": "5432", "DB_NAME": "orders", "DB_APP_USER": "app_user",
        "DB_SSL_ROOT_CERT": "/var/task/ca.pem", "DB_MASTER_SECRET_ARN": "arn:aws:secretsmanager:x", "AWS_REGION": "r",
    }
    assert BootstrapSettings.from_env(environ).app_user == "app_user"
    with pytest.raises(ConfigError, match=variable):
        BootstrapSettings.from_env({**environ, variable: " "})


def test_provisioning_failure_rolls_back_everything(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    # A table of the same name owned by someone else: the master may not grant on it, so the run fails...
    env.admin_sql("CREATE TABLE orders (id int)")
    env.environ(monkeypatch)
    with pytest.raises(BootstrapError, match="provisioning"):
        bootstrap.handler({}, None)
    # ...and the role it had created in the same transaction is gone again.
    assert env.admin_sql("SELECT count(*) FROM pg_roles WHERE rolname = :n", n=env.app_user) == [[0]]
