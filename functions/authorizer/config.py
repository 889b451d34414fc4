"""Authorizer settings from the environment (names are the infrastructure contract).

Loaded once at cold start: a missing or malformed variable raises ConfigError naming it, so a
misconfigured function fails at initialisation instead of denying (or allowing) traffic later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from functions.authorizer.routes import Route, parse_route_scopes

# Asymmetric algorithms only: "none" is unsigned and HS* would let anyone holding the issuer's
# public key (which is published) forge tokens. Each needs a matching JWK type, checked in jwks.py.
SUPPORTED_ALGORITHMS = ("RS256", "ES256")
DEFAULT_ALGORITHMS = "RS256,ES256"
DEFAULT_JWKS_CACHE_SECONDS = 3600
DEFAULT_JWKS_MIN_REFRESH_SECONDS = 60
# The longest one JWKS fetch may take (DNS, connect, TLS, headers and body together); each fetch also
# gets at most a share of the invocation's remaining time (jwks.fetch_budget), so a 5 s function never
# spends more than 2.5 s waiting for the IdP.
DEFAULT_JWKS_FETCH_TIMEOUT_SECONDS = 3.0


class ConfigError(ValueError):
    """An environment variable is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Settings:
    issuer: str
    """JWT_ISSUER: the exact expected `iss` claim."""
    audience: str
    """JWT_AUDIENCE: a value the token's `aud` claim must contain."""
    jwks_url: str
    """JWKS_URL: https URL of the issuer's JSON Web Key Set."""
    algorithms: tuple[str, ...]
    """JWT_ALGORITHMS: accepted `alg` values, a subset of SUPPORTED_ALGORITHMS."""
    routes: tuple[Route, ...]
    """ROUTE_SCOPES: every route of the stage and the scopes it requires."""
    jwks_cache_seconds: int
    """JWKS_CACHE_SECONDS: how long fetched keys are used before a refresh."""
    jwks_min_refresh_seconds: int
    """JWKS_MIN_REFRESH_SECONDS: minimum interval between two JWKS fetches."""
    jwks_fetch_timeout_seconds: float = DEFAULT_JWKS_FETCH_TIMEOUT_SECONDS
    """JWKS_FETCH_TIMEOUT_SECONDS: deadline of one whole JWKS fetch (also capped by the invocation's time)."""


def load_settings(env: Mapping[str, str]) -> Settings:
    cache_seconds = _positive_int(env, "JWKS_CACHE_SECONDS", DEFAULT_JWKS_CACHE_SECONDS)
    min_refresh = _positive_int(env, "JWKS_MIN_REFRESH_SECONDS", DEFAULT_JWKS_MIN_REFRESH_SECONDS)
    if min_refresh > cache_seconds:
        raise ConfigError(
            f"JWKS_MIN_REFRESH_SECONDS ({min_refresh}) must not exceed JWKS_CACHE_SECONDS ({cache_seconds})"
        )
    raw_routes = _required(env, "ROUTE_SCOPES")
    try:
        routes = parse_route_scopes(raw_routes)
    except ValueError as error:
        raise ConfigError(f"ROUTE_SCOPES {error}") from None
    return Settings(
        issuer=_required(env, "JWT_ISSUER"),
        audience=_required(env, "JWT_AUDIENCE"),
        jwks_url=_https_url(env, "JWKS_URL"),
        algorithms=_algorithms(env),
        routes=routes,
        jwks_cache_seconds=cache_seconds,
        jwks_min_refresh_seconds=min_refresh,
        jwks_fetch_timeout_seconds=_positive_seconds(env, "JWKS_FETCH_TIMEOUT_SECONDS",
                                                     DEFAULT_JWKS_FETCH_TIMEOUT_SECONDS),
    )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is required but not set")
    return value


def _https_url(env: Mapping[str, str], name: str) -> str:
    value = _required(env, name)
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(f"{name} must be an https:// URL with a host, got {value!r}")
    return value


def _algorithms(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = env.get("JWT_ALGORITHMS", "").strip() or DEFAULT_ALGORITHMS
    names = tuple(dict.fromkeys(a.strip() for a in raw.split(",") if a.strip()))
    rejected = [a for a in names if a not in SUPPORTED_ALGORITHMS]
    if rejected or not names:
        raise ConfigError(
            f"JWT_ALGORITHMS accepts only {', '.join(SUPPORTED_ALGORITHMS)}; rejected: {rejected or raw!r}"
        )
    return names


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def _positive_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{name} must be a positive number of seconds, got {raw!r}")
    return value
