"""API Gateway (REST) policies: authorization, throttling, usage plans, WAF, logging, TLS."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

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


@stack_policy(
    name="apigateway-stage-throttling",
    description="Every API Gateway stage must have stage-wide (`*/*`) throttling within the configured bounds.",
    severity=Severity.HIGH,
    category="resilience",
    controls=("APIGWDefaultThrottling",),
    remediation="Add an `aws.apigateway.MethodSettings` with `method_path='*/*'` for the stage and set "
    "`settings.throttling_rate_limit` and `settings.throttling_burst_limit` within the configured limits.",
    guarantee=True,
    config={
        "maxRateLimit": integer("Highest allowed steady-state rate limit (requests/s).", 1000, 1),
        "maxBurstLimit": integer("Highest allowed burst limit (requests).", 2000, 1),
    },
)
def apigateway_stage_throttling(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
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
            limits = (
                ("throttlingRateLimit", cfg["maxRateLimit"]),
                ("throttlingBurstLimit", cfg["maxBurstLimit"]),
            )
            bad = []
            for key, maximum in limits:
                value = ms.get(f"settings.{key}")
                if value is UNKNOWN:
                    continue
                number = as_number(value)
                if number is None or number <= 0:
                    bad.append(f"settings.{key} is {'absent' if value is None else value} (throttling disabled)")
                elif number > maximum:
                    bad.append(f"settings.{key} is {number:g} (above the maximum {maximum})")
            if not bad:
                break
            problems.append(f"MethodSettings '{ms.name}': " + "; ".join(bad))
        else:
            yield (f"The API Gateway stage {stage.label} is not throttled correctly: " + " | ".join(problems) + ".",
                   stage.urn)


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
    description="API Gateway stages must write access logs (destination and format).",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("AwsSolutions-APIG1",),
    remediation="Set `access_log_settings` with `destination_arn` (a CloudWatch log group ARN) and `format`.",
    resource_types=(T.API_STAGE,),
    guarantee=True,
)
def apigateway_stage_access_logging(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    missing = [p for p in ("destinationArn", "format") if not is_set(r.get(f"accessLogSettings.{p}"))]
    if missing:
        yield f"The API Gateway stage {r.label} must set accessLogSettings.{' and accessLogSettings.'.join(missing)}."


@stack_policy(
    name="apigateway-execution-logging",
    description="API Gateway stages must have execution logging (ERROR or INFO) for all methods.",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("APIGateway.1", "AwsSolutions-APIG6"),
    remediation="In the stage's `*/*` MethodSettings set `settings.logging_level` to ERROR or INFO, and give "
    "`aws.apigateway.Account` a `cloudwatch_role_arn` (the account-level CloudWatch role).",
    preview_note="The account's CloudWatch role can only be checked when this stack owns "
    "`aws.apigateway.Account`.",
)
def apigateway_execution_logging(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    for stage in stack.of_type(T.API_STAGE):
        levels = [ms.get("settings.loggingLevel") for ms in _stage_method_settings(stack, stage)]
        if not any(level in ("ERROR", "INFO", UNKNOWN) for level in levels):
            yield (f"The API Gateway stage {stage.label} has no '*/*' MethodSettings with settings.loggingLevel "
                   "ERROR or INFO.", stage.urn)
    for account in stack.of_type(T.API_ACCOUNT):
        if not is_set(account.get("cloudwatchRoleArn")):
            yield (f"The API Gateway account settings {account.label} must set cloudwatchRoleArn, "
                   "otherwise execution logging fails at deploy time.", account.urn)


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
    description="REST APIs must validate request bodies and parameters.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("AwsSolutions-APIG2",),
    remediation="Create an `aws.apigateway.RequestValidator` for the API with `validate_request_body` and "
    "`validate_request_parameters` true, and set `request_validator_id` on the methods.",
)
def apigateway_request_validation(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    for api in stack.of_type(T.API_REST_API):
        validators = [
            v for v in stack.referrers(api, [T.API_REQUEST_VALIDATOR], "restApi", ["id"])
            if v.get("validateRequestBody") in (True, UNKNOWN)
            and v.get("validateRequestParameters") in (True, UNKNOWN)
        ]
        if not validators:
            yield (f"The REST API {api.label} has no RequestValidator validating both body and parameters.",
                   api.urn)
