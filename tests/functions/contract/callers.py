"""Who calls the API in the contract tests: valid tokens per scope set, invalid ones, API keys, SigV4 principals.

Each caller knows which routes it may call (``allowed``), computed from the route table alone: an oracle
independent of the gateway model and the authorizer under test.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.routes import Auth, Route
from tests.functions.contract.gateway import IamUser

API_KEY = "contract-partner-key-0123456789abcdef"
API_KEY_ID = "k7partner1"
OPERATOR = IamUser("AKIACONTRACTOPERATOR", "operator-secret-key-not-a-real-one", "arn:aws:iam::123456789012:user/ops")
ALL_SCOPES = "orders:read orders:write partner:orders:write"
DAY = 86_400


@dataclass(frozen=True)
class Caller:
    name: str
    authorization: str | None = None
    api_key: str | None = None
    iam: IamUser | None = None
    """Sign each request with SigV4 as this principal."""
    scopes: frozenset[str] | None = None
    """The scopes of a token the IdP really issued and that is currently valid; None: no such token."""
    subject: str | None = None
    valid_api_keys: Mapping[str, str] = field(default_factory=lambda: {API_KEY: API_KEY_ID})

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.authorization is not None:
            headers["Authorization"] = self.authorization
        if self.api_key is not None:
            headers["x-api-key"] = self.api_key
        return headers

    def allowed(self, route: Route) -> bool:
        """May this caller's request reach the route's function? (The route table's answer.)"""
        if route.auth is Auth.IAM:
            return self.iam == OPERATOR
        if self.scopes is None or not set(route.scopes) <= self.scopes:
            return False
        return not route.api_key_required or self.api_key in self.valid_api_keys

    def __repr__(self) -> str:  # hypothesis prints the caller of a failing example: its name says it all
        return f"Caller({self.name})"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def build_callers(tokens: Any, rsa_key: Any, ec_key: Any, attacker_key: Any) -> list[Caller]:
    """Valid callers first (the fuzzer draws them more often), then every way of being refused."""
    exp = int(time.time()) + DAY  # long enough for `make fuzz`

    def bearer(key: Any, subject: str = "user-1", **claims: Any) -> str:
        return "Bearer " + tokens.mint(key, **{"sub": subject, "exp": exp, **claims})

    def caller(name: str, scope: str, key: Any = rsa_key, subject: str = "user-1", **kwargs: Any) -> Caller:
        return Caller(name, bearer(key, subject, scope=scope), scopes=frozenset(scope.split()), subject=subject,
                      **kwargs)

    forged_signature = bearer(rsa_key, scope=ALL_SCOPES).rsplit(".", 1)[0] + "." + _b64({"sig": "forged"})
    return [
        caller("all-scopes", ALL_SCOPES, api_key=API_KEY),
        caller("all-scopes-ec", ALL_SCOPES, key=ec_key, subject="user-2", api_key=API_KEY),
        caller("read", "orders:read", api_key=API_KEY),
        caller("write", "orders:write"),
        caller("partner", "partner:orders:write", api_key=API_KEY),
        caller("no-scope", "", api_key=API_KEY),
        Caller("operator", iam=OPERATOR),
        # Valid token, wrong or missing API key: fine on JWT-only routes, refused on API-key routes.
        caller("all-scopes-bad-key", ALL_SCOPES, api_key="not-a-key"),
        caller("all-scopes-no-key", ALL_SCOPES),
        # Never allowed anywhere.
        Caller("anonymous"),
        Caller("expired", bearer(rsa_key, scope=ALL_SCOPES, exp=int(time.time()) - 3600, iat=None, nbf=None),
               api_key=API_KEY),
        Caller("wrong-audience", bearer(rsa_key, scope=ALL_SCOPES, aud="another-api"), api_key=API_KEY),
        Caller("wrong-issuer", bearer(rsa_key, scope=ALL_SCOPES, iss="https://evil.test/"), api_key=API_KEY),
        Caller("attacker-key", bearer(attacker_key, scope=ALL_SCOPES), api_key=API_KEY),
        Caller("bad-signature", forged_signature, api_key=API_KEY),
        Caller("hs256-confusion", "Bearer " + tokens.hs256_with_public_pem(rsa_key, scope=ALL_SCOPES, exp=exp),
               api_key=API_KEY),
        Caller("alg-none", "Bearer " + _b64({"alg": "none", "kid": rsa_key.kid}) + "." + _b64(
            tokens.claims(scope=ALL_SCOPES, exp=exp)) + "." + _b64({"x": 1}), api_key=API_KEY),
        Caller("not-a-jwt", "Bearer not-a-jwt", api_key=API_KEY),
        Caller("basic", "Basic dXNlcjpwYXNz", api_key=API_KEY),
        Caller("forged-iam", iam=IamUser(OPERATOR.access_key, "guessed-secret", OPERATOR.user_arn)),
        Caller("unknown-iam", iam=IamUser("AKIAUNKNOWNPRINCIPAL", "secret", "arn:aws:iam::999999999999:user/x")),
    ]
