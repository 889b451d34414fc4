"""API Gateway proxy responses: JSON, security headers, and errors that reveal nothing internal."""

from __future__ import annotations

import json
from typing import Any

SECURITY_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    # A JSON API is never meant to be framed or to load anything. X-Frame-Options as well: the gateway's own
    # responses can only send that one (components/gateway_responses.py), and the contract promises callers
    # the same security headers whoever answers.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class HttpError(Exception):
    """A client-facing error; its message is written for the client and must not contain internals."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def bad_request(field: str, message: str) -> HttpError:
    return HttpError(400, "invalid_request", message, field=field)


def response(
    status: int, body: Any, request_id: str | None = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    all_headers = dict(SECURITY_HEADERS)
    if request_id:
        all_headers["X-Request-Id"] = request_id
    if headers:
        all_headers.update(headers)
    return {
        "statusCode": status,
        "headers": all_headers,
        "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        "isBase64Encoded": False,
    }


def error_response(error: HttpError, request_id: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.field is not None:
        payload["field"] = error.field
    return response(error.status, {"error": payload, "request_id": request_id}, request_id, error.headers)


def internal_error_response(request_id: str | None) -> dict[str, Any]:
    """The only thing a client learns about an unexpected failure is the id to quote to support."""
    return response(
        500,
        {"error": {"code": "internal_error", "message": "Internal server error"}, "request_id": request_id},
        request_id,
    )


def request_id_of(event: dict[str, Any], context: Any) -> str | None:
    rid = getattr(context, "aws_request_id", None)
    if isinstance(rid, str) and rid:
        return rid
    request_context = event.get("requestContext") if isinstance(event, dict) else None
    if isinstance(request_context, dict) and isinstance(request_context.get("requestId"), str):
        return str(request_context["requestId"])
    return None


def header(event: dict[str, Any], name: str) -> str | None:
    """Case-insensitive header lookup (API Gateway passes headers as the client spelled them)."""
    headers = event.get("headers") or {}
    if not isinstance(headers, dict):
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value if isinstance(value, str) else None
    return None
