"""OpenAPI documents handed to API Gateway as a `body` (RestApi, HTTP Api): what they let anonymous callers do.

API Gateway builds the methods/routes of such an API from the document, so no Method or Route resource
exists for the pack to read: the document itself is what must be checked.  Semantics (AWS API Gateway
developer guide, "OpenAPI extensions" and "x-amazon-apigateway-authtype"):
- an operation's effective security is its own ``security`` if present, else the document's;
- ``security`` lists alternatives (any one suffices) of requirements (all schemes of one apply), so an
  operation is authenticated only if every alternative includes an authenticating scheme; an empty
  alternative ``{}`` or an empty list lets anyone in;
- a scheme authenticates when API Gateway backs it with an authorizer (``x-amazon-apigateway-authorizer``)
  or IAM / Cognito (``x-amazon-apigateway-authtype`` ``awsSigv4``, ``cognito_user_pools``, ``aws…``); a bare
  ``apiKey`` scheme is an API key, which AWS says is not a means of authentication;
- REST operations may also set ``x-amazon-apigateway-auth: {type: AWS_IAM}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from ._values import UNKNOWN

HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace",
                          "x-amazon-apigateway-any-method"})
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class OpenApiError(ValueError):
    """The body is not an OpenAPI document (the message completes "The body of ... ")."""


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    spec: Mapping[str, Any]

    @property
    def label(self) -> str:
        method = "ANY" if self.method == "x-amazon-apigateway-any-method" else self.method.upper()
        return f"{method} {self.path}"


def load(body: Any) -> Mapping[str, Any] | None:
    """The document as a mapping; None when unknown (built from outputs) or absent."""
    if body is UNKNOWN or body is None:
        return None
    if isinstance(body, Mapping):
        return body
    if not isinstance(body, str):
        raise OpenApiError("is not an OpenAPI document (not text)")
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        try:
            document = yaml.load(body, Loader=_LOADER)  # noqa: S506 - a safe loader (C or pure Python)
        except yaml.YAMLError as exc:
            raise OpenApiError(f"is neither JSON nor YAML ({exc.__class__.__name__})") from exc
    if not isinstance(document, Mapping) or not isinstance(document.get("paths", {}), Mapping):
        raise OpenApiError("is not an OpenAPI document (no 'paths' object)")
    return document


def operations(document: Mapping[str, Any]) -> Iterator[Operation]:
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, Mapping):
            continue
        for method, spec in item.items():
            if str(method).lower() in HTTP_METHODS and isinstance(spec, Mapping):
                yield Operation(str(path), str(method).lower(), spec)


def _schemes(document: Mapping[str, Any]) -> Mapping[str, Any]:
    components = document.get("components")
    schemes = components.get("securitySchemes") if isinstance(components, Mapping) else None
    if schemes is None:
        schemes = document.get("securityDefinitions")  # OpenAPI 2
    return schemes if isinstance(schemes, Mapping) else {}


def authenticating(scheme: Any) -> bool:
    if not isinstance(scheme, Mapping):
        return False
    if isinstance(scheme.get("x-amazon-apigateway-authorizer"), Mapping):
        return True
    authtype = str(scheme.get("x-amazon-apigateway-authtype") or "").lower()
    return authtype.startswith("aws") or authtype == "cognito_user_pools"


def is_authenticated(document: Mapping[str, Any], operation: Operation) -> bool:
    auth = operation.spec.get("x-amazon-apigateway-auth")
    if isinstance(auth, Mapping) and str(auth.get("type", "")).upper() == "AWS_IAM":
        return True
    security = operation.spec["security"] if "security" in operation.spec else document.get("security")
    if not isinstance(security, list) or not security:
        return False
    schemes = _schemes(document)
    for alternative in security:
        if not isinstance(alternative, Mapping) or not any(authenticating(schemes.get(n)) for n in alternative):
            return False
    return True


def unauthenticated(document: Mapping[str, Any], exempt_methods: set[str]) -> list[Operation]:
    """Operations anyone may call (methods in ``exempt_methods``, e.g. CORS preflight, excepted)."""
    return [op for op in operations(document)
            if op.method.upper() not in exempt_methods and not is_authenticated(document, op)]


def validates_fully(document: Mapping[str, Any], operation: Operation) -> bool:
    """The operation's request validator (its own or the document default) checks body and parameters."""
    name = operation.spec.get("x-amazon-apigateway-request-validator",
                              document.get("x-amazon-apigateway-request-validator"))
    validators = document.get("x-amazon-apigateway-request-validators")
    entry = validators.get(name) if isinstance(validators, Mapping) and isinstance(name, str) else None
    return isinstance(entry, Mapping) and entry.get("validateRequestBody") is True \
        and entry.get("validateRequestParameters") is True
