"""PostgreSQL access for the api and reconcile functions.

- TLS is mandatory and verified: the CA bundle named by DB_SSL_ROOT_CERT is the only trust anchor and
  the server certificate must match DB_HOST. Without a readable bundle the function refuses to connect
  (pg8000's own default would encrypt without verifying, which a man in the middle defeats).
- The password is an IAM database authentication token by default (no static secret to leak or rotate);
  the token source is injectable so tests can authenticate with a real password against a local server.
- One connection per execution environment, reused across invocations (Lambda runs one invocation at a
  time per environment) and re-established when it turns out to be broken.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
import pg8000.native
from pg8000.exceptions import DatabaseError, InterfaceError

from functions.api import schema
from functions.api.config import ConfigError, DbSettings

LOG = logging.getLogger(__name__)

T = TypeVar("T")
TokenProvider = Callable[[], str]

CONNECT_TIMEOUT_SECONDS = 5.0
# A statement that runs longer than this is cut off by the server, so one slow query cannot hold the
# invocation (and its connection) until the Lambda timeout.
STATEMENT_TIMEOUT_MS = 5000

# SQLSTATE classes meaning "this session is gone": 08 connection exception, 57P operator intervention
# (admin shutdown, terminated backend, crash shutdown).
_BROKEN_SESSION_PREFIXES = ("08", "57P")


class IamAuthTokenProvider:
    """Signs a fresh RDS IAM authentication token (valid 15 minutes) for every new connection.

    generate_db_auth_token is local SigV4 presigning with the function's role credentials: no network
    call, so it is cheap; the role needs rds-db:connect on the database user.
    """

    def __init__(self, host: str, port: int, user: str, region: str, rds_client: Any = None) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.region = region
        self._client = rds_client

    def __call__(self) -> str:
        if self._client is None:
            self._client = boto3.client("rds", region_name=self.region)
        token: str = self._client.generate_db_auth_token(
            DBHostname=self.host, Port=self.port, DBUsername=self.user, Region=self.region
        )
        return token


def build_ssl_context(cafile: str) -> ssl.SSLContext:
    """A client context trusting only `cafile`, checking the host name, TLS 1.2 at least.

    Fails closed with a ConfigError naming DB_SSL_ROOT_CERT when the bundle is missing, unreadable
    or holds no certificate.
    """
    if not cafile:
        raise ConfigError("DB_SSL_ROOT_CERT must name the CA bundle file; refusing to connect without it")
    if not os.path.isfile(cafile) or not os.access(cafile, os.R_OK):
        raise ConfigError(f"DB_SSL_ROOT_CERT file {cafile!r} is missing or unreadable; refusing to connect without it")
    try:
        # With cafile given, create_default_context loads only that bundle (not the system store),
        # so a certificate from any other CA is rejected.
        context = ssl.create_default_context(cafile=cafile)
    except ssl.SSLError as exc:
        raise ConfigError(
            f"DB_SSL_ROOT_CERT file {cafile!r} holds no usable CA certificate; refusing to connect"
        ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def is_broken_connection(exc: BaseException) -> bool:
    """True when `exc` means the session is unusable and a new connection may succeed."""
    if isinstance(exc, InterfaceError | OSError):
        return True
    if isinstance(exc, DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        code = str(exc.args[0].get("C", ""))
        return code.startswith(_BROKEN_SESSION_PREFIXES)
    return False


class Database:
    """The reused connection, transactions on it and (only if asked) the schema migration at cold start.

    `migrate_on_start` is off in deployed stacks (the bootstrap owns the schema; the app role cannot run DDL);
    the environment sets it with DB_MIGRATE_ON_START.
    """

    def __init__(
        self, settings: DbSettings, token_provider: TokenProvider | None = None, migrate_on_start: bool = False
    ) -> None:
        self.settings = settings
        self.migrate_on_start = migrate_on_start
        self._token_provider = token_provider or IamAuthTokenProvider(
            settings.host, settings.port, settings.user, settings.region
        )
        self._conn: pg8000.native.Connection | None = None
        self._schema_ready = not migrate_on_start

    def _connect(self) -> pg8000.native.Connection:
        context = build_ssl_context(self.settings.ssl_root_cert)
        conn = pg8000.native.Connection(
            user=self.settings.user,
            host=self.settings.host,
            port=self.settings.port,
            database=self.settings.name,
            password=self._token_provider(),
            ssl_context=context,
            timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="orders-api",
            startup_params={"statement_timeout": str(STATEMENT_TIMEOUT_MS)},
        )
        if not self._schema_ready:
            try:
                schema.migrate(conn)
            except BaseException:
                conn.close()
                raise
            self._schema_ready = True
        return conn

    def connection(self) -> pg8000.native.Connection:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # the socket may already be dead; nothing to do about it
                LOG.debug("closing a broken database connection failed", exc_info=True)

    def transaction(self, work: Callable[[pg8000.native.Connection], T]) -> T:
        """Run `work` in one transaction; on a broken connection reconnect and run it once more.

        Re-running is safe for this service: order creation is idempotent by (customer, key) and
        publishing is at-least-once by design.
        """
        for attempt in (1, 2):
            conn = self.connection()
            try:
                conn.run("START TRANSACTION")
                result = work(conn)
                conn.run("COMMIT")
                return result
            except Exception as exc:
                if is_broken_connection(exc):
                    self.close()
                    if attempt == 1:
                        LOG.warning("database connection was broken; reconnecting once")
                        continue
                    raise
                self._rollback(conn)
                raise
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _rollback(self, conn: pg8000.native.Connection) -> None:
        try:
            conn.run("ROLLBACK")
        except Exception:  # if even ROLLBACK fails the session is unusable: drop it
            self.close()
