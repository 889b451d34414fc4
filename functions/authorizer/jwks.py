"""The issuer's signing keys: fetched over verified https, cached across invocations.

Refresh rules (``clock`` is monotonic seconds):
- Keys are used for ``cache_seconds`` after a successful fetch, then refetched on next use.
- A token whose ``kid`` is not in a fresh cache triggers a refetch (the issuer may have rotated),
  but at most one fetch per ``min_refresh_seconds`` whatever the reason, so a flood of tokens with
  random kids costs the IdP one request per interval per container.
- If a refresh fails - for any reason: unreachable, too slow, an error status, too large, not JSON,
  nested too deeply to parse, no usable key, or an unexpected error while reading the keys - the
  previous keys stay in use (the IdP being briefly down or broken should not lock every caller out)
  for at most another ``cache_seconds``; after that, deny.
- With no keys at all (cold start) and a failed fetch, retries are spaced by
  ``min(min_refresh_seconds, COLD_RETRY_SECONDS)``; tokens are denied meanwhile.
Each fetch has one deadline for the whole exchange (DNS, connect, TLS handshake, request, headers,
body): ``fetch_budget`` gives it the configured JWKS_FETCH_TIMEOUT_SECONDS, but never more than
``REMAINING_TIME_SHARE`` of the invocation's remaining time, so a slow or drip-feeding server cannot
hold the function past its own timeout (Lambda would kill it: a 500 instead of a 401, and the cache
and backoff would be lost with the container).
Only keys usable with an allowed algorithm are kept: RS256 needs an RSA key, ES256 an EC P-256 key,
and a JWK whose own ``alg`` names another algorithm (e.g. HS256), whose ``use`` is not "sig", whose
``key_ops`` does not include "verify" (RFC 7517 §4.3), or that is too short (RSA < 2048 bits) is
dropped. Each kept PyJWK is bound to one algorithm, and tokens.py verifies with that algorithm only.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
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
DEFAULT_FETCH_SECONDS = 3.0
# A fetch may use at most this share of the invocation's remaining time: the rest is left for the
# decision and the answer even when the fetch runs to its deadline.
REMAINING_TIME_SHARE = 0.5
MAX_KID_LENGTH = 256

# Which JWK key type (and curve) each accepted algorithm needs.
_KEY_TYPE_FOR_ALG: dict[str, tuple[str, str | None]] = {"RS256": ("RSA", None), "ES256": ("EC", "P-256")}

Fetcher = Callable[[float], Any]
"""Fetches and parses the JWKS document within the given number of seconds, or raises JwksError."""
Resolver = Callable[..., list[tuple[Any, ...]]]


class JwksError(Exception):
    """Keys could not be obtained or the kid is unknown; ``reason`` is a log-safe code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fetch_budget(configured_seconds: float, remaining_seconds: float | None) -> float:
    """Seconds one fetch may take: the configured limit, and at most a share of the invocation's time left."""
    if remaining_seconds is None:
        return configured_seconds
    return max(0.0, min(configured_seconds, remaining_seconds * REMAINING_TIME_SHARE))


class _DeadlineExceeded(TimeoutError):
    """The fetch's deadline passed (raised before an operation that would have waited)."""


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left, for a socket timeout; raises once the deadline has passed (a timeout of 0
        would switch the socket to non-blocking mode instead of failing)."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise _DeadlineExceeded
        return left


class _DeadlineTLSSocket(ssl.SSLSocket):
    """A TLS socket whose every handshake, read and write waits at most until the fetch's deadline.

    A socket timeout alone bounds each operation, not their sum: a server trickling one byte per
    second keeps every read under the timeout and the fetch alive indefinitely. Re-arming the
    timeout with the time left before each operation bounds the whole exchange. (CPython's
    SSL handshake applies its timeout to the handshake as a whole, not per record.) Installed
    through the documented ``SSLContext.sslsocket_class`` hook.
    """

    deadline: _Deadline

    def do_handshake(self, block: bool = False) -> None:
        self.settimeout(self.deadline.remaining())
        super().do_handshake(block)

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        self.settimeout(self.deadline.remaining())
        return super().recv(buflen, flags)

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        self.settimeout(self.deadline.remaining())
        return super().recv_into(buffer, nbytes, flags)

    def send(self, data: Any, flags: int = 0) -> int:
        self.settimeout(self.deadline.remaining())
        return super().send(data, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        self.settimeout(self.deadline.remaining())
        super().sendall(data, flags)


def _resolve(resolve: Resolver, host: str, port: int, deadline: _Deadline) -> list[tuple[Any, ...]]:
    """getaddrinfo within the deadline; it has no timeout of its own, so it runs in a daemon thread
    that is abandoned (and ends with the resolver's own timeout) if the deadline passes first."""
    outcome: list[Any] = []

    def work() -> None:
        try:
            outcome.append(resolve(host, port, type=socket.SOCK_STREAM))
        except OSError as error:
            outcome.append(error)

    worker = threading.Thread(target=work, name="jwks-resolve", daemon=True)
    worker.start()
    worker.join(deadline.remaining())
    if not outcome:
        raise _DeadlineExceeded
    if isinstance(outcome[0], OSError):
        raise outcome[0]
    return list(outcome[0])


def _connect(addresses: list[tuple[Any, ...]], deadline: _Deadline) -> socket.socket:
    """TCP connect to the first address that answers (what socket.create_connection does, but on
    addresses already resolved within the deadline)."""
    last_error: OSError = OSError("no address")
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(deadline.remaining())
            sock.connect(address)
            return sock
        except OSError as error:
            sock.close()
            last_error = error
    raise last_error


class _DeadlineHTTPSConnection(http.client.HTTPSConnection):
    """http.client with every step of ``connect`` and the response inside one deadline."""

    def __init__(self, host: str, port: int, *, tls: ssl.SSLContext, resolve: Resolver, deadline: _Deadline) -> None:
        super().__init__(host, port, context=tls)
        self._tls = tls
        self._resolve = resolve
        self._deadline = deadline

    def connect(self) -> None:
        raw = _connect(_resolve(self._resolve, self.host, self.port, self._deadline), self._deadline)
        try:
            sock = self._tls.wrap_socket(raw, server_hostname=self.host, do_handshake_on_connect=False)
        except BaseException:
            raw.close()
            raise
        self.sock = sock
        assert isinstance(sock, _DeadlineTLSSocket)
        sock.deadline = self._deadline
        sock.do_handshake()


def https_fetcher(url: str, *, ca_file: str | None = None, resolve: Resolver = socket.getaddrinfo) -> Fetcher:
    """A function ``fetch(seconds)`` returning the parsed JSON at ``url`` within ``seconds``.

    https with certificate verification only. http.client is used directly rather than urllib so
    that no redirect can be followed (a redirect could lead to plain http or another host).
    ``ca_file`` replaces the system trust store (tests, private CAs); SSL_CERT_FILE is honoured when
    it is None. ``resolve`` is getaddrinfo (replaceable to test a resolver that hangs).
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
    context.sslsocket_class = _DeadlineTLSSocket

    def fetch(seconds: float) -> Any:
        if seconds <= 0:
            raise JwksError("jwks_fetch_deadline_exceeded")
        deadline = _Deadline(seconds)
        connection = _DeadlineHTTPSConnection(host, port, tls=context, resolve=resolve, deadline=deadline)
        try:
            connection.request("GET", target, headers={"Accept": "application/json"})
            response = connection.getresponse()
            if response.status != 200:
                raise JwksError(f"jwks_http_{response.status}")
            body = response.read(MAX_JWKS_BYTES + 1)
            if len(body) > MAX_JWKS_BYTES:
                raise JwksError("jwks_too_large")
            if response.length:
                # read(n) returns what arrived before the server closed, short of Content-Length;
                # a truncated document can still parse (e.g. cut inside trailing whitespace).
                raise JwksError("jwks_truncated")
            return json.loads(body)
        except _DeadlineExceeded:
            raise JwksError("jwks_fetch_deadline_exceeded") from None
        except (OSError, http.client.HTTPException):
            # OSError covers refused connections, resets and TLS verification failures; a socket
            # timeout is an OSError too, and after the deadline it is the deadline's doing.
            expired = time.monotonic() >= deadline.at
            raise JwksError("jwks_fetch_deadline_exceeded" if expired else "jwks_unreachable") from None
        except (ValueError, RecursionError):  # bad UTF-8 or JSON; nesting deep enough to exhaust the stack
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
    if entry.get("use", "sig") != "sig" or not _may_verify(entry):
        return None
    try:
        key = PyJWK(entry)
    except PyJWTError:
        return None
    except Exception as error:
        # PyJWK is meant to raise PyJWTError for a bad key; anything else from a hostile or broken
        # JWK (e.g. a TypeError from a number where a string belongs) drops that key only.
        logger.warning(json.dumps({"event": "jwks_key_unreadable", "kid": kid[:128], "error": type(error).__name__}))
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


def _may_verify(entry: dict[str, Any]) -> bool:
    """RFC 7517 §4.3: a JWK with ``key_ops`` may only be used for the operations it lists.

    Absent means unrestricted (``use`` is checked separately). A malformed value - not an array of
    strings, or with duplicates, which the RFC forbids - is not trusted either.
    """
    if "key_ops" not in entry:
        return True
    ops = entry["key_ops"]
    if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops) or len(set(ops)) != len(ops):
        return False
    return "verify" in ops


class JwksCache:
    """Module-level cache of the issuer's keys; see the module docstring for the refresh rules."""

    def __init__(
        self,
        fetch: Fetcher,
        *,
        algorithms: Iterable[str],
        cache_seconds: float,
        min_refresh_seconds: float,
        fetch_seconds: float = DEFAULT_FETCH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._fetch_seconds = fetch_seconds
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

    def get_key(self, kid: str, remaining_ms: Callable[[], int] | None = None) -> PyJWK:
        """The key for ``kid``, refreshing per the rules above; JwksError with a reason otherwise.

        ``remaining_ms`` is the invocation's time left (the Lambda context's
        ``get_remaining_time_in_millis``); it is only called when a fetch is due.
        """
        with self._lock:
            now = self._clock()
            if self._keys is not None and now - self._fetched_at < self._cache_seconds:
                key = self._keys.get(kid)
                if key is not None:
                    return key
                if not self._may_fetch(now, self._min_refresh):
                    raise JwksError("unknown_kid_refresh_rate_limited")
                self._try_refresh(now, remaining_ms)
            else:
                backoff = self._min_refresh if self._keys is not None else min(self._min_refresh, COLD_RETRY_SECONDS)
                if self._may_fetch(now, backoff):
                    self._try_refresh(now, remaining_ms)
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

    def _try_refresh(self, now: float, remaining_ms: Callable[[], int] | None) -> None:
        self._last_attempt = now
        self.fetch_count += 1
        budget = self._fetch_seconds
        try:
            if remaining_ms is not None:
                budget = fetch_budget(self._fetch_seconds, remaining_ms() / 1000)
            keys = parse_jwks(self._fetch(budget), self._algorithms)
        except JwksError as error:
            self._refresh_failed(error.reason, budget)
            return
        except Exception as error:
            # Whatever goes wrong while fetching or reading new keys, the old ones stay: a refresh
            # failure must never deny callers the cache already serves.
            self._refresh_failed("jwks_refresh_error", budget, error_type=type(error).__name__)
            return
        self._keys = keys
        self._fetched_at = now
        logger.info(json.dumps({"event": "jwks_refreshed", "kids": sorted(keys)[:20]}))

    def _refresh_failed(self, reason: str, budget: float, **fields: str) -> None:
        logger.warning(json.dumps({
            "event": "jwks_refresh_failed", "reason": reason, "budget_ms": round(budget * 1000),
            "kept_old_keys": self._keys is not None, **fields,
        }))
