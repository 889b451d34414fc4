"""The API's OpenAPI 3.1 document, generated from the route table and the gateway responses (pure; no Pulumi).

One source: every path, method, parameter, request model, success reply and security requirement comes from
``components/routes.py``; every error the gateway itself answers comes from ``components/gateway_responses.py``.
The request bodies are the very JSON schemas (draft-04) API Gateway validates with, kept verbatim with their
``$schema``; everything else is JSON Schema 2020-12, OpenAPI 3.1's default dialect.

``python -m components.openapi`` (``make openapi``) writes ``openapi.json``; a test checks it is current and
valid (openapi-spec-validator), and tests/contract fuzzes the real request path against it.

The stage publishes the same prose (API Gateway documentation parts, see ``documentation_parts``): API
Gateway's export of a stage is its own rendering of the methods, models and authorizer, so the parts add the
summaries, the authentication and scopes per method and the parameter descriptions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from components.gateway_responses import GATEWAY_ERRORS, SECURITY_HEADERS, GatewayError, response_template
from components.routes import (
    BODY_METHODS,
    MODELS,
    PARAMETERS,
    REFERENCE_ROUTES,
    RESPONSE_HEADERS,
    RESPONSE_MODELS,
    Auth,
    Route,
    RouteError,
    validate_routes,
)

OPENAPI_VERSION = "3.1.0"
API_TITLE = "secure-api-platform orders API"
# Bump the major version on a breaking change of the contract (a removed route, field or accepted value).
API_VERSION = "1.0.0"
DOCUMENT_FILE = Path(__file__).resolve().parent.parent / "openapi.json"
JSON = "application/json"
API_KEY_HEADER = "x-api-key"  # API Gateway's header for api_key_source HEADER
SCHEMES = {"jwt": "bearerJwt", "api_key": "apiKey", "iam": "sigv4"}
# API Gateway's REST API limit on a request payload (REQUEST_TOO_LARGE); WAF's body rule is stricter.
GATEWAY_MAX_PAYLOAD = "10 MB"


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def operation_id(route: Route) -> str:
    """``GET /orders/{id}`` -> ``getOrdersById``: stable, derived, unique per route."""
    words = [route.method.lower()]
    for segment in route.segments:
        if segment.startswith("{"):
            words.append("By" + segment.strip("{}")[:1].upper() + segment.strip("{}")[1:])
        else:
            words.extend(part[:1].upper() + part[1:] for part in segment.replace("_", "-").split("-") if part)
    return "".join(words)


def _tag(route: Route) -> str:
    return route.segments[0] if route.segments else "root"


# ---- which errors an operation can meet, and who answers them ----------------------------------------------


def _gateway_errors_for(route: Route) -> dict[int, list[GatewayError]]:
    """Gateway responses this route can produce, by status (the DEFAULT_* ranges are handled separately)."""
    has_required_parameters = any(route.request_parameters.values())

    def applies(error: GatewayError) -> bool:
        kind = error.response_type
        if kind in ("BAD_REQUEST_BODY",):
            return route.model is not None
        if kind == "BAD_REQUEST_PARAMETERS":
            return has_required_parameters
        if kind in ("UNAUTHORIZED", "EXPIRED_TOKEN", "AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR"):
            return route.auth is Auth.JWT
        if kind == "INVALID_SIGNATURE":
            return route.auth is Auth.IAM
        if kind == "INVALID_API_KEY":
            return route.api_key_required
        if kind == "QUOTA_EXCEEDED":
            return route.api_key_required  # quotas belong to usage plans, i.e. API keys
        if kind == "REQUEST_TOO_LARGE":
            return route.method in BODY_METHODS
        # UNSUPPORTED_MEDIA_TYPE is for non-proxy integrations (passthrough NEVER) and RESOURCE_NOT_FOUND for
        # paths that do not exist: neither applies to a documented AWS_PROXY route.
        return kind not in ("DEFAULT_4XX", "DEFAULT_5XX", "UNSUPPORTED_MEDIA_TYPE", "RESOURCE_NOT_FOUND")

    by_status: dict[int, list[GatewayError]] = {}
    for error in GATEWAY_ERRORS:
        if error.status is not None and applies(error):
            by_status.setdefault(error.status, []).append(error)
    return by_status


def _error_response(status: int, route: Route, gateway: Sequence[GatewayError]) -> dict[str, Any]:
    sources = [f"the function ({route.backend.value})"] if status in route.errors else []
    sources += [f"API Gateway ({', '.join(e.response_type for e in gateway)})"] if gateway else []
    description = f"{HTTPStatus(status).phrase}: answered by {' or '.join(sources)}."
    if any(e.response_type == "REQUEST_TOO_LARGE" for e in gateway):
        description += f" API Gateway refuses payloads over {GATEWAY_MAX_PAYLOAD}; the function, bodies over 16 KiB."
    response: dict[str, Any] = {
        "description": description,
        "headers": _ref_headers(),
        "content": {JSON: {"schema": _ref("schemas", "Error")}},
    }
    if gateway:
        # What the gateway sends verbatim ($context.requestId is filled in by API Gateway).
        response["content"][JSON]["examples"] = {
            e.response_type: {"value": json.loads(response_template(e).replace("$context.requestId", "<request id>"))}
            for e in gateway
        }
    return response


def _ref_headers() -> dict[str, Any]:
    return {name: _ref("headers", name) for name in SECURITY_HEADERS}


def _responses(route: Route) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for reply in route.replies:
        responses[str(reply.status)] = {
            "description": HTTPStatus(reply.status).phrase,
            "headers": {**_ref_headers(), **{h: _ref("headers", h) for h in reply.headers}},
            "content": {JSON: {"schema": _ref("schemas", reply.model)}},
        }
    gateway = _gateway_errors_for(route)
    for status in sorted(set(route.errors) | set(gateway)):
        responses[str(status)] = _error_response(status, route, gateway.get(status, []))
    defaults = {e.response_type: e for e in GATEWAY_ERRORS if e.status is None}
    for key, kind in (("4XX", "DEFAULT_4XX"), ("5XX", "DEFAULT_5XX")):
        if kind in defaults:
            responses[key] = {
                "description": f"Any other {key} status API Gateway answers ({kind}).",
                "headers": _ref_headers(),
                "content": {JSON: {"schema": _ref("schemas", "Error")}},
            }
    return responses


# ---- operations ---------------------------------------------------------------------------------------------


def _security(route: Route) -> list[dict[str, list[str]]]:
    if route.auth is Auth.IAM:
        return [{SCHEMES["iam"]: []}]
    requirement = {SCHEMES["jwt"]: sorted(route.scopes)}
    if route.api_key_required:
        requirement[SCHEMES["api_key"]] = []
    return [requirement]


def _parameters(route: Route) -> list[dict[str, Any]]:
    located = (
        [("path", name, True) for name in route.path_parameters]
        + [("header", name, True) for name in route.required_headers]
        + [("query", name, False) for name in route.optional_query]
    )
    parameters = []
    for location, name, required in located:
        spec = PARAMETERS.get(name)
        if spec is None:
            raise RouteError(f"route {route.key!r}: parameter {name!r} has no entry in PARAMETERS to document it")
        parameters.append({"name": name, "in": location, "required": required, **spec})
    return parameters


def _access(route: Route) -> str:
    if route.auth is Auth.IAM:
        return "Authentication: AWS Signature Version 4; the caller's IAM policy must allow execute-api:Invoke."
    scopes = ", ".join(f"`{s}`" for s in sorted(route.scopes)) or "none (any valid token)"
    text = f"Authentication: bearer JWT; scopes required: {scopes}."
    if route.api_key_required:
        text += f" An API key ({API_KEY_HEADER}) of a usage plan is required too."
    return text


def _operation(route: Route, models: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    if not route.replies:
        raise RouteError(f"route {route.key!r}: no replies, so the document cannot say what it answers")
    operation: dict[str, Any] = {
        "operationId": operation_id(route),
        "summary": route.description or route.key,
        "description": _access(route),
        "tags": [_tag(route)],
        "security": _security(route),
    }
    parameters = _parameters(route)
    if parameters:
        operation["parameters"] = parameters
    if route.model is not None:
        operation["requestBody"] = {
            # A model with required properties needs a body; otherwise none is fine (the function then uses
            # its defaults, as for an empty object).
            "required": bool(models[route.model].get("required")),
            "content": {JSON: {"schema": _ref("schemas", route.model)}},
        }
    operation["responses"] = _responses(route)
    return operation


# ---- the document -------------------------------------------------------------------------------------------


def _security_schemes() -> dict[str, Any]:
    return {
        SCHEMES["jwt"]: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An RS256 or ES256 access token of the configured issuer and audience, sent as "
                           "`Authorization: Bearer <token>`. Each operation lists the scopes the token must all "
                           "hold (claim `scope` or `scp`). A missing or malformed header is refused at the gateway "
                           "(401); a token lacking a scope gets 403.",
        },
        SCHEMES["api_key"]: {
            "type": "apiKey",
            "in": "header",
            "name": API_KEY_HEADER,
            "description": "An API key attached to a usage plan (never the only credential: a JWT is required "
                           "as well). Missing, unknown or disabled: 403.",
        },
        SCHEMES["iam"]: {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "AWS Signature Version 4 (service execute-api). Unsigned: 403; bad signature: 403.",
            "x-amazon-apigateway-authtype": "awsSigv4",
        },
    }


def _headers() -> dict[str, Any]:
    headers = {
        name: {
            "description": "Security header sent with every response, by the functions and by API Gateway.",
            "required": True,
            "schema": {"type": "string", "enum": [value]},
        }
        for name, value in SECURITY_HEADERS.items()
    }
    headers.update(RESPONSE_HEADERS)
    return headers


def build_document(
    routes: Sequence[Route] = REFERENCE_ROUTES,
    models: Mapping[str, Mapping[str, Any]] = MODELS,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (RouteError naming the route if one cannot be documented)."""
    validate_routes(routes, models)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, models)
    used_models = sorted({r.model for r in routes if r.model})
    schemas: dict[str, Any] = {name: dict(models[name]) for name in used_models}
    overlap = set(schemas) & set(RESPONSE_MODELS)
    if overlap:
        raise RouteError(f"models: {sorted(overlap)} are both request and response models")
    schemas.update(RESPONSE_MODELS)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": API_TITLE,
            "version": API_VERSION,
            "description": "Generated from components/routes.py and components/gateway_responses.py by "
                           "`make openapi`; never edit by hand. Request bodies are validated by API Gateway "
                           "against the schemas named here (JSON Schema draft-04, as they are deployed) before "
                           "the function runs, and again by the function.",
        },
        "servers": [
            {
                "url": "https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}",
                "description": "The stage's execute-api endpoint (disabled when a custom domain is configured).",
                "variables": {
                    "restApiId": {"default": "example", "description": "Stack output api.rest_api_id."},
                    "region": {"default": "eu-west-1"},
                    "stage": {"default": "dev", "description": "The stack's environment name."},
                },
            },
            {
                "url": "https://{customDomain}",
                "description": "The custom domain (stack setting customDomainName), mapped to the stage.",
                "variables": {"customDomain": {"default": "api.example.com"}},
            },
        ],
        "tags": [{"name": tag} for tag in sorted({_tag(r) for r in routes})],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "headers": _headers(),
            "securitySchemes": _security_schemes(),
        },
    }


def render(document: Mapping[str, Any]) -> str:
    """The file's text: stable (insertion order is the builder's), indented, newline-terminated."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def digest(document: Mapping[str, Any]) -> str:
    """Short, stable fingerprint of the document's content."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


# ---- published with the stage: API Gateway documentation parts ---------------------------------------------


@dataclass(frozen=True)
class DocPart:
    """One ``aws.apigateway.DocumentationPart``: where it applies and its (OpenAPI-compliant) properties."""

    key: str
    """Stable, unique name fragment for the resource."""
    location: dict[str, str]
    properties: dict[str, Any]

    @property
    def properties_json(self) -> str:
        return json.dumps(self.properties, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def documentation_parts(routes: Sequence[Route] = REFERENCE_ROUTES, authorizer_name: str = "jwt") -> list[DocPart]:
    """The stage's documentation: the API, the authorizer, each method and its parameters, the request models.

    Only entities the API really has are documented (methods, their declared parameters, models, the
    authorizer), so the export of the stage carries this prose next to what API Gateway itself knows. The
    request bodies are described through their MODEL (the API reference requires a name for a REQUEST_BODY
    location without saying what it names). Works for any valid route table, documented or not: a parameter
    without a PARAMETERS entry simply gets no part.
    """
    parts = [
        DocPart("api", {"type": "API"}, {"info": {
            "title": API_TITLE,
            "version": API_VERSION,
            "description": "The full contract (responses, error bodies, schemas) is openapi.json in the "
                           "repository, generated from the same route table.",
        }}),
        DocPart("authorizer", {"type": "AUTHORIZER", "name": authorizer_name},
                {"description": _security_schemes()[SCHEMES["jwt"]]["description"]}),
    ]
    kinds = {"path": "PATH_PARAMETER", "header": "REQUEST_HEADER", "query": "QUERY_PARAMETER"}
    for route in routes:
        slug = operation_id(route).lower()
        where = {"path": route.path, "method": route.method}
        parts.append(DocPart(slug, {"type": "METHOD", **where}, {
            "operationId": operation_id(route),
            "summary": route.description or route.key,
            "description": _access(route),
            "tags": [_tag(route)],
        }))
        located = ([("path", n) for n in route.path_parameters] + [("header", n) for n in route.required_headers]
                   + [("query", n) for n in route.optional_query])
        for location, name in located:
            if name in PARAMETERS:
                parts.append(DocPart(f"{slug}-{location}-{name}".lower(),
                                     {"type": kinds[location], "name": name, **where},
                                     {"description": PARAMETERS[name]["description"]}))
    for model in sorted({r.model for r in routes if r.model}):
        parts.append(DocPart(f"model-{model.lower()}", {"type": "MODEL", "name": model},
                             {"description": f"Request body schema {model} (JSON Schema draft-04)."}))
    return parts


def documentation_version(parts: Sequence[DocPart]) -> str:
    """The snapshot's version: changes whenever any part does, so the stage always shows the current text."""
    canonical = json.dumps([[p.key, p.location, p.properties] for p in parts], sort_keys=True)
    return f"{API_VERSION}-{hashlib.sha256(canonical.encode()).hexdigest()[:12]}"


# ---- CLI ----------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.openapi", description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=DOCUMENT_FILE, help="where to write (default: openapi.json)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not current; write nothing")
    args = parser.parse_args(argv)
    text = render(build_document())
    if args.check:
        current = args.output.is_file() and args.output.read_text(encoding="utf-8") == text
        if not current:
            print(f"{args.output} is not current: run `make openapi`", file=sys.stderr)
        return 0 if current else 1
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
