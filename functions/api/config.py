"""Settings of the api and reconcile functions, read from the environment the infrastructure sets.

Every error names the variable, so a misconfigured deployment says what to fix in its logs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_EVENT_SOURCE = "platform.orders"
# The RDS CA bundle is fetched at packaging time (see rds-ca-bundle/README.md); the infrastructure sets
# DB_SSL_ROOT_CERT to /var/task/<RDS_CA_BUNDLE_PACKAGE_PATH>.
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
RDS_CA_BUNDLE_PACKAGE_PATH = "functions/api/rds-ca-bundle/global-bundle.pem"
# Reconcile leaves very recent rows alone: the api invocation that wrote them is normally still
# publishing them, and republishing would only create a duplicate event.
DEFAULT_RECONCILE_MIN_AGE_SECONDS = 30
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})


class ConfigError(ValueError):
    """A required setting is missing or malformed; the message names the variable."""


def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} must be set")
    return value


def _int_in_range(env: Mapping[str, str], name: str, default: int | None, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        if default is None:
            raise ConfigError(f"{name} must be set")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True)
class DbSettings:
    """Where and as whom the functions connect to PostgreSQL."""

    host: str
    """DB_HOST: the RDS endpoint host name; the server certificate must match it."""
    port: int
    """DB_PORT: the listener port."""
    name: str
    """DB_NAME: the database."""
    user: str
    """DB_USER: a role granted rds_iam, so its password is an IAM authentication token."""
    ssl_root_cert: str
    """DB_SSL_ROOT_CERT: path of the CA bundle that signed the server certificate."""
    region: str
    """AWS_REGION: the region the IAM authentication token is signed for."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DbSettings:
        env = os.environ if env is None else env
        return cls(
            host=_require(env, "DB_HOST"),
            port=_int_in_range(env, "DB_PORT", 5432, 1, 65535),
            name=_require(env, "DB_NAME"),
            user=_require(env, "DB_USER"),
            ssl_root_cert=_require(env, "DB_SSL_ROOT_CERT"),
            region=_require(env, "AWS_REGION"),
        )


@dataclass(frozen=True)
class EventSettings:
    """Where OrderCreated events go."""

    bus_name: str
    """EVENT_BUS_NAME: the custom EventBridge bus."""
    source: str
    """EVENT_SOURCE: the Source of published events (default platform.orders)."""
    region: str
    """AWS_REGION: the region of the bus."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EventSettings:
        env = os.environ if env is None else env
        return cls(
            bus_name=_require(env, "EVENT_BUS_NAME"),
            source=env.get("EVENT_SOURCE", "").strip() or DEFAULT_EVENT_SOURCE,
            region=_require(env, "AWS_REGION"),
        )


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, got {env.get(name)!r}")


def migrate_on_start(env: Mapping[str, str] | None = None) -> bool:
    """DB_MIGRATE_ON_START (optional, default false): run the schema DDL at cold start.

    Off in deployed stacks: there the deploy-time bootstrap owns the schema and the function's role may not run
    DDL at all. On is for a local database where the app role owns the schema.
    """
    env = os.environ if env is None else env
    return _flag(env, "DB_MIGRATE_ON_START")


@dataclass(frozen=True)
class BootstrapSettings:
    """Where the deploy-time bootstrap connects (as the RDS master user) and which app role it provisions."""

    host: str
    """DB_HOST: the RDS endpoint host name; the server certificate must match it."""
    port: int
    """DB_PORT: the listener port."""
    name: str
    """DB_NAME: the database holding the orders table."""
    app_user: str
    """DB_APP_USER: the role the api/reconcile functions log in as (IAM authentication)."""
    ssl_root_cert: str
    """DB_SSL_ROOT_CERT: path of the CA bundle that signed the server certificate."""
    master_secret_arn: str
    """DB_MASTER_SECRET_ARN: the RDS-managed secret holding the master user name and password."""
    region: str
    """AWS_REGION: the region of the secret."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BootstrapSettings:
        env = os.environ if env is None else env
        return cls(
            host=_require(env, "DB_HOST"),
            port=_int_in_range(env, "DB_PORT", 5432, 1, 65535),
            name=_require(env, "DB_NAME"),
            app_user=_require(env, "DB_APP_USER"),
            ssl_root_cert=_require(env, "DB_SSL_ROOT_CERT"),
            master_secret_arn=_require(env, "DB_MASTER_SECRET_ARN"),
            region=_require(env, "AWS_REGION"),
        )


def reconcile_min_age_seconds(env: Mapping[str, str] | None = None) -> int:
    """RECONCILE_MIN_AGE_SECONDS (optional): minimum age of an unpublished order reconcile takes."""
    env = os.environ if env is None else env
    return _int_in_range(env, "RECONCILE_MIN_AGE_SECONDS", DEFAULT_RECONCILE_MIN_AGE_SECONDS, 0, 86400)
