"""API Gateway policies (REST APIs, and HTTP/WebSocket APIs of apigatewayv2): authorization, throttling,
usage plans, WAF, logging, request validation, TLS.

Every rule reads each form the same thing can take: a REST Method and a v2 Route; an API built from an
OpenAPI ``body`` (no Method/Route resources exist then) and a v2 "quick create" API (``target``: AWS adds a
catch-all route and an auto-deployed ``$default`` stage that no resource of the stack describes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _openapi
from . import _tokens as T
from ._meta import NotApplicable, boolean, integer, resource_policy, stack_policy, string_list
from ._model import Resource, Stack
from ._values import UNKNOWN, as_bool, as_list, as_number, get, is_set

Finding = tuple[str, str | None]


def _stage_method_settings(stack: Stack, stage: Resource) -> list[Resource]:
    """MethodSettings that apply to ``stage`` with method path ``*/*`` (the whole stage)."""
    found = []
    for settings in stack.referrers(stage, [T.API_METHOD_SETTINGS], "stageName", ["stageName"]):
        path = settings.get("methodPath")
        if path in ("*/*", UNKNOWN):
            found.append(settings)
    return found


def _v2_api(stack: Stack, res: Resource) -> Resource | None:
    """The apigatewayv2 Api a Route/Stage belongs to, when the stack declares it."""
    apis = stack.targets_of(res, "apiId", [T.APIGWV2_API], ["id"])
    return apis[0] if apis else None


def _quick_create(api: Resource) -> bool:
    """An HTTP API made by "quick create": AWS adds a catch-all route (no authorizer) and a $default stage."""
    return is_set(api.get("target"))


@resource_policy(
    name="apigateway-method-authorization",
    description="API Gateway methods must require authorization (Lambda authorizer, IAM or Cognito).",
    severity=Severity.HIGH,
    category="exposure",
    controls=("AwsSolutions-APIG4", "AwsSolutions-COG4"),
    remediation="Set `authorization` to CUSTOM (with `authorizer_id`), AWS_IAM or COGNITO_USER_POOLS. "
    "Only CORS preflight (OPTIONS) or routes listed in `exemptMethodNames` may use NONE.",
    resource_types=(T.API_METHOD,),
    guarantee=True,
    config={
        "unauthenticatedHttpMethods": string_list(
            "HTTP methods that may use authorization NONE (CORS preflight).", ["OPTIONS"]
        ),
        "exemptMethodNames": string_list(
            "Pulumi resource names of Method resources deliberately public (e.g. a health check).", []
        ),
    },
)
def apigateway_method_authorization(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    authorization = r.get("authorization")
    if authorization is UNKNOWN or (isinstance(authorization, str) and authorization.upper() != "NONE"):
        return
    http_method = r.get("httpMethod")
    allowed = {m.upper() for m in cfg["unauthenticatedHttpMethods"]}
    if isinstance(http_method, str) and http_method.upper() in allowed:
        return
    if r.name in cfg["exemptMethodNames"]:
        return
    shown = authorization if authorization is not None else "absent"
    yield (
        f"The API Gateway method {r.label} ({http_method}) has authorization {shown}; "
        "every non-preflight method must use CUSTOM, AWS_IAM or COGNITO_USER_POOLS."
    )


_ROUTE_AUTH_TYPES = ("AWS_IAM", "CUSTOM", "JWT")
_HTTP_ROUTE_KEY = re.compile(r"^[A-Za-z]+ /")


@stack_policy(
    name="apigateway-route-authorization",
    description="HTTP and WebSocket API routes, and the operations of APIs defined by an OpenAPI body (REST "
    "or HTTP), must require authorization.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("APIGateway.8", "CKV_AWS_309", "AwsSolutions-APIG4"),
    remediation="Set `authorization_type` JWT, CUSTOM or AWS_IAM (with `authorizer_id`) on every "
    "`aws.apigatewayv2.Route` (for WebSocket APIs on `$connect`); in an OpenAPI `body` give every "
    "operation (or the document) a `security` requirement whose schemes are API Gateway authorizers "
    "(`x-amazon-apigateway-authorizer`) or IAM (`x-amazon-apigateway-authtype: awsSigv4`); do not "
    "quick-create an HTTP API (`target`), whose catch-all route has no authorizer.",
    guarantee=True,
    config={
        "unauthenticatedHttpMethods": string_list(
            "HTTP methods that may be anonymous (CORS preflight).", ["OPTIONS"]),
        "exemptRoutes": string_list(
            "Route keys or OpenAPI operations ('GET /health') deliberately public.", []),
    },
    preview_note="An OpenAPI body built from outputs (integration ARNs) is unknown at preview and checked "
    "at update; routes of an API outside the stack are judged by their route key.",
)
def apigateway_route_authorization(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    exempt_methods = {m.upper() for m in cfg["unauthenticatedHttpMethods"]}
    exempt = set(cfg["exemptRoutes"])
    for route in stack.of_type(T.APIGWV2_ROUTE):
        problem = _route_problem(stack, route, exempt_methods, exempt)
        if problem:
            yield problem, route.urn
    for api in stack.of_type(T.APIGWV2_API, T.API_REST_API):
        if api.type == T.APIGWV2_API and _quick_create(api):
            yield (f"The HTTP API {api.label} is quick-created (target set): its catch-all route has no "
                   "authorizer.", api.urn)
        try:
            document = _openapi.load(api.get("body"))
        except _openapi.OpenApiError as exc:
            yield f"The body of {api.label} {exc}.", api.urn
            continue
        if document is None:
            continue
        open_ops = [op.label for op in _openapi.unauthenticated(document, exempt_methods) if op.label not in exempt]
        if open_ops:
            yield (f"The OpenAPI body of {api.label} lets anonymous callers reach {', '.join(open_ops)} (no "
                   "security requirement backed by an authorizer or IAM).", api.urn)


def _route_problem(stack: Stack, route: Resource, exempt_methods: set[str], exempt: set[str]) -> str | None:
    auth = route.get("authorizationType")
    key = route.get("routeKey")
    if auth is UNKNOWN or (isinstance(auth, str) and auth.upper() in _ROUTE_AUTH_TYPES):
        return None
    if not isinstance(key, str) or key in exempt or key.split(" ")[0].upper() in exempt_methods:
        return None
    api = _v2_api(stack, route)
    protocol = api.get("protocolType") if api is not None else None
    # WebSocket APIs authorize on $connect only.  With the API outside the stack, an HTTP route key reads
    # "METHOD /path"; anything else is taken as WebSocket ("$default" is ambiguous and given the benefit).
    websocket = protocol == "WEBSOCKET" or (protocol is None and not _HTTP_ROUTE_KEY.match(key))
    if websocket and key != "$connect":
        return None
    return (f"The API Gateway v2 route {route.label} ({key}) has authorization type {auth or 'NONE (absent)'}; "
            "use JWT, CUSTOM or AWS_IAM.")


@stack_policy(
    name="apigateway-stage-throttling",
    description="Every API Gateway stage (REST, HTTP, WebSocket) must have stage-wide throttling within the "
    "configured bounds.",
    severity=Severity.HIGH,
    category="resilience",
    controls=("APIGWDefaultThrottling",),
    remediation="REST: add an `aws.apigateway.MethodSettings` with `method_path='*/*'` for the stage and set "
    "`settings.throttling_rate_limit` and `settings.throttling_burst_limit` within the configured limits. "
    "HTTP/WebSocket: set `default_route_settings.throttling_rate_limit` / `throttling_burst_limit` on the "
    "`aws.apigatewayv2.Stage` (and keep `route_settings` within the limits); do not quick-create the API.",
    guarantee=True,
    config={
        "maxRateLimit": integer("Highest allowed steady-state rate limit (requests/s).", 1000, 1),
        "maxBurstLimit": integer("Highest allowed burst limit (requests).", 2000, 1),
    },
)
def apigateway_stage_throttling(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    limits = (("throttlingRateLimit", cfg["maxRateLimit"]), ("throttlingBurstLimit", cfg["maxBurstLimit"]))
    for stage in stack.of_type(T.API_STAGE):
        settings_list = _stage_method_settings(stack, stage)
        if not settings_list:
            yield (
                f"The API Gateway stage {stage.label} has no MethodSettings for method path '*/*', "
                "so it has no stage-wide throttling.",
                stage.urn,
            )
            continue
        problems: list[str] = []
        for ms in settings_list:
            bad = _throttling_problems(ms.get, "settings.", limits)
            if not bad:
                break
            problems.append(f"MethodSettings '{ms.name}': " + "; ".join(bad))
        else:
            yield (f"The API Gateway stage {stage.label} is not throttled correctly: " + " | ".join(problems) + ".",
                   stage.urn)
    for stage in stack.of_type(T.APIGWV2_STAGE):
        bad = _throttling_problems(stage.get, "defaultRouteSettings.", limits)
        for index, route in enumerate(_route_settings(stage)):
            bad += [f"routeSettings[{index}] ({route.get('routeKey')}): {p}"
                    for p in _throttling_problems(route.get, "", limits, absent_ok=True)]
        if bad:
            yield f"The API Gateway v2 stage {stage.label} is not throttled correctly: {'; '.join(bad)}.", stage.urn
    for api in stack.of_type(T.APIGWV2_API):
        if _quick_create(api):
            yield (f"The HTTP API {api.label} is quick-created (target set): its $default stage has no "
                   "throttling; declare an apigatewayv2 Stage with defaultRouteSettings throttling instead.", api.urn)


def _route_settings(stage: Resource) -> list[dict[str, Any]]:
    routes = stage.get("routeSettings")
    return [r for r in routes if isinstance(r, dict)] if isinstance(routes, list) else []


def _throttling_problems(read: Callable[[str], Any], prefix: str, limits: tuple[tuple[str, int], ...],
                         absent_ok: bool = False) -> list[str]:
    """Throttling limits read as ``read(prefix + key)`` that are absent/disabled (<= 0) or above the maximum
    (absent is fine for a per-route override, which then inherits the stage's limits)."""
    bad = []
    for key, maximum in limits:
        path = prefix + key
        value = read(path)
        if value is UNKNOWN or (value is None and absent_ok):
            continue
        number = as_number(value)
        if number is None or number <= 0:
            bad.append(f"{path} is {'absent' if value is None else value} (throttling disabled)")
        elif number > maximum:
            bad.append(f"{path} is {number:g} (above the maximum {maximum})")
    return bad


@resource_policy(
    name="apigateway-usage-plan-limits",
    description="API Gateway usage plans must set throttle and quota limits and name the stages they apply to.",
    severity=Severity.HIGH,
    category="resilience",
    controls=("APIGWDefaultThrottling",),
    remediation="Set `throttle_settings` (rate_limit, burst_limit > 0), `quota_settings` (limit > 0, period) "
    "and `api_stages` on the usage plan.",
    resource_types=(T.API_USAGE_PLAN,),
    guarantee=True,
)
def apigateway_usage_plan_limits(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    missing = []
    for path in ("throttleSettings.rateLimit", "throttleSettings.burstLimit", "quotaSettings.limit"):
        value = r.get(path)
        if value is UNKNOWN:
            continue
        number = as_number(value)
        if number is None or number <= 0:
            missing.append(path)
    if not is_set(r.get("quotaSettings.period")):
        missing.append("quotaSettings.period")
    if not is_set(r.get("apiStages")):
        missing.append("apiStages")
    if missing:
        yield f"The API Gateway usage plan {r.label} must set {', '.join(missing)} (positive limits)."


@stack_policy(
    name="apigateway-api-key-usage-plan",
    description="Every API Gateway API key must be attached to a usage plan.",
    severity=Severity.HIGH,
    category="resilience",
    controls=("APIGWDefaultThrottling",),
    remediation="Create an `aws.apigateway.UsagePlanKey` with `key_id=api_key.id`, `key_type='API_KEY'` and "
    "the usage plan's id.",
    guarantee=True,
)
def apigateway_api_key_usage_plan(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    for key in stack.of_type(T.API_KEY):
        if not stack.referrers(key, [T.API_USAGE_PLAN_KEY], "keyId", ["id"]):
            yield (f"The API Gateway API key {key.label} is not attached to any usage plan (no UsagePlanKey).",
                   key.urn)


@stack_policy(
    name="apigateway-stage-waf",
    description="Every API Gateway stage must be associated with a regional WAFv2 web ACL.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("APIGateway.4", "AwsSolutions-APIG3"),
    remediation="Create an `aws.wafv2.WebAclAssociation` with `resource_arn=stage.arn` and the ARN of a "
    "`aws.wafv2.WebAcl` whose scope is REGIONAL.",
    guarantee=True,
    preview_note="The stage ARN is unknown at preview; the association is linked through the property "
    "dependencies of `resourceArn`.",
)
def apigateway_stage_waf(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    acls = stack.of_type(T.WAF_WEB_ACL)
    for stage in stack.of_type(T.API_STAGE):
        associations = stack.referrers(stage, [T.WAF_ASSOCIATION], "resourceArn", ["arn"])
        if not associations:
            yield (f"The API Gateway stage {stage.label} has no WAFv2 web ACL association "
                   "(no WebAclAssociation whose resourceArn is the stage ARN).", stage.urn)
            continue
        for assoc in associations:
            for acl in acls:
                if stack.refers_to(assoc, "webAclArn", acl, ["arn"]) and acl.get("scope") not in ("REGIONAL", UNKNOWN):
                    yield (f"The web ACL {acl.label} associated with stage {stage.label} has scope "
                           f"{acl.get('scope')}; API Gateway stages need a REGIONAL web ACL.", acl.urn)


@resource_policy(
    name="apigateway-stage-access-logging",
    description="API Gateway stages (REST, HTTP, WebSocket) must write access logs (destination and format).",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("AwsSolutions-APIG1", "APIGateway.9", "CKV_AWS_76", "CKV_AWS_95"),
    remediation="Set `access_log_settings` with `destination_arn` (a CloudWatch log group ARN) and `format` on "
    "every `aws.apigateway.Stage` and `aws.apigatewayv2.Stage`; do not quick-create an HTTP API (`target`), "
    "whose auto-deployed $default stage has no access logs.",
    resource_types=(T.API_STAGE, T.APIGWV2_STAGE, T.APIGWV2_API),
    guarantee=True,
)
def apigateway_stage_access_logging(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == T.APIGWV2_API:
        if _quick_create(r):
            yield (f"The HTTP API {r.label} is quick-created (target set): its auto-deployed $default stage "
                   "writes no access logs.")
        return
    missing = [p for p in ("destinationArn", "format") if not is_set(r.get(f"accessLogSettings.{p}"))]
    if missing:
        yield f"The API Gateway stage {r.label} must set accessLogSettings.{' and accessLogSettings.'.join(missing)}."


@stack_policy(
    name="apigateway-execution-logging",
    description="API Gateway REST and WebSocket stages must have execution logging (ERROR or INFO) for all "
    "methods and routes; no per-method or per-route setting may switch it off.",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("APIGateway.1", "AwsSolutions-APIG6"),
    remediation="In the stage's `*/*` MethodSettings set `settings.logging_level` to ERROR or INFO, and give "
    "`aws.apigateway.Account` a `cloudwatch_role_arn` (the account-level CloudWatch role); on WebSocket "
    "stages set `default_route_settings.logging_level`. Never set `logging_level='OFF'` for one method "
    "(MethodSettings with another `method_path`) or route (`route_settings`).",
    preview_note="The account's CloudWatch role can only be checked when this stack owns "
    "`aws.apigateway.Account`. HTTP APIs have no execution logs (access logs only).",
)
def apigateway_execution_logging(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    for stage in stack.of_type(T.API_STAGE):
        levels = [ms.get("settings.loggingLevel") for ms in _stage_method_settings(stack, stage)]
        if not any(level in ("ERROR", "INFO", UNKNOWN) for level in levels):
            yield (f"The API Gateway stage {stage.label} has no '*/*' MethodSettings with settings.loggingLevel "
                   "ERROR or INFO.", stage.urn)
        for ms in stack.referrers(stage, [T.API_METHOD_SETTINGS], "stageName", ["stageName"]):
            if ms.get("methodPath") not in ("*/*", UNKNOWN) and ms.get("settings.loggingLevel") == "OFF":
                yield (f"The MethodSettings {ms.label} switch execution logging OFF for {ms.get('methodPath')} "
                       f"of stage {stage.label}.", ms.urn)
    for stage in stack.of_type(T.APIGWV2_STAGE):
        api = _v2_api(stack, stage)
        if api is None or api.get("protocolType") != "WEBSOCKET":
            continue
        if stage.get("defaultRouteSettings.loggingLevel") not in ("ERROR", "INFO", UNKNOWN):
            yield (f"The WebSocket stage {stage.label} must set defaultRouteSettings.loggingLevel to ERROR or INFO "
                   "(default OFF).", stage.urn)
        for index, route in enumerate(_route_settings(stage)):
            if route.get("loggingLevel") == "OFF":
                yield (f"The WebSocket stage {stage.label} switches execution logging OFF in routeSettings[{index}] "
                       f"({route.get('routeKey')}).", stage.urn)
    for account in stack.of_type(T.API_ACCOUNT):
        if not is_set(account.get("cloudwatchRoleArn")):
            yield (f"The API Gateway account settings {account.label} must set cloudwatchRoleArn, "
                   "otherwise execution logging fails at deploy time.", account.urn)


@resource_policy(
    name="apigateway-no-data-trace",
    description="API Gateway must not log full requests and responses (data trace) for any method or route.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("CKV_AWS_276",),
    remediation="Leave `settings.data_trace_enabled` false on every `aws.apigateway.MethodSettings`, and "
    "`data_trace_enabled` false in `default_route_settings` / `route_settings` of `aws.apigatewayv2.Stage`: "
    "data trace writes bodies, headers and tokens to CloudWatch Logs.",
    resource_types=(T.API_METHOD_SETTINGS, T.APIGWV2_STAGE),
)
def apigateway_no_data_trace(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == T.API_METHOD_SETTINGS:
        if as_bool(r.get("settings.dataTraceEnabled")) is True:
            yield (f"The API Gateway method settings {r.label} enable data trace for {r.get('methodPath')}: full "
                   "request and response bodies go to the logs.")
        return
    if as_bool(r.get("defaultRouteSettings.dataTraceEnabled")) is True:
        yield f"The API Gateway v2 stage {r.label} enables data trace in defaultRouteSettings."
    for index, route in enumerate(_route_settings(r)):
        if as_bool(route.get("dataTraceEnabled")) is True:
            yield f"The API Gateway v2 stage {r.label} enables data trace in routeSettings[{index}]."


@resource_policy(
    name="apigateway-xray-tracing",
    description="API Gateway stages should have X-Ray tracing enabled.",
    severity=Severity.LOW,
    category="operations",
    controls=("APIGateway.3",),
    remediation="Set `xray_tracing_enabled=True` on the stage.",
    resource_types=(T.API_STAGE,),
)
def apigateway_xray_tracing(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.get("xrayTracingEnabled") not in (True, UNKNOWN):
        yield f"The API Gateway stage {r.label} must set xrayTracingEnabled to true (default false)."


@resource_policy(
    name="apigateway-cache-encrypted",
    description="API Gateway method caches must be encrypted at rest.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("APIGateway.5",),
    remediation="Where `settings.caching_enabled` is true set `settings.cache_data_encrypted=True`.",
    resource_types=(T.API_METHOD_SETTINGS,),
)
def apigateway_cache_encrypted(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.get("settings.cachingEnabled") is True and r.get("settings.cacheDataEncrypted") not in (True, UNKNOWN):
        yield f"The API Gateway method settings {r.label} enable caching without settings.cacheDataEncrypted."


@resource_policy(
    name="apigateway-client-certificate",
    description="API Gateway stages should present a client certificate to HTTP backends.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("APIGateway.2",),
    remediation="Create an `aws.apigateway.ClientCertificate` and set `client_certificate_id` on the stage, "
    "or set `notRequiredForLambdaOnlyApis` when every integration is AWS_PROXY to Lambda.",
    resource_types=(T.API_STAGE,),
    config={
        "notRequiredForLambdaOnlyApis": boolean(
            "Do not require a client certificate (the backend is Lambda, which never sees it).", True
        )
    },
)
def apigateway_client_certificate(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if cfg["notRequiredForLambdaOnlyApis"]:
        raise NotApplicable("client certificates are only used by HTTP integrations; this API uses Lambda")
    if not is_set(r.get("clientCertificateId")):
        yield f"The API Gateway stage {r.label} must set clientCertificateId."


# Every security policy API Gateway offers that refuses TLS 1.0 and 1.1: the legacy TLS_1_2 and all enhanced
# SecurityPolicy_* ones (AWS API Gateway developer guide, "Supported security policies"; the SecurityPolicy enum
# of the API Gateway API model, which a test compares this list with). Only TLS_1_0 accepts TLS 1.0/1.1.
_TLS_POLICIES = [
    "TLS_1_2",
    "SecurityPolicy_TLS13_1_3_2025_09",
    "SecurityPolicy_TLS13_1_3_FIPS_2025_09",
    "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09",
    "SecurityPolicy_TLS13_1_2_FIPS_PQ_2025_09",
    "SecurityPolicy_TLS13_1_2_FIPS_PFS_PQ_2025_09",
    "SecurityPolicy_TLS13_1_2_Ext2_PQ_2025_09",
    "SecurityPolicy_TLS13_1_2_Ext2_FIPS_PQ_2025_09",
    "SecurityPolicy_TLS13_1_2_PQ_2025_09",
    "SecurityPolicy_TLS13_1_2_2021_06",
    "SecurityPolicy_TLS13_2025_EDGE",
    "SecurityPolicy_TLS12_PFS_2025_EDGE",
    "SecurityPolicy_TLS12_2018_EDGE",
]


def _effective_tls_policy(r: Resource) -> tuple[Any, str]:
    """(security policy in force, where it is set); the API's default when the input is absent."""
    if r.type == T.APIGW2_DOMAIN:
        configs = r.get("domainNameConfiguration")
        values = [get(c, "securityPolicy") for c in as_list(configs)]
        if UNKNOWN in values or configs is UNKNOWN:
            return UNKNOWN, "domainNameConfiguration.securityPolicy"
        bad = [v for v in values if v not in (None, "TLS_1_2")]
        return (bad[0] if bad else "TLS_1_2"), "domainNameConfiguration.securityPolicy"
    policy = r.get("securityPolicy")
    if policy is not None:
        return policy, "securityPolicy"
    if r.type == T.API_REST_API:
        # A REST API's own execute-api endpoint defaults to TLS_1_0 unless it is PRIVATE (API Gateway
        # developer guide, "Default security policies").
        types = r.get("endpointConfiguration.types")
        if types is UNKNOWN:
            return UNKNOWN, "securityPolicy"
        return ("TLS_1_2" if "PRIVATE" in as_list(types) else "TLS_1_0"), "securityPolicy (absent)"
    return "TLS_1_2", "securityPolicy (absent)"  # custom domain names default to TLS_1_2


@resource_policy(
    name="apigateway-domain-tls-policy",
    description="API Gateway custom domains and REST API endpoints must refuse TLS 1.0 and 1.1.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("APIGateway.11", "CKV_AWS_206"),
    remediation="Set `security_policy` to TLS_1_2 or an enhanced `SecurityPolicy_*` policy (with "
    "`endpoint_access_mode`); on a REST API whose default endpoint stays enabled set it too, since that "
    "endpoint defaults to TLS_1_0.",
    resource_types=(T.API_DOMAIN, T.API_REST_API, T.APIGW2_DOMAIN),
    config={"allowedSecurityPolicies": string_list(
        "Accepted security policies (default: every policy that refuses TLS 1.0/1.1).", _TLS_POLICIES)},
    preview_note="A REST API with `disable_execute_api_endpoint=True` is not reachable on its default endpoint "
    "and is not checked there; its custom domain is.",
)
def apigateway_domain_tls_policy(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == T.API_REST_API and as_bool(r.get("disableExecuteApiEndpoint")) is True:
        return
    policy, where = _effective_tls_policy(r)
    if policy is UNKNOWN or policy in cfg["allowedSecurityPolicies"]:
        return
    what = "API Gateway domain" if r.type != T.API_REST_API else "REST API"
    why = "which accepts TLS 1.0 and 1.1" if policy == "TLS_1_0" else "which is not an allowed security policy"
    yield (f"The {what} {r.label} uses security policy {policy} ({where}), {why}; use TLS_1_2 or an enhanced "
           "SecurityPolicy_* policy.")


@stack_policy(
    name="apigateway-request-validation",
    description="REST APIs must validate request bodies and parameters, with a validator their methods use.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("AwsSolutions-APIG2",),
    remediation="Create an `aws.apigateway.RequestValidator` for the API with `validate_request_body` and "
    "`validate_request_parameters` true, and set `request_validator_id` on the methods (a validator no method "
    "names validates nothing); in an OpenAPI `body`, declare it in `x-amazon-apigateway-request-validators` "
    "and name it with `x-amazon-apigateway-request-validator` (document default or per operation).",
    preview_note="An OpenAPI body built from outputs is unknown at preview and checked at update.",
)
def apigateway_request_validation(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    for api in stack.of_type(T.API_REST_API):
        validators = stack.referrers(api, [T.API_REQUEST_VALIDATOR], "restApi", ["id"])
        full = [v for v in validators if v.get("validateRequestBody") in (True, UNKNOWN)
                and v.get("validateRequestParameters") in (True, UNKNOWN)]
        methods = stack.referrers(api, [T.API_METHOD], "restApi", ["id"])
        if any(_uses_validator(stack, m, full) for m in methods):
            continue
        try:
            document = _openapi.load(api.get("body"))
        except _openapi.OpenApiError:
            continue  # reported by apigateway-route-authorization
        if api.get("body") is UNKNOWN or (document is not None and any(
                _openapi.validates_fully(document, op) for op in _openapi.operations(document))):
            continue
        if full:
            names = ", ".join(v.label for v in full)
            yield (f"The REST API {api.label} has request validator(s) {names} that no method uses "
                   "(request_validator_id), so nothing is validated.", api.urn)
        else:
            yield (f"The REST API {api.label} has no RequestValidator validating both body and parameters.",
                   api.urn)


def _uses_validator(stack: Stack, method: Resource, validators: list[Resource]) -> bool:
    """The method names one of ``validators`` (an id unknown at preview is matched by its dependency)."""
    if not is_set(method.get("requestValidatorId")):
        return False
    linked = stack.targets_of(method, "requestValidatorId", [T.API_REQUEST_VALIDATOR], ["id"])
    if linked:
        return bool({v.urn for v in linked} & {v.urn for v in validators})
    return True  # a validator this stack does not declare: not decidable here
