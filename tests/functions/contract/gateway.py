"""An in-process model of the deployed REST API's request path, for contract tests (read README.md first).

HTTP request in (WSGI, so Schemathesis can call it in-process), then what API Gateway does for this API, built
from the same route table, models and gateway responses the stack deploys:

1. match a resource and method (none: MISSING_AUTHENTICATION_TOKEN, 403);
2. authenticate: TOKEN authorizer (identity source header + validation expression checked before the real
   authorizer function runs; its IAM policy evaluated for the method ARN), or SigV4 for AWS_IAM routes; then
   the API key of API-key routes;
3. validate the request (the validator checks body and parameters): required parameters present and not blank,
   the body of a matching content type against its draft-04 model;
4. build the Lambda proxy event (with the authorizer context and the caller's identity), call the real
   handler, and turn its proxy response (or its failure) into HTTP.

Every rejection is the deployed gateway response (status, template, security headers). What is modelled and
what only the real gateway proves is listed in README.md; keep this at the Lambda event interface so it is
independent of how the functions are written inside.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

import jsonschema
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from components.api import BEARER_JWT
from components.gateway_responses import GATEWAY_ERRORS, SECURITY_HEADERS, GatewayError, response_template
from components.routes import MODELS, Auth, Backend, Route

JSON = "application/json"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
# Statuses API Gateway gives response types this API does not configure (they then use DEFAULT_4XX's template).
AWS_DEFAULT_STATUS = {"INCOMPLETE_SIGNATURE": 403}
SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/(?P<service>[a-z-]+)"
    r"/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?Signature=(?P<signature>[0-9a-f]{64})"
)
_PROXY_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    """The path as sent, percent-encoded (no query)."""
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    host: str = "localhost"

    def header(self, name: str) -> str | None:
        """The last value of a header (names are case-insensitive)."""
        found = [value for key, value in self.headers if key.lower() == name.lower()]
        return found[-1] if found else None


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class StageIdentity:
    region: str = "eu-west-1"
    account_id: str = "123456789012"
    api_id: str = "abc123defg"
    stage: str = "dev"

    def method_arn(self, route: Route) -> str:
        return f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/{self.stage}/{route.arn_path}"


@dataclass(frozen=True)
class IamUser:
    """An IAM principal whose identity policy allows execute-api:Invoke on the stage (the test's operator)."""

    access_key: str
    secret_key: str
    user_arn: str


class Rejected(Exception):
    """The gateway answers with one of its gateway responses."""

    def __init__(self, response_type: str) -> None:
        super().__init__(response_type)
        self.response_type = response_type


class LambdaContext:
    """What the Lambda runtime passes as ``context`` (the attributes the functions may read)."""

    def __init__(self, function_name: str) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = function_name
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@dataclass
class RestApiGateway:
    """The model; ``handle`` is the request path, ``__call__`` the WSGI face of it."""

    routes: Sequence[Route]
    authorizer: Handler
    backends: Mapping[Backend, Handler]
    api_keys: Mapping[str, str]
    """Enabled API keys attached to a usage plan of the stage: value -> API key id."""
    iam_users: Mapping[str, IamUser]
    """Access key id -> principal."""
    models: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: dict(MODELS))
    stage: StageIdentity = field(default_factory=StageIdentity)
    clock: Callable[[], float] = time.time
    authorizer_calls: int = 0
    backend_calls: Counter[str] = field(default_factory=Counter)
    """Invocations per route key: what reached a function."""

    def __post_init__(self) -> None:
        self._errors = {e.response_type: e for e in GATEWAY_ERRORS}
        self._validators = {name: jsonschema.Draft4Validator(schema) for name, schema in self.models.items()}

    # ---- the request path -------------------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        try:
            route, path_parameters = self._match(request)
            context, identity = self._authenticate(route, request)
            self._validate(route, request, path_parameters)
            event = self._proxy_event(route, request, path_parameters, context, identity, request_id)
            return self._integrate(route, event, request_id)
        except Rejected as rejected:
            return self._gateway_response(rejected.response_type, request_id)

    def _match(self, request: HttpRequest) -> tuple[Route, dict[str, str]]:
        # Segments are matched as sent and decoded afterwards, so an encoded '/' stays inside its parameter.
        segments = [s for s in request.path.split("/") if s != ""] if request.path.startswith("/") else None
        if segments is None:
            raise Rejected("MISSING_AUTHENTICATION_TOKEN")
        for route in self.routes:
            if route.method != request.method or len(route.segments) != len(segments):
                continue
            parameters: dict[str, str] = {}
            for template, actual in zip(route.segments, segments, strict=True):
                if template.startswith("{"):
                    parameters[template.strip("{}")] = unquote(actual)
                elif template != unquote(actual):
                    break
            else:
                return route, parameters
        # An unknown path and an unknown method on a known path get the same answer in a REST API.
        raise Rejected("MISSING_AUTHENTICATION_TOKEN")

    def _authenticate(self, route: Route, request: HttpRequest) -> tuple[dict[str, Any], dict[str, Any]]:
        identity: dict[str, Any] = {"sourceIp": "203.0.113.9", "userAgent": request.header("user-agent")}
        if route.auth is Auth.IAM:
            identity.update(self._sigv4(route, request))
            return {}, identity
        context = self._token_authorizer(route, request)
        if route.api_key_required:
            key = request.header("x-api-key")
            key_id = self.api_keys.get(key or "")
            if key_id is None:
                raise Rejected("INVALID_API_KEY")
            identity.update({"apiKey": key, "apiKeyId": key_id})
        return context, identity

    def _token_authorizer(self, route: Route, request: HttpRequest) -> dict[str, Any]:
        token = request.header("authorization")
        # The identity source must be present and match the validation expression, or the function never runs.
        if not token or re.fullmatch(BEARER_JWT, token) is None:
            raise Rejected("UNAUTHORIZED")
        self.authorizer_calls += 1
        event = {"type": "TOKEN", "authorizationToken": token, "methodArn": self.stage.method_arn(route)}
        try:
            output = self.authorizer(event, LambdaContext("authorizer"))
        except Exception as error:  # API Gateway answers 401 for exactly this message, 500 otherwise
            raise Rejected("UNAUTHORIZED" if str(error) == "Unauthorized" else "AUTHORIZER_FAILURE") from None
        decision = _policy_decision(output, self.stage.method_arn(route))
        if decision is None:
            raise Rejected("AUTHORIZER_CONFIGURATION_ERROR")
        if not decision:
            raise Rejected("ACCESS_DENIED")
        context = {key: _context_value(value) for key, value in (output.get("context") or {}).items()}
        return {"principalId": output["principalId"], **context, "integrationLatency": 0}

    def _sigv4(self, route: Route, request: HttpRequest) -> dict[str, Any]:
        header = request.header("authorization")
        if not header:
            raise Rejected("MISSING_AUTHENTICATION_TOKEN")
        parsed = SIGV4.fullmatch(header)
        amz_date = request.header("x-amz-date")
        if parsed is None or amz_date is None:
            raise Rejected("INCOMPLETE_SIGNATURE")
        user = self.iam_users.get(parsed["key"])
        if (user is None or parsed["service"] != "execute-api" or parsed["region"] != self.stage.region
                or not amz_date.startswith(parsed["date"])):
            raise Rejected("INVALID_SIGNATURE")
        expected = sigv4_signature(request, user, self.stage.region, amz_date, parsed["signed"].split(";"))
        if expected != parsed["signature"]:
            raise Rejected("INVALID_SIGNATURE")
        # The caller's identity policy allows the route (not modelled: IAM evaluation itself).
        return {"accessKey": user.access_key, "userArn": user.user_arn, "caller": user.user_arn.rsplit("/", 1)[-1],
                "user": user.user_arn.rsplit("/", 1)[-1], "accountId": self.stage.account_id}

    def _validate(self, route: Route, request: HttpRequest, path_parameters: Mapping[str, str]) -> None:
        for name in route.path_parameters:
            if not path_parameters.get(name, "").strip():
                raise Rejected("BAD_REQUEST_PARAMETERS")
        for name in route.required_headers:
            value = request.header(name)
            if value is None or not value.strip():
                raise Rejected("BAD_REQUEST_PARAMETERS")
        if route.model is None or not request.body:
            return  # an empty payload is passed on unvalidated (see README)
        content_type = request.header("content-type") or JSON  # API Gateway assumes JSON without a Content-Type
        if content_type.split(";", 1)[0].strip().lower() != JSON:
            return  # no model for this content type: API Gateway does not validate the body
        try:
            body = json.loads(request.body.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise Rejected("BAD_REQUEST_BODY") from None
        if not self._validators[route.model].is_valid(body):
            raise Rejected("BAD_REQUEST_BODY")

    def _proxy_event(
        self, route: Route, request: HttpRequest, path_parameters: dict[str, str], authorizer: dict[str, Any],
        identity: dict[str, Any], request_id: str,
    ) -> dict[str, Any]:
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers:
            multi_headers.setdefault(name, []).append(value)
        multi_query: dict[str, list[str]] = {}
        for name, value in parse_qsl(request.query, keep_blank_values=True):
            multi_query.setdefault(name, []).append(value)
        text_body = request.body.decode("utf-8", errors="replace") if request.body else None
        now = self.clock()
        request_context: dict[str, Any] = {
            "resourceId": hashlib.sha256(route.path.encode()).hexdigest()[:6],
            "resourcePath": route.path,
            "httpMethod": route.method,
            "extendedRequestId": request_id[:16],
            "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{self.stage.stage}{request.path}",
            "accountId": self.stage.account_id,
            "protocol": "HTTP/1.1",
            "stage": self.stage.stage,
            "domainPrefix": self.stage.api_id,
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None, "accountId": None, "cognitoIdentityId": None, "caller": None,
                "sourceIp": None, "principalOrgId": None, "accessKey": None, "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None, "userArn": None, "userAgent": None, "user": None,
                "apiKey": None, "apiKeyId": None, **identity,
            },
            "domainName": f"{self.stage.api_id}.execute-api.{self.stage.region}.amazonaws.com",
            "apiId": self.stage.api_id,
        }
        if authorizer:
            request_context["authorizer"] = authorizer
        return {
            "resource": route.path,
            "path": request.path,
            "httpMethod": request.method,
            "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_parameters or None,
            "stageVariables": None,
            "requestContext": request_context,
            "body": text_body,
            "isBase64Encoded": False,
        }

    def _integrate(self, route: Route, event: dict[str, Any], request_id: str) -> HttpResponse:
        self.backend_calls[route.key] += 1
        try:
            output = self.backends[route.backend](event, LambdaContext(route.backend.value))
        except Exception:  # a function error is a 502, whatever it was
            raise Rejected("INTEGRATION_FAILURE") from None
        if not _is_proxy_response(output):
            raise Rejected("INTEGRATION_FAILURE")  # "Malformed Lambda proxy response"
        headers: list[tuple[str, str]] = list((output.get("headers") or {}).items())
        for name, values in (output.get("multiValueHeaders") or {}).items():
            headers.extend((name, value) for value in values)
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("Content-Type", JSON))
        headers += [("x-amzn-RequestId", request_id), ("x-amz-apigw-id", request_id[:16])]
        body = output.get("body") or ""
        data = base64.b64decode(body) if output.get("isBase64Encoded") else body.encode("utf-8")
        return HttpResponse(output["statusCode"], headers, data)

    def _gateway_response(self, response_type: str, request_id: str) -> HttpResponse:
        error = self._errors.get(response_type) or self._errors[
            "DEFAULT_5XX" if AWS_DEFAULT_STATUS.get(response_type, 500) >= 500 else "DEFAULT_4XX"
        ]
        status = error.status or AWS_DEFAULT_STATUS[response_type]
        body = response_template(_as(error, response_type)).replace("$context.requestId", request_id)
        headers = [("Content-Type", JSON), *SECURITY_HEADERS.items(), ("x-amzn-RequestId", request_id),
                   ("x-amzn-ErrorType", response_type)]
        return HttpResponse(status, headers, body.encode())

    # ---- WSGI -------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        response = self.handle(request_from_environ(environ))
        start_response(f"{response.status} {_reason(response.status)}", response.headers)
        return [response.body]


def _as(error: GatewayError, response_type: str) -> GatewayError:
    return error if error.response_type == response_type else GatewayError(response_type, None, error.code,
                                                                            error.message)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Jackson (API Gateway's parser) refuses NaN/Infinity by default


def _context_value(value: Any) -> Any:
    # A REST API hands authorizer context values to a proxy integration as strings.
    return str(value).lower() if isinstance(value, bool) else str(value)


def _policy_decision(output: Any, method_arn: str) -> bool | None:
    """True: allowed; False: denied; None: not a valid authorizer response (AUTHORIZER_CONFIGURATION_ERROR)."""
    if not isinstance(output, dict) or not isinstance(output.get("principalId"), str):
        return None
    document = output.get("policyDocument")
    statements = document.get("Statement") if isinstance(document, dict) else None
    if not isinstance(statements, list):
        return None
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            return None
        actions = _as_list(statement.get("Action"))
        resources = _as_list(statement.get("Resource"))
        if not any(_arn_matches(a, "execute-api:Invoke") for a in actions):
            continue
        if any(_arn_matches(pattern, method_arn) for pattern in resources):
            if statement["Effect"] == "Deny":
                return False  # an explicit Deny wins
            allowed = True
    return allowed


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _arn_matches(pattern: str, value: str) -> bool:
    """IAM wildcards: '*' any run of characters (including '/'), '?' one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _is_proxy_response(output: Any) -> bool:
    if not isinstance(output, dict) or set(output) - _PROXY_RESPONSE_KEYS:
        return False
    status = output.get("statusCode")
    headers = output.get("headers") or {}
    multi = output.get("multiValueHeaders") or {}
    body = output.get("body")
    return (
        isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599
        and isinstance(headers, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
        and isinstance(multi, dict)
        and all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in multi.values())
        and (body is None or isinstance(body, str))
        and isinstance(output.get("isBase64Encoded", False), bool)
        and (not output.get("isBase64Encoded") or _is_base64(body or ""))
    )


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# ---- SigV4: the same algorithm signs (client) and verifies (gateway) -------------------------------------------


def sigv4_signature(request: HttpRequest, user: IamUser, region: str, amz_date: str, signed: Sequence[str]) -> str:
    """The SigV4 signature of ``request`` over the headers named in ``signed`` (botocore's implementation)."""
    url = f"https://{request.host}{request.path}" + (f"?{request.query}" if request.query else "")
    headers = {name: value for name, value in request.headers if name.lower() in signed}
    aws_request = AWSRequest(method=request.method, url=url, headers=headers, data=request.body)
    aws_request.context["timestamp"] = amz_date
    auth = SigV4Auth(Credentials(user.access_key, user.secret_key), "execute-api", region)
    canonical = auth.canonical_request(aws_request)
    return str(auth.signature(auth.string_to_sign(aws_request, canonical), aws_request))


def sign(request: HttpRequest, user: IamUser, region: str, now: datetime | None = None) -> HttpRequest:
    """What a SigV4 client (botocore, awscurl, requests-aws4auth) adds before sending."""
    amz_date = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    headers = [*request.headers, ("X-Amz-Date", amz_date)]
    if not any(name.lower() == "host" for name, _ in headers):
        headers.append(("Host", request.host))
    unsigned = HttpRequest(request.method, request.path, request.query, tuple(headers), request.body, request.host)
    signed = sorted({name.lower() for name, _ in headers if name.lower() in ("host", "x-amz-date", "content-type")})
    signature = sigv4_signature(unsigned, user, region, amz_date, signed)
    authorization = (f"AWS4-HMAC-SHA256 Credential={user.access_key}/{amz_date[:8]}/{region}/execute-api/aws4_request,"
                     f" SignedHeaders={';'.join(signed)}, Signature={signature}")
    return HttpRequest(request.method, request.path, request.query, (*headers, ("Authorization", authorization)),
                       request.body, request.host)


# ---- WSGI <-> HttpRequest --------------------------------------------------------------------------------------


def request_from_environ(environ: Mapping[str, Any]) -> HttpRequest:
    headers: list[tuple[str, str]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").title(), value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append((key.replace("_", "-").title(), value))
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    # WSGI strings are latin-1 decoded bytes; the raw URI keeps the client's percent-encoding.
    path = raw.split("?", 1)[0].encode("latin-1").decode("utf-8", errors="replace")
    return HttpRequest(environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), tuple(headers), body,
                       environ.get("HTTP_HOST", "localhost"))


class SigningClient:
    """WSGI middleware on the caller's side: signs each request with SigV4 before the gateway sees it."""

    def __init__(self, gateway: RestApiGateway, user: IamUser, region: str) -> None:
        self.gateway, self.user, self.region = gateway, user, region

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        response = self.gateway.handle(sign(request_from_environ(environ), self.user, self.region))
        start_response(f"{response.status} {_reason(response.status)}", response.headers)
        return [response.body]
