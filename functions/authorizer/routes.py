"""Route scopes (ROUTE_SCOPES) and the IAM policy the authorizer returns.

API Gateway caches a TOKEN authorizer's policy by token for the whole stage (TTL 300 s), so the
policy returned for one request is reused for every other route called with the same token. The
policy therefore never depends on the route that triggered the call: it lists every configured
route, allowing those whose scopes the token holds and explicitly denying the rest. Routes not in
ROUTE_SCOPES get no Allow, which IAM treats as a deny.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# ANY is API Gateway's catch-all method; in an execute-api ARN it is written "*".
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})

# A literal path segment, or a path parameter "{name}" / greedy "{name+}". "*" is not accepted
# literally: in a policy it is a wildcard, so a typo could silently widen a grant.
_LITERAL_SEGMENT = re.compile(r"[A-Za-z0-9._~:@!$&'()+,;=-]+")
_PARAM_SEGMENT = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\+?\}")
# RFC 6749 §3.3 scope-token: 1*( %x21 / %x23-5B / %x5D-7E ); tokens.py applies it to token claims too.
SCOPE_TOKEN_PATTERN = r"[\x21\x23-\x5b\x5d-\x7e]+"  # noqa: S105 - a regex, not a password
_SCOPE = re.compile(SCOPE_TOKEN_PATTERN)

# methodArn parts that end up inside the policy; API Gateway produces these, the check only makes
# sure a malformed event cannot inject wildcards into the policy.
_ARN_FIELD = re.compile(r"[A-Za-z0-9_-]+")
_ACCOUNT = re.compile(r"[0-9]{12}")


@dataclass(frozen=True)
class Route:
    """One API Gateway method from ROUTE_SCOPES."""

    method: str
    """HTTP method, upper case ("ANY" allowed)."""
    path: str
    """Resource path as configured, e.g. "/orders/{id}"."""
    scopes: frozenset[str]
    """Scopes the token must all hold; empty means any valid token."""

    @property
    def arn_suffix(self) -> str:
        """The "{METHOD}/{path}" tail of the route's execute-api ARN, path parameters as "*"."""
        method = "*" if self.method == "ANY" else self.method
        segments = [
            "*" if _PARAM_SEGMENT.fullmatch(segment) else segment
            for segment in self.path.strip("/").split("/")
            if segment
        ]
        return f"{method}/{'/'.join(segments)}"

    def permits(self, granted: frozenset[str]) -> bool:
        return self.scopes <= granted


def parse_route_scopes(raw: str) -> tuple[Route, ...]:
    """Parse ROUTE_SCOPES, e.g. '{"GET /orders": ["orders:read"]}'. Raises ValueError naming the entry."""
    try:
        document = json.loads(raw)
    except ValueError as error:
        raise ValueError(f"is not valid JSON ({error})") from None
    if not isinstance(document, dict) or not document:
        raise ValueError('must be a non-empty JSON object like {"GET /orders": ["orders:read"]}')
    routes: list[Route] = []
    seen: set[tuple[str, str]] = set()
    for key, scopes in document.items():
        route = _parse_route(key, scopes)
        identity = (route.method, route.arn_suffix)
        if identity in seen:
            raise ValueError(f"entry {key!r} duplicates another route")
        seen.add(identity)
        routes.append(route)
    return tuple(sorted(routes, key=lambda r: (r.path, r.method)))


def _parse_route(key: str, scopes: Any) -> Route:
    method, sep, path = key.partition(" ")
    method = method.upper()
    if not sep or method not in HTTP_METHODS:
        raise ValueError(f"entry {key!r} must be 'METHOD /path' with METHOD in {sorted(HTTP_METHODS)}")
    if not path.startswith("/"):
        raise ValueError(f"entry {key!r}: the path must start with '/'")
    segments = [s for s in path.split("/")[1:] if s]
    if path != "/" and (path.endswith("/") or len(segments) != path.count("/")):
        raise ValueError(f"entry {key!r}: the path has empty segments or a trailing '/'")
    for segment in segments:
        if not (_LITERAL_SEGMENT.fullmatch(segment) or _PARAM_SEGMENT.fullmatch(segment)):
            raise ValueError(f"entry {key!r}: path segment {segment!r} is not a literal or a {{param}}")
    if not isinstance(scopes, list) or not all(isinstance(s, str) and _SCOPE.fullmatch(s) for s in scopes):
        raise ValueError(f"entry {key!r} must map to a list of scope strings (no spaces)")
    return Route(method=method, path=path, scopes=frozenset(scopes))


@dataclass(frozen=True)
class MethodArn:
    """The stage-identifying part of an execute-api methodArn."""

    partition: str
    region: str
    account: str
    api_id: str
    stage: str

    def route_arn(self, route: Route) -> str:
        return (
            f"arn:{self.partition}:execute-api:{self.region}:{self.account}:"
            f"{self.api_id}/{self.stage}/{route.arn_suffix}"
        )


def parse_method_arn(arn: str) -> MethodArn:
    """Parse arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "execute-api":
        raise ValueError("methodArn is not an execute-api ARN")
    _, partition, _, region, account, resource = parts
    api_id, _, rest = resource.partition("/")
    stage, _, _ = rest.partition("/")
    fields = (partition, region, api_id, stage)
    if not all(_ARN_FIELD.fullmatch(f) for f in fields) or not _ACCOUNT.fullmatch(account):
        raise ValueError("methodArn has malformed partition/region/account/apiId/stage")
    return MethodArn(partition=partition, region=region, account=account, api_id=api_id, stage=stage)


@functools.lru_cache(maxsize=32)
def _route_arns(method_arn: MethodArn, routes: tuple[Route, ...]) -> tuple[str, ...]:
    # A function serves one stage, so the ARNs are formatted once per container, not per request.
    return tuple(method_arn.route_arn(route) for route in routes)


def build_policy(
    principal_id: str,
    method_arn: MethodArn,
    routes: Iterable[Route],
    granted_scopes: frozenset[str],
    context: Mapping[str, str | int | bool],
) -> dict[str, Any]:
    """The authorizer response: Allow on routes the scopes cover, explicit Deny on the others."""
    allowed: list[str] = []
    denied: list[str] = []
    routes = tuple(routes)
    for route, arn in zip(routes, _route_arns(method_arn, routes), strict=True):
        (allowed if route.permits(granted_scopes) else denied).append(arn)
    statements: list[dict[str, Any]] = []
    if allowed:
        statements.append({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": allowed})
    if denied:
        # Explicit Deny (not just a missing Allow) so that a path-parameter wildcard on an allowed
        # route can never grant a more specific route the token lacks scopes for: Deny wins in IAM.
        statements.append({"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": denied})
    return {
        "principalId": principal_id,
        "policyDocument": {"Version": "2012-10-17", "Statement": statements},
        "context": dict(context),
    }
