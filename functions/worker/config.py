"""Settings of the worker, read from the environment; every error names the variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A setting is missing or unsafe; the message names the variable."""


class UrlRefused(ValueError):
    """A URL is not https or its host is not allowlisted; nothing was sent to it."""


def check_url(url: str, allowed_hosts: frozenset[str]) -> None:
    """Refuse anything but https:// to an allowlisted host, before any connection is made."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise UrlRefused(f"malformed URL: {exc}") from None
    if parts.scheme != "https":
        raise UrlRefused(f"only https URLs are allowed, got scheme {parts.scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("URLs must not carry credentials")
    host = (parts.hostname or "").lower()
    if host not in allowed_hosts:
        raise UrlRefused(f"host {host!r} is not in ALLOWED_HOSTS")
    del port


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {raw}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _require(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} must be set")
    return value


@dataclass(frozen=True)
class WorkerSettings:
    external_api_url: str
    """EXTERNAL_API_URL: where order notifications are POSTed (https, allowlisted host)."""
    token_url: str
    """OAUTH_TOKEN_URL: the OAuth2 token endpoint (https, allowlisted host)."""
    client_secret_arn: str
    """OAUTH_CLIENT_SECRET_ARN: Secrets Manager secret holding {"client_id", "client_secret"}."""
    scope: str | None
    """OAUTH_SCOPE (optional): scope requested with the client-credentials grant."""
    allowed_hosts: frozenset[str]
    """ALLOWED_HOSTS: the only host names the worker may connect to."""
    region: str
    """AWS_REGION: region of the secret."""
    connect_timeout: float = 3.0
    """HTTP_CONNECT_TIMEOUT (s)."""
    read_timeout: float = 10.0
    """HTTP_READ_TIMEOUT (s): per socket read."""
    max_response_bytes: int = 1_048_576
    """MAX_RESPONSE_BYTES: responses larger than this are abandoned."""
    max_attempts: int = 3
    """HTTP_MAX_ATTEMPTS (optional): attempts per record on 5xx, 429 and timeouts."""
    max_total_seconds: float = 20.0
    """HTTP_MAX_TOTAL_SECONDS (optional): time budget per record, retries included."""
    ca_bundle: str | None = None
    """REQUESTS_CA_BUNDLE (optional): CA bundle to verify servers with instead of the default store."""

    def __post_init__(self) -> None:
        for name, url in (("EXTERNAL_API_URL", self.external_api_url), ("OAUTH_TOKEN_URL", self.token_url)):
            try:
                check_url(url, self.allowed_hosts)
            except UrlRefused as exc:
                raise ConfigError(f"{name} is refused: {exc}") from None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        env = os.environ if env is None else env
        hosts = frozenset(h.strip().lower() for h in _require(env, "ALLOWED_HOSTS").split(",") if h.strip())
        if not hosts:
            raise ConfigError("ALLOWED_HOSTS must list at least one host name")
        return cls(
            external_api_url=_require(env, "EXTERNAL_API_URL"),
            token_url=_require(env, "OAUTH_TOKEN_URL"),
            client_secret_arn=_require(env, "OAUTH_CLIENT_SECRET_ARN"),
            scope=env.get("OAUTH_SCOPE", "").strip() or None,
            allowed_hosts=hosts,
            region=_require(env, "AWS_REGION"),
            connect_timeout=_float(env, "HTTP_CONNECT_TIMEOUT", 3.0, 0.01, 60),
            read_timeout=_float(env, "HTTP_READ_TIMEOUT", 10.0, 0.01, 300),
            max_response_bytes=_int(env, "MAX_RESPONSE_BYTES", 1_048_576, 1, 64 * 1_048_576),
            max_attempts=_int(env, "HTTP_MAX_ATTEMPTS", 3, 1, 10),
            max_total_seconds=_float(env, "HTTP_MAX_TOTAL_SECONDS", 20.0, 0.1, 900),
            ca_bundle=env.get("REQUESTS_CA_BUNDLE", "").strip() or None,
        )
