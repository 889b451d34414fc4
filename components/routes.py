"""The API's routes as data (pure; no Pulumi).

One table says, per route: the path and method, how callers authenticate, which OAuth scopes the JWT must
hold, which request model and parameters API Gateway validates, and which function serves it. The API edge
builds every resource, method, integration and permission from it, the authorizer receives its scope map
(ROUTE_SCOPES) from it, and the deployment fingerprint hashes it: one source of truth, so a route can never
be exposed by the gateway without the authorizer knowing its scopes, or the other way round.

Authentication modes. Every method authenticates callers at the gateway (authorization is never NONE):
- ``JWT``: the Lambda TOKEN authorizer verifies a bearer JWT and the scopes of ``scopes``.
- ``IAM``: SigV4-signed requests; callers need ``execute-api:Invoke`` on the route.
An API key (``api_key_required``) is added on top where a route is metered by a usage plan or identifies a
partner: AWS advises against API keys as the only credential (they are bearer strings sent in clear to the
gateway, not rotated by an IdP), so the API-key routes also carry a JWT.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Auth(StrEnum):
    JWT = "JWT"
    IAM = "IAM"


class Backend(StrEnum):
    """Which function serves the route (the handler strings are the functions' contract)."""

    API = "api"
    RECONCILE = "reconcile"


# API Gateway's authorization types, per mode.
AUTHORIZATION_TYPE = {Auth.JWT: "CUSTOM", Auth.IAM: "AWS_IAM"}
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})

_LITERAL = re.compile(r"[A-Za-z0-9._-]+")
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HEADER = re.compile(r"[A-Za-z0-9-]+")
_QUERY = re.compile(r"[A-Za-z0-9_]+")
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 scope-token characters
_MODEL_NAME = re.compile(r"[A-Za-z0-9]+")  # API Gateway model names are alphanumeric


@dataclass(frozen=True)
class Reply:
    """One success response of a route, as the function sends it."""

    status: int
    model: str
    """Body schema: a key of RESPONSE_MODELS."""
    headers: tuple[str, ...] = ()
    """Headers the function always sends with this status (keys of RESPONSE_HEADERS), beyond the security ones."""


@dataclass(frozen=True)
class Route:
    method: str
    """HTTP method, upper case (no ANY: every method is declared and validated explicitly)."""
    path: str
    """Resource path, e.g. ``/orders/{id}``; ``{name}`` segments are path parameters."""
    auth: Auth
    """How the gateway authenticates callers."""
    backend: Backend
    """The function behind the route (AWS_PROXY integration)."""
    scopes: tuple[str, ...] = ()
    """JWT routes: scopes the token must all hold (empty: any valid token). Must be empty for IAM routes."""
    api_key_required: bool = False
    """Callers must also send a valid API key (x-api-key) attached to a usage plan."""
    model: str | None = None
    """Name of the request model (a key of MODELS) validating the JSON body; required for body methods."""
    required_headers: tuple[str, ...] = ()
    """Headers the gateway rejects the request without (400 before the function runs)."""
    optional_query: tuple[str, ...] = ()
    """Query-string parameters the route accepts (documented; the function validates their values)."""
    description: str = ""
    """What the route does (shown as the method's operation name)."""
    replies: tuple[Reply, ...] = ()
    """What the function answers on success: status, body model (a key of RESPONSE_MODELS), headers."""
    errors: tuple[int, ...] = ()
    """Error statuses the function itself answers (body: the ``Error`` model); the gateway's are added."""

    @property
    def key(self) -> str:
        """``METHOD /path``: the ROUTE_SCOPES key and a unique id of the route."""
        return f"{self.method} {self.path}"

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(s for s in self.path.split("/") if s)

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return tuple(m.group(1) for s in self.segments if (m := _PARAM.fullmatch(s)))

    @property
    def request_parameters(self) -> dict[str, bool]:
        """API Gateway ``request_parameters``: name -> required. Path parameters are always required."""
        params = {f"method.request.path.{p}": True for p in self.path_parameters}
        params.update({f"method.request.header.{h}": True for h in self.required_headers})
        params.update({f"method.request.querystring.{q}": False for q in self.optional_query})
        return params

    @property
    def arn_path(self) -> str:
        """``METHOD/path`` as it appears in execute-api ARNs, each path parameter matched by ``*``."""
        parts = ["*" if _PARAM.fullmatch(s) else s for s in self.segments]
        return f"{self.method}/{'/'.join(parts)}"

    @property
    def authorization_type(self) -> str:
        return AUTHORIZATION_TYPE[self.auth]


# ---- request models (JSON schema draft-04, the dialect API Gateway validates) ---------------------------
# Limits mirror functions/api/validation.py: the gateway rejects malformed bodies before they cost a
# Lambda invocation, and the function re-checks them (defence in depth; the function is the authority).
SKU_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MAX_QUANTITY = 1000
MAX_NOTE_CHARS = 500
MAX_RECONCILE_BATCH = 500
# PostgreSQL text cannot hold NUL, so the function refuses it; the model says so too (found by tests/contract).
NOTE_PATTERN = "^[^\\u0000]*$"

MODELS: dict[str, dict[str, Any]] = {
    "OrderCreate": {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "OrderCreate",
        "type": "object",
        "additionalProperties": False,
        "required": ["sku", "quantity"],
        "properties": {
            "sku": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": SKU_PATTERN},
            "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
            "note": {"type": ["string", "null"], "maxLength": MAX_NOTE_CHARS, "pattern": NOTE_PATTERN},
        },
    },
    "ReconcileRequest": {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "ReconcileRequest",
        "type": "object",
        "additionalProperties": False,
        "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": MAX_RECONCILE_BATCH}},
    },
}

# ---- the rest of the contract: parameters and responses (documented in openapi.json) -------------------------
# API Gateway only checks that a required parameter is present and not blank; the function checks its value
# against these rules (functions/api/validation.py; tests/contract fuzzes both against the document).
MAX_LIST_LIMIT = 100
MAX_CURSOR_CHARS = 200
MAX_IDEMPOTENCY_KEY_CHARS = 255

PARAMETERS: dict[str, dict[str, Any]] = {
    "id": {
        "description": "Order id, as returned when the order was created (canonical lower-case UUID).",
        "schema": {"type": "string", "format": "uuid"},
    },
    "Idempotency-Key": {
        "description": "A client-chosen key making a retry safe: the same key and body return the same order "
                       "(200, Idempotent-Replayed: true); the same key with another body is refused (409).",
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY_CHARS,
                   "pattern": "^[\\x21-\\x7e]+$"},
    },
    "limit": {
        "description": f"Page size, 1 to {MAX_LIST_LIMIT} (default 20).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT},
    },
    "cursor": {
        "description": "Opaque cursor from a previous page's next_cursor.",
        "schema": {"type": "string", "maxLength": MAX_CURSOR_CHARS},
    },
}

RESPONSE_HEADERS: dict[str, dict[str, Any]] = {
    "Location": {"description": "Path of the created order.", "schema": {"type": "string"}},
    "Idempotent-Replayed": {
        "description": "Present on a retry answered with the order an earlier request created.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}

_REF = "#/components/schemas/"
# What the functions answer (OpenAPI 3.1 / JSON Schema 2020-12 schemas; "$ref" names another entry). Objects are
# closed so that a field the function starts leaking (customer ids, idempotency internals) breaks the contract.
RESPONSE_MODELS: dict[str, dict[str, Any]] = {
    "Health": {
        "type": "object", "additionalProperties": False, "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok"]}},
    },
    "Order": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "sku", "quantity", "note", "created_at"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "sku": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": SKU_PATTERN},
            "quantity": {"type": "integer", "minimum": 1, "maximum": MAX_QUANTITY},
            "note": {"type": ["string", "null"], "maxLength": MAX_NOTE_CHARS, "pattern": NOTE_PATTERN},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
    "OrderList": {
        "type": "object", "additionalProperties": False, "required": ["orders", "next_cursor"],
        "properties": {
            "orders": {"type": "array", "maxItems": MAX_LIST_LIMIT, "items": {"$ref": _REF + "Order"}},
            "next_cursor": {"type": ["string", "null"], "maxLength": MAX_CURSOR_CHARS,
                            "description": "Pass as cursor to read the next page; null on the last page."},
        },
    },
    "ReconcileResult": {
        "type": "object", "additionalProperties": False, "required": ["selected", "published", "failed"],
        "properties": {name: {"type": "integer", "minimum": 0} for name in ("selected", "published", "failed")},
    },
    # The one error shape, whoever answers: the functions (functions/api/http.py) and API Gateway's gateway
    # responses (components/gateway_responses.py).
    "Error": {
        "type": "object", "additionalProperties": False, "required": ["error", "request_id"],
        "properties": {
            "error": {
                "type": "object", "additionalProperties": False, "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "pattern": "^[a-z_]+$", "description": "Stable machine-readable code."},
                    "message": {"type": "string", "description": "For humans; never an internal detail."},
                    "field": {"type": "string", "description": "The body field, header or parameter at fault."},
                },
            },
            "request_id": {"type": "string", "description": "Quote it to support: it names the request's log lines."},
        },
    },
}

_CREATED = (Reply(201, "Order", ("Location",)), Reply(200, "Order", ("Idempotent-Replayed",)))

# The reference route set: every authentication mode, nested paths, a path parameter, bodies and headers.
REFERENCE_ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", Auth.JWT, Backend.API, api_key_required=True,
          description="Liveness check for monitoring clients", replies=(Reply(200, "Health"),)),
    Route("GET", "/orders", Auth.JWT, Backend.API, scopes=("orders:read",), optional_query=("limit", "cursor"),
          description="List the caller's orders", replies=(Reply(200, "OrderList"),), errors=(400,)),
    Route("POST", "/orders", Auth.JWT, Backend.API, scopes=("orders:write",), model="OrderCreate",
          required_headers=("Idempotency-Key",), description="Create an order", replies=_CREATED,
          errors=(400, 409, 413, 415)),
    Route("GET", "/orders/{id}", Auth.JWT, Backend.API, scopes=("orders:read",),
          description="Read one of the caller's orders", replies=(Reply(200, "Order"),), errors=(400, 404)),
    Route("POST", "/partner/orders", Auth.JWT, Backend.API, scopes=("partner:orders:write",),
          api_key_required=True, model="OrderCreate", required_headers=("Idempotency-Key",),
          description="Create an order for a partner (metered by its API key's usage plan)", replies=_CREATED,
          errors=(400, 409, 413, 415)),
    Route("POST", "/internal/reconcile", Auth.IAM, Backend.RECONCILE, model="ReconcileRequest",
          description="Republish unpublished orders (operators and schedulers, SigV4)",
          replies=(Reply(200, "ReconcileResult"),), errors=(400,)),
)


class RouteError(ValueError):
    """The route table is invalid; the message names the route."""


def validate_routes(routes: Sequence[Route], models: Mapping[str, Any] = MODELS) -> None:
    """Reject a table the gateway would expose insecurely or AWS would refuse."""
    if not routes:
        raise RouteError("routes: the table is empty")
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for route in routes:
        where = f"route {route.key!r}"
        if route.method not in HTTP_METHODS:
            problems.append(f"{where}: method must be one of {sorted(HTTP_METHODS)}")
        if not route.path.startswith("/") or route.path.endswith("/") or "//" in route.path:
            problems.append(f"{where}: path must start with '/', with no empty segment or trailing '/'")
        for segment in route.segments:
            if not (_LITERAL.fullmatch(segment) or _PARAM.fullmatch(segment)):
                problems.append(f"{where}: path segment {segment!r} is neither a literal nor a {{param}}")
        # Two routes that differ only in parameter names would be one API Gateway resource.
        identity = (route.method, route.arn_path)
        if identity in seen:
            problems.append(f"{where}: duplicates another route")
        seen.add(identity)
        if not isinstance(route.auth, Auth):
            problems.append(f"{where}: auth must be one of {[a.value for a in Auth]}")
        if route.auth is Auth.IAM and route.scopes:
            problems.append(f"{where}: scopes apply to JWT routes only (IAM policies decide for IAM routes)")
        bad_scopes = [s for s in route.scopes if not _SCOPE.fullmatch(s)]
        if bad_scopes:
            problems.append(f"{where}: invalid scope(s) {bad_scopes}")
        if route.method in BODY_METHODS and route.model is None:
            problems.append(f"{where}: a {route.method} route needs a request model (bodies are always validated)")
        if route.model is not None:
            if route.model not in models:
                problems.append(f"{where}: model {route.model!r} is not defined (known: {sorted(models)})")
            elif not _MODEL_NAME.fullmatch(route.model):
                problems.append(f"{where}: model name {route.model!r} must be alphanumeric")
        for reply in route.replies:
            if reply.model not in RESPONSE_MODELS:
                problems.append(f"{where}: reply model {reply.model!r} is not defined "
                                f"(known: {sorted(RESPONSE_MODELS)})")
            unknown_headers = sorted(set(reply.headers) - set(RESPONSE_HEADERS))
            if unknown_headers:
                problems.append(f"{where}: reply headers {unknown_headers} are not defined in RESPONSE_HEADERS")
        statuses = [reply.status for reply in route.replies]
        if len(set(statuses)) != len(statuses) or not all(200 <= status < 300 for status in statuses):
            problems.append(f"{where}: replies must have distinct 2xx statuses, got {statuses}")
        if not all(400 <= status < 600 for status in route.errors):
            problems.append(f"{where}: errors must be 4xx or 5xx statuses, got {list(route.errors)}")
        bad_headers = [h for h in route.required_headers if not _HEADER.fullmatch(h)]
        bad_query = [q for q in route.optional_query if not _QUERY.fullmatch(q)]
        if bad_headers or bad_query:
            problems.append(f"{where}: invalid parameter names {bad_headers + bad_query}")
    # A literal and a parameter at the same position under one parent are ambiguous in API Gateway.
    children: dict[str, set[str]] = {}
    for path in resource_paths(routes):
        parent, _, last = path.rpartition("/")
        children.setdefault(parent, set()).add(last)
    for parent, names in children.items():
        params = [n for n in names if _PARAM.fullmatch(n)]
        if len(params) > 1:
            problems.append(f"routes: {parent or '/'} has several path parameters at one level: {sorted(params)}")
    if problems:
        raise RouteError("; ".join(problems))


def resource_paths(routes: Iterable[Route]) -> list[str]:
    """Every API Gateway resource path the routes need, parents before children (``/a`` before ``/a/b``)."""
    paths: set[str] = set()
    for route in routes:
        segments = route.segments
        for depth in range(1, len(segments) + 1):
            paths.add("/" + "/".join(segments[:depth]))
    return sorted(paths, key=lambda p: (p.count("/"), p))


def route_scopes(routes: Iterable[Route]) -> dict[str, list[str]]:
    """ROUTE_SCOPES for the authorizer: every JWT route and the scopes it requires."""
    return {r.key: sorted(r.scopes) for r in routes if r.auth is Auth.JWT}


def route_scopes_json(routes: Iterable[Route]) -> str:
    return json.dumps(route_scopes(routes), sort_keys=True, separators=(",", ":"))


def describe(routes: Iterable[Route], models: Mapping[str, Any] = MODELS) -> dict[str, Any]:
    """A canonical, JSON-serialisable description of the routes and the models they use (for hashing)."""
    table = list(routes)
    return {
        "routes": [
            {
                "method": r.method, "path": r.path, "auth": r.auth.value, "backend": r.backend.value,
                "scopes": sorted(r.scopes), "api_key_required": r.api_key_required,
                "request_parameters": r.request_parameters, "model": r.model,
            }
            for r in table
        ],
        "models": {name: models[name] for name in sorted({r.model for r in table if r.model})},
    }
