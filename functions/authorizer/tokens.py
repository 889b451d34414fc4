"""Bearer header parsing and JWT access-token verification.

Every rejection raises TokenRejected with a short reason code (and the token's kid/iss when they
can be read) for the log; the token itself is never put in an exception or a log line.

Division of labour with PyJWT: keys come from PyJWT's PyJWK (jwks.py) and signatures are checked
by the PyJWK's own PyJWT algorithm object (``key.Algorithm.verify``), which binds each key to one
algorithm. The compact-JWS split and the registered-claim checks (RFC 7519 §4.1: exp, nbf, iat,
iss, aud, sub) are done here instead of through ``jwt.decode()``: PyJWT 2.15 validates every
base64url character in a Python loop, which alone costs about twice an RSA signature check and
kept the authorizer below its 5,000 validations/s target. The checks below follow PyJWT's
semantics (leeway on exp/nbf/iat, ``aud`` as string or list) but are stricter on types: the time
claims must be JSON numbers (RFC 7519 NumericDate), not numeric strings. Scopes are split on U+0020
only, and a claim with any other separator or character outside RFC 6749 scope-tokens is refused
(``_scopes``).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from functions.authorizer.jwks import MAX_KID_LENGTH, JwksCache, JwksError
from functions.authorizer.routes import SCOPE_TOKEN_PATTERN

# Larger headers are refused before any parsing: real access tokens are 1-2 KiB, and the cap
# bounds the work an anonymous caller can make the authorizer do.
MAX_HEADER_CHARS = 8 * 1024
# Clock skew tolerated between the IdP and Lambda for exp/nbf/iat, in seconds.
LEEWAY_SECONDS = 30
MAX_LOGGED_CHARS = 128
REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub")

# A compact JWS: three non-empty base64url segments (an unsigned "alg: none" token has an empty
# signature and fails here already).
_JWS = r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"
# "Bearer" (any case: RFC 7235 schemes are case-insensitive), spaces, then the JWS.
_BEARER = re.compile(rf"bearer +({_JWS})", re.IGNORECASE | re.ASCII)
_COMPACT_JWS = re.compile(_JWS, re.ASCII)
# RFC 6749 §3.3 scope-tokens, and a scope string: such tokens and U+0020 spaces only.
_SCOPE_TOKEN = re.compile(SCOPE_TOKEN_PATTERN)
# One character class (not "(?: |token)*", which backtracks exponentially on a bad character).
_SCOPE_STRING = re.compile(r"[ \x21\x23-\x5b\x5d-\x7e]*")


class TokenRejected(Exception):
    """The request carries no acceptable token; ``reason`` is a log-safe code."""

    def __init__(self, reason: str, *, kid: str | None = None, iss: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kid = kid
        self.iss = iss


@dataclass(frozen=True)
class VerifiedToken:
    subject: str
    scopes: frozenset[str]
    client_id: str | None


def bearer_token(header: Any) -> str:
    """The token of an ``Authorization: Bearer <token>`` header value."""
    if not isinstance(header, str) or not header:
        raise TokenRejected("missing_header")
    if len(header) > MAX_HEADER_CHARS:
        raise TokenRejected("oversized_header")
    match = _BEARER.fullmatch(header.strip(" \t"))
    if match is None:
        raise TokenRejected("malformed_header")
    return match.group(1)


class TokenVerifier:
    """Checks signature (issuer's JWKS), alg allowlist, iss, aud, exp, nbf, iat and sub."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: Collection[str],
        jwks: JwksCache,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuer = issuer
        self._audience = audience
        self._algorithms = frozenset(algorithms)
        self._jwks = jwks
        self._clock = clock

    def verify(self, token: str, remaining_ms: Callable[[], int] | None = None) -> VerifiedToken:
        """The verified token, or TokenRejected. ``remaining_ms``: the invocation's time left, which
        bounds a JWKS fetch if one is due (see jwks.fetch_budget)."""
        if not _COMPACT_JWS.fullmatch(token):
            raise TokenRejected("malformed_token")
        header_segment, payload_segment, signature_segment = token.split(".")
        header = _json_object(header_segment)
        kid = header.get("kid")
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise TokenRejected("alg_not_allowed", kid=_loggable(kid), iss=_unverified_issuer(payload_segment))
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
            raise TokenRejected("missing_kid", iss=_unverified_issuer(payload_segment))
        if "crit" in header or "b64" in header:
            # No JWS extension is understood here, so a critical one must make the token invalid
            # (RFC 7515 §4.1.11); "b64": false (RFC 7797) would change what the signature covers.
            raise TokenRejected("unsupported_header", kid=kid[:MAX_LOGGED_CHARS])
        try:
            key = self._jwks.get_key(kid, remaining_ms)
        except JwksError as error:
            raise TokenRejected(error.reason, kid=_loggable(kid), iss=_unverified_issuer(payload_segment)) from None
        if alg != key.algorithm_name:
            # e.g. an RS256 header on an EC key's kid: each key verifies with its own algorithm only.
            raise TokenRejected("alg_key_mismatch", kid=_loggable(kid), iss=_unverified_issuer(payload_segment))
        signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
        if not key.Algorithm.verify(signing_input, key.key, _b64decode(signature_segment)):
            raise TokenRejected("bad_signature", kid=_loggable(kid), iss=_unverified_issuer(payload_segment))
        claims = _json_object(payload_segment)
        self._check_claims(claims, kid)
        scopes = _scopes(claims)
        if scopes is None:
            raise TokenRejected("malformed_scope", kid=_loggable(kid), iss=_loggable(claims.get("iss")))
        client_id = claims.get("client_id")
        return VerifiedToken(
            subject=claims["sub"],
            scopes=scopes,
            client_id=client_id if isinstance(client_id, str) else None,
        )

    def _check_claims(self, claims: dict[str, Any], kid: str) -> None:
        def reject(reason: str) -> TokenRejected:
            return TokenRejected(reason, kid=_loggable(kid), iss=_loggable(claims.get("iss")))

        if any(claims.get(name) is None for name in REQUIRED_CLAIMS):
            raise reject("missing_claim")
        now = self._clock()
        exp, nbf, iat = claims["exp"], claims.get("nbf"), claims.get("iat")
        if not all(_is_numeric_date(value) for value in (exp, nbf, iat) if value is not None):
            raise reject("malformed_token")
        if exp <= now - LEEWAY_SECONDS:
            raise reject("expired")
        if (nbf is not None and nbf > now + LEEWAY_SECONDS) or (iat is not None and iat > now + LEEWAY_SECONDS):
            raise reject("not_yet_valid")
        if claims["iss"] != self._issuer:
            raise reject("wrong_issuer")
        audiences = claims["aud"]
        if isinstance(audiences, str):
            audiences = [audiences]
        if not isinstance(audiences, list) or self._audience not in audiences:
            raise reject("wrong_audience")
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.strip():
            raise reject("missing_claim")


def _is_numeric_date(value: Any) -> bool:
    """A JSON number (not a bool, string, NaN or infinity). Ints are compared exactly, whatever their size."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _b64decode(segment: str) -> bytes:
    """Strict base64url: the segment must be the canonical encoding of what it decodes to.

    Non-canonical spellings (non-zero padding bits) would let one signature appear under several
    token strings; they are refused, as PyJWT does.
    """
    if len(segment) % 4 == 1:
        raise TokenRejected("malformed_token")
    try:
        decoded = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise TokenRejected("malformed_token") from None
    if base64.urlsafe_b64encode(decoded).rstrip(b"=") != segment.encode("ascii"):
        raise TokenRejected("malformed_token")
    return decoded


def _json_object(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(segment))
    except (ValueError, RecursionError):  # UTF-8 and JSON errors are ValueErrors; deep nesting recurses
        raise TokenRejected("malformed_token") from None
    if not isinstance(value, dict):
        raise TokenRejected("malformed_token")
    return value


def _scopes(claims: dict[str, Any]) -> frozenset[str] | None:
    """Scopes from ``scope`` (RFC 8693/9068: space-separated string) or ``scp`` (list or string).

    RFC 6749 §3.3: scopes are separated by spaces (%x20) and nothing else, and each scope-token is
    made of %x21 / %x23-5B / %x5D-7E. The string is split on U+0020 only (runs of spaces are
    tolerated). Any other character - a tab, a newline, NBSP, an ideographic space, any non-ASCII
    or control character - makes the claim malformed and the token is denied (None), rather than
    guessing whether the IdP meant one scope or two: splitting on it could grant scopes the IdP
    never granted, and passing it on as one opaque scope would hand downstream code (which reads
    ``context.scope``) a string it might split itself. ``scp`` as a list follows the same rule per
    element.
    """
    raw = claims.get("scope", claims.get("scp"))
    if raw is None:
        return frozenset()
    if isinstance(raw, str):
        if not _SCOPE_STRING.fullmatch(raw):
            return None
        scopes = frozenset(raw.split(" "))
        return scopes - {""} if "" in scopes else scopes  # (a generator filtering "" costs ~1 us more)
    if isinstance(raw, list) and all(isinstance(s, str) and _SCOPE_TOKEN.fullmatch(s) for s in raw):
        return frozenset(raw)
    return None


def _unverified_issuer(payload_segment: str) -> str | None:
    """``iss`` read without verification, for the log line only."""
    try:
        return _loggable(_json_object(payload_segment).get("iss"))
    except TokenRejected:
        return None


def _loggable(value: Any) -> str | None:
    return value[:MAX_LOGGED_CHARS] if isinstance(value, str) else None
