"""The issuer's signing keys: fetched over verified https, cached across invocations.

Refresh rules (``clock`` is monotonic seconds):
- Keys are used for ``cache_seconds`` after a successful fetch, then refetched on next use.
- A token whose ``kid`` is not in a fresh cache triggers a refetch (the issuer may have rotated),
  but at most one fetch per ``min_refresh_seconds`` whatever the reason, so a flood of tokens with
  random kids costs the IdP one request per interval per container.
- If a refresh of expired keys fails, the previous keys stay in use (the IdP being briefly down
  should not lock every caller out) for at most another ``cache_seconds``; after that, deny.
- With no keys at all (cold start) and a failed fetch, retries are spaced by
  ``min(min_refresh_seconds, COLD_RETRY_SECONDS)``; tokens are denied meanwhile.
Only keys usable with an allowed algorithm are kept: RS256 needs an RSA key, ES256 an EC P-256 key,
and a JWK whose own ``alg`` names another algorithm (e.g. HS256), whose ``use`` is not "sig", or
that is too short (RSA < 2048 bits) is dropped. Each kept PyJWK is bound to one algorithm, and
tokens.py verifies with that algorithm only.
"""

from __future__ import annotations

import http.client
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from jwt import PyJWK, PyJWTError

logger = logging.getLogger(__name__)

MAX_JWKS_BYTES = 256 * 1024
COLD_RETRY_SECONDS = 5.0
FETCH_TIMEOUT_SECONDS = 3.0
MAX_KID_LENGTH = 256

# Which JWK key type (and curve) each accepted algorithm needs.
_KEY_TYPE_FOR_ALG: dict[str, tuple[str, str | None]] = {"RS256": ("RSA", None), "ES256": ("EC", "P-256")}


class JwksError(Exception):
    """Keys could not be obtained or the kid is unknown; ``reason`` is a log-safe code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def https_fetcher(url: str, *, ca_file: str | None = None, timeout: float = FETCH_TIMEOUT_SECONDS) -> Callable[[], Any]:
    """A function returning the parsed JSON at ``url``; https with certificate verification only.

    http.client is used directly rather than urllib so that no redirect can be followed (a
    redirect could lead to plain http or another host). ``ca_file`` replaces the system trust
    store (tests, private CAs); SSL_CERT_FILE is honoured when it is None.
    """
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise JwksError("jwks_url_not_https")
    host = parts.hostname
    port = parts.port or 443
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2

    def fetch() -> Any:
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        try:
            connection.request("GET", target, headers={"Accept": "application/json"})
            response = connection.getresponse()
            if response.status != 200:
                raise JwksError(f"jwks_http_{response.status}")
            body = response.read(MAX_JWKS_BYTES + 1)
            if len(body) > MAX_JWKS_BYTES:
                raise JwksError("jwks_too_large")
            return json.loads(body)
        except (OSError, http.client.HTTPException):
            # OSError covers refused connections, timeouts and TLS verification failures.
            raise JwksError("jwks_unreachable") from None
        except ValueError:
            raise JwksError("jwks_not_json") from None
        finally:
            connection.close()

    return fetch


def parse_jwks(document: Any, algorithms: Iterable[str]) -> dict[str, PyJWK]:
    """kid -> key for the usable signing keys of a JWKS document; JwksError if there are none."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise JwksError("jwks_malformed")
    allowed = set(algorithms)
    keys: dict[str, PyJWK] = {}
    for entry in document["keys"]:
        key = _usable_key(entry, allowed)
        if key is not None and key.key_id is not None:
            # First wins: a kid must identify one key; a duplicate is ignored, not a replacement.
            keys.setdefault(key.key_id, key)
    if not keys:
        raise JwksError("jwks_no_usable_keys")
    return keys


def _usable_key(entry: Any, allowed: set[str]) -> PyJWK | None:
    if not isinstance(entry, dict):
        return None
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        return None
    if entry.get("use", "sig") != "sig":
        return None
    try:
        key = PyJWK(entry)
    except PyJWTError:
        return None
    expected = _KEY_TYPE_FOR_ALG.get(key.algorithm_name)
    if key.algorithm_name not in allowed or expected is None:
        return None
    kty, crv = expected
    if entry.get("kty") != kty or (crv is not None and entry.get("crv") != crv):
        return None
    if key.Algorithm.check_key_length(key.key) is not None:
        # e.g. RSA below 2048 bits (NIST SP 800-131A): not trusted even if the IdP publishes it.
        logger.warning(json.dumps({"event": "jwks_weak_key_ignored", "kid": kid[:128]}))
        return None
    return key


class JwksCache:
    """Module-level cache of the issuer's keys; see the module docstring for the refresh rules."""

    def __init__(
        self,
        fetch: Callable[[], Any],
        *,
        algorithms: Iterable[str],
        cache_seconds: float,
        min_refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._algorithms = tuple(algorithms)
        self._cache_seconds = cache_seconds
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._keys: dict[str, PyJWK] | None = None
        self._fetched_at = 0.0
        self._last_attempt: float | None = None
        # Lambda runs one event at a time per process; the lock keeps threaded callers (the
        # benchmark, a local server) from refreshing twice at once.
        self._lock = threading.Lock()
        self.fetch_count = 0

    def get_key(self, kid: str) -> PyJWK:
        """The key for ``kid``, refreshing per the rules above; JwksError with a reason otherwise."""
        with self._lock:
            now = self._clock()
            if self._keys is not None and now - self._fetched_at < self._cache_seconds:
                key = self._keys.get(kid)
                if key is not None:
                    return key
                if not self._may_fetch(now, self._min_refresh):
                    raise JwksError("unknown_kid_refresh_rate_limited")
                self._try_refresh(now)
            else:
                backoff = self._min_refresh if self._keys is not None else min(self._min_refresh, COLD_RETRY_SECONDS)
                if self._may_fetch(now, backoff):
                    self._try_refresh(now)
                if self._keys is None:
                    raise JwksError("jwks_unavailable")
                if now - self._fetched_at >= 2 * self._cache_seconds:
                    raise JwksError("jwks_stale_beyond_limit")
            key = self._keys.get(kid)
            if key is None:
                raise JwksError("unknown_kid")
            return key

    def _may_fetch(self, now: float, interval: float) -> bool:
        return self._last_attempt is None or now - self._last_attempt >= interval

    def _try_refresh(self, now: float) -> None:
        self._last_attempt = now
        self.fetch_count += 1
        try:
            keys = parse_jwks(self._fetch(), self._algorithms)
        except JwksError as error:
            logger.warning(json.dumps({"event": "jwks_refresh_failed", "reason": error.reason}))
            return
        self._keys = keys
        self._fetched_at = now
        logger.info(json.dumps({"event": "jwks_refreshed", "kids": sorted(keys)[:20]}))
