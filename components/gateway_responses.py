"""What API Gateway itself answers (pure; no Pulumi): gateway responses and the access-log format.

Gateway responses are the errors produced before (or instead of) the function: failed authorization,
validation, throttling, WAF blocks, integration failures. API Gateway's defaults echo internal messages
("Missing Authentication Token", "Execution failed due to configuration error", validation details that
reveal the schema); these replace them with fixed bodies in the same shape as the functions' errors
(``{"error": {"code", "message"}, "request_id"}``) plus the security headers the functions send.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

# Static header values in gateway responses are single-quoted API Gateway literals. A CSP cannot be set here
# ('none' would need nested quotes), so framing is refused with X-Frame-Options instead.
SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class GatewayError:
    response_type: str
    """API Gateway response type (GatewayResponseType)."""
    status: int | None
    """Status code to send; None keeps API Gateway's for the type (DEFAULT_* cover several codes)."""
    code: str
    """Stable machine-readable error code."""
    message: str
    """Fixed, client-facing message: never an internal detail."""


GATEWAY_ERRORS: tuple[GatewayError, ...] = (
    # The two defaults catch every type not listed below, whatever AWS adds later.
    GatewayError("DEFAULT_4XX", None, "client_error", "The request was rejected"),
    GatewayError("DEFAULT_5XX", None, "internal_error", "Internal server error"),
    GatewayError("BAD_REQUEST_BODY", 400, "invalid_request", "The request body is invalid"),
    GatewayError("BAD_REQUEST_PARAMETERS", 400, "invalid_request", "A required request parameter is missing"),
    GatewayError("UNAUTHORIZED", 401, "unauthorized", "Unauthorized"),
    GatewayError("EXPIRED_TOKEN", 403, "forbidden", "Forbidden"),
    GatewayError("INVALID_SIGNATURE", 403, "forbidden", "Forbidden"),
    GatewayError("ACCESS_DENIED", 403, "forbidden", "Forbidden"),
    GatewayError("INVALID_API_KEY", 403, "forbidden", "Forbidden"),
    # Unknown paths and unsigned IAM requests both land here; one answer for both reveals nothing.
    GatewayError("MISSING_AUTHENTICATION_TOKEN", 403, "forbidden", "Forbidden"),
    GatewayError("WAF_FILTERED", 403, "forbidden", "Forbidden"),
    GatewayError("RESOURCE_NOT_FOUND", 404, "not_found", "Not found"),
    GatewayError("REQUEST_TOO_LARGE", 413, "payload_too_large", "The request is too large"),
    GatewayError("UNSUPPORTED_MEDIA_TYPE", 415, "unsupported_media_type", "Unsupported media type"),
    GatewayError("THROTTLED", 429, "throttled", "Too many requests"),
    GatewayError("QUOTA_EXCEEDED", 429, "quota_exceeded", "Quota exceeded"),
    GatewayError("AUTHORIZER_FAILURE", 500, "internal_error", "Internal server error"),
    GatewayError("AUTHORIZER_CONFIGURATION_ERROR", 500, "internal_error", "Internal server error"),
    GatewayError("API_CONFIGURATION_ERROR", 500, "internal_error", "Internal server error"),
    GatewayError("INTEGRATION_FAILURE", 502, "bad_gateway", "Bad gateway"),
    GatewayError("INTEGRATION_TIMEOUT", 504, "timeout", "The request timed out"),
)


def response_template(error: GatewayError) -> str:
    """Mapping template of the body; $context.requestId is the id clients quote to support."""
    return json.dumps(
        {"error": {"code": error.code, "message": error.message}, "request_id": "$context.requestId"},
        separators=(",", ":"),
    )


def response_parameters() -> dict[str, str]:
    return {f"gatewayresponse.header.{name}": f"'{value}'" for name, value in SECURITY_HEADERS.items()}


# Access-log format: one JSON object per request. requestId ties a line to the execution log and to the
# client's error body; nothing secret is logged (no headers, no bodies, no query strings).
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integration.status",
    "integrationError": "$context.integration.error",
    "principalId": "$context.authorizer.principalId",
    "authorizerError": "$context.authorizer.error",
    "caller": "$context.identity.caller",
    "apiKeyId": "$context.identity.apiKeyId",
    "wafStatus": "$context.waf.status",
    "errorType": "$context.error.responseType",
    "xrayTraceId": "$context.xrayTraceId",
}


def access_log_format() -> str:
    return json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))
