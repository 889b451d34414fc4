"""Bearer header parsing and JWT access-token verification.

Every rejection raises TokenRejected with a short reason code (and the token's kid/iss when they
can be read) for the log; the token itself is never put in an exception or a log line.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import jwt

from functions.authorizer.jwks import MAX_KID_LENGTH, JwksCache, JwksError

# Larger headers are refused before any parsing: real access tokens are 1-2 KiB, and the cap
# bounds the work an anonymous caller can make the authorizer do.
MAX_HEADER_CHARS = 8 * 1024
# Clock skew tolerated between the IdP and Lambda for exp/nbf/iat, in seconds.
LEEWAY_SECONDS = 30
MAX_LOGGED_CHARS = 128

# "Bearer" (any case, RFC 7235 schemes are case-insensitive), spaces, then a compact JWS whose
# three base64url segments are all non-empty (an unsigned "alg: none" token has no signature).
_BEARER = re.compile(r"bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)", re.IGNORECASE | re.ASCII)

_REASONS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid"),
    (jwt.InvalidAudienceError, "wrong_audience"),
    (jwt.InvalidIssuerError, "wrong_issuer"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.InvalidAlgorithmError, "alg_key_mismatch"),
    (jwt.InvalidKeyError, "unacceptable_key"),
    (jwt.DecodeError, "malformed_token"),
]

_JWT = jwt.PyJWT(
    options={
        "require": ["exp", "iss", "aud", "sub"],
        # Refuse RSA keys shorter than 2048 bits even if the IdP publishes one.
        "enforce_minimum_key_length": True,
    }
)


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
    """Checks signature (issuer's JWKS), alg allowlist, iss, aud, exp, nbf and sub."""

    def __init__(self, *, issuer: str, audience: str, algorithms: Collection[str], jwks: JwksCache) -> None:
        self._issuer = issuer
        self._audience = audience
        self._algorithms = list(algorithms)
        self._jwks = jwks

    def verify(self, token: str) -> VerifiedToken:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("malformed_token") from None
        kid = header.get("kid")
        log_kid = _loggable(kid)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise TokenRejected("alg_not_allowed", kid=log_kid, iss=_unverified_issuer(token))
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
            raise TokenRejected("missing_kid", iss=_unverified_issuer(token))
        try:
            key = self._jwks.get_key(kid)
            # Passing the PyJWK (not its raw key) makes PyJWT verify with the key's own algorithm
            # and reject a header alg that differs from it (RS256 header on an EC key, etc.).
            claims = _JWT.decode(
                token,
                key=key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
            )
        except JwksError as error:
            raise TokenRejected(error.reason, kid=log_kid, iss=_unverified_issuer(token)) from None
        except jwt.PyJWTError as error:
            raise TokenRejected(_reason(error), kid=log_kid, iss=_unverified_issuer(token)) from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.strip():
            raise TokenRejected("missing_claim", kid=log_kid, iss=_loggable(claims.get("iss")))
        scopes = _scopes(claims)
        if scopes is None:
            raise TokenRejected("malformed_scope", kid=log_kid, iss=_loggable(claims.get("iss")))
        client_id = claims.get("client_id")
        return VerifiedToken(
            subject=subject,
            scopes=scopes,
            client_id=client_id if isinstance(client_id, str) else None,
        )


def _scopes(claims: dict[str, Any]) -> frozenset[str] | None:
    """Scopes from ``scope`` (RFC 8693/9068: space-separated string) or ``scp`` (list or string)."""
    raw = claims.get("scope", claims.get("scp"))
    if raw is None:
        return frozenset()
    if isinstance(raw, str):
        return frozenset(raw.split())
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return frozenset(s for s in raw if s and " " not in s)
    return None


def _reason(error: jwt.PyJWTError) -> str:
    for error_type, reason in _REASONS:
        if isinstance(error, error_type):
            return reason
    return "invalid_token"


def _unverified_issuer(token: str) -> str | None:
    """``iss`` read without verification, for the log line only."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return _loggable(claims.get("iss"))


def _loggable(value: Any) -> str | None:
    return value[:MAX_LOGGED_CHARS] if isinstance(value, str) else None
