"""Deploy-time database bootstrap: the app role, the schema and the app role's privileges.

Invoked once per relevant change by the stack (an ``aws.lambda_.Invocation``), never by clients. It reads the
RDS-managed master secret from Secrets Manager, connects as the master user over verified TLS (same CA bundle
as the api function) and, in one transaction under the migration lock:

1. creates the app role (``CREATE ROLE <app> LOGIN``, no password) if it does not exist;
2. grants it ``rds_iam`` when that role exists (on RDS it does; a plain PostgreSQL server has no such role and
   the step is reported as skipped), so the app role logs in with IAM tokens only;
3. applies the schema (functions/api/schema.py), owned by the master user;
4. grants the app role exactly the DML the code needs (schema.grant_app_privileges).

Everything is idempotent. On any failure it raises: the Invocation then fails the deployment with the message.
The password is never logged, returned or put in an error message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import pg8000.native

from functions.api import schema
from functions.api.config import BootstrapSettings, ConfigError
from functions.api.db import CONNECT_TIMEOUT_SECONDS, build_ssl_context

LOG = logging.getLogger(__name__)
LOG.setLevel(logging.INFO)

RDS_IAM_ROLE = "rds_iam"
# DDL can wait on locks held by running functions; bounded so a stuck deploy fails instead of hanging until
# the Lambda timeout.
STATEMENT_TIMEOUT_MS = 20_000
LOCK_TIMEOUT_MS = 10_000


class BootstrapError(RuntimeError):
    """The bootstrap could not complete; the message says which step and why (never a password)."""


@dataclass(frozen=True)
class MasterCredentials:
    username: str
    password: str

    def __repr__(self) -> str:  # a stray log line or traceback must not carry the password
        return f"MasterCredentials(username={self.username!r}, password=<redacted>)"


def read_master_secret(secret_arn: str, client: Any) -> MasterCredentials:
    """The RDS-managed secret is JSON {"username": ..., "password": ...}; errors never echo its content."""
    try:
        value = client.get_secret_value(SecretId=secret_arn)
    except Exception as exc:
        raise BootstrapError(
            f"reading DB_MASTER_SECRET_ARN {secret_arn}: {type(exc).__name__}: {exc}"
        ) from None
    raw = value.get("SecretString")
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise BootstrapError(f"DB_MASTER_SECRET_ARN {secret_arn}: the secret value is not a JSON object")
    missing = [k for k in ("username", "password") if not isinstance(parsed.get(k), str) or not parsed[k]]
    if missing:
        raise BootstrapError(f"DB_MASTER_SECRET_ARN {secret_arn}: the secret has no {' or '.join(missing)}")
    return MasterCredentials(parsed["username"], parsed["password"])


def connect(settings: BootstrapSettings, credentials: MasterCredentials) -> pg8000.native.Connection:
    context = build_ssl_context(settings.ssl_root_cert)  # ConfigError naming DB_SSL_ROOT_CERT if unusable
    try:
        return pg8000.native.Connection(
            user=credentials.username,
            password=credentials.password,
            host=settings.host,
            port=settings.port,
            database=settings.name,
            ssl_context=context,
            timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="orders-bootstrap",
            startup_params={"statement_timeout": str(STATEMENT_TIMEOUT_MS), "lock_timeout": str(LOCK_TIMEOUT_MS)},
        )
    except Exception as exc:
        # pg8000's messages carry the server's error (code, text), never the password we sent.
        raise BootstrapError(
            f"connecting to {settings.host}:{settings.port}/{settings.name} as {credentials.username}: "
            f"{type(exc).__name__}: {exc}"
        ) from None


def _role_exists(conn: Any, name: str) -> bool:
    return bool(conn.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=name))


def provision(conn: Any, app_user: str, master_user: str | None = None) -> dict[str, Any]:
    """Create the app role, apply the schema and grant the app role its privileges; returns what was done.

    `conn` is a session of the table owner (the master user). Safe to run any number of times.
    """
    quoted = schema.quote_role(app_user)
    if master_user is not None and app_user == master_user:
        raise ConfigError("DB_APP_USER must differ from the master user: the app role must not own the schema")

    def work(c: Any) -> dict[str, Any]:
        created = not _role_exists(c, app_user)
        if created:
            # No password: on RDS the role authenticates with IAM tokens (rds_iam below), nothing to leak.
            c.run(f"CREATE ROLE {quoted} LOGIN")
        rds_iam = _role_exists(c, RDS_IAM_ROLE)
        if rds_iam:
            c.run(f"GRANT {RDS_IAM_ROLE} TO {quoted}")
        schema.apply(c)
        schema.grant_app_privileges(c, app_user)
        return {
            "app_user": app_user,
            "role_created": created,
            "rds_iam_granted": rds_iam,
            "schema_version": schema.SCHEMA_VERSION,
            "table": schema.TABLE,
            "privileges": [*schema.APP_TABLE_PRIVILEGES, f"UPDATE ({', '.join(schema.APP_UPDATABLE_COLUMNS)})"],
        }

    summary = schema.in_transaction(conn, work)
    if not summary["rds_iam_granted"]:
        # Expected on a plain PostgreSQL server; on RDS it would mean IAM authentication cannot work.
        LOG.warning("role %s does not exist: %s was not granted it (not an RDS server?)", RDS_IAM_ROLE, app_user)
    return summary


def run(
    settings: BootstrapSettings,
    secrets_client: Any = None,
    connector: Callable[[BootstrapSettings, MasterCredentials], Any] = connect,
) -> dict[str, Any]:
    """Read the master secret, connect, provision; the returned summary is the Invocation's result."""
    schema.quote_role(settings.app_user)  # refuse a bad name before touching any secret
    client = secrets_client or boto3.client("secretsmanager", region_name=settings.region)
    credentials = read_master_secret(settings.master_secret_arn, client)
    conn = connector(settings, credentials)
    try:
        try:
            summary = provision(conn, settings.app_user, credentials.username)
        except ValueError:  # a setting at fault (ConfigError included): its message already names it
            raise
        except Exception as exc:
            raise BootstrapError(f"provisioning {settings.name}: {type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
    LOG.info("bootstrap done: %s", json.dumps(summary, sort_keys=True))
    return summary


def handler(event: Mapping[str, Any] | None, context: Any) -> dict[str, Any]:
    """Lambda entry point. The event's content is not used: everything comes from the environment."""
    return run(BootstrapSettings.from_env())
