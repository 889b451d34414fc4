"""API Gateway stage and method checks (APIGateway.1, APIGateway.4, AwsSolutions-APIG1/APIG4, throttling)."""

from __future__ import annotations

from typing import Any

from audit.aws import AwsCallError
from audit.checks.context import AuditContext
from audit.model import Check, Result, Severity

STAGE_WAF = Check(
    "apigw-stage-waf", "API stage is associated with the stack's WAF web ACL", Severity.HIGH,
    "Associate the stage with the REGIONAL web ACL (wafv2.WebAclAssociation resource_arn=stage.arn).",
    ("APIGateway.4", "AwsSolutions-APIG3"),
)
STAGE_ACCESS_LOGS = Check(
    "apigw-stage-access-logs", "API stage writes access logs", Severity.MEDIUM,
    "Set the stage's access_log_settings (destination_arn of an encrypted log group and a format).",
    ("AwsSolutions-APIG1",),
)
STAGE_EXECUTION_LOGS = Check(
    "apigw-stage-execution-logging", "API stage has execution logging for all methods", Severity.MEDIUM,
    "Create MethodSettings with method_path='*/*' and logging_level ERROR or INFO "
    "(data_trace_enabled off in production).",
    ("APIGateway.1", "AwsSolutions-APIG6"),
)
STAGE_THROTTLING = Check(
    "apigw-stage-throttling", "API stage throttles all methods", Severity.MEDIUM,
    "Set throttling_rate_limit and throttling_burst_limit > 0 in the '*/*' MethodSettings.",
    ("APIGWDefaultThrottling",),
)
METHOD_AUTHORIZATION = Check(
    "apigw-method-authorization", "Every API method requires authorization", Severity.HIGH,
    "Give every method except OPTIONS an authorizer (CUSTOM/COGNITO_USER_POOLS) or AWS_IAM.",
    ("AwsSolutions-APIG4",),
)
# Region-level default (10,000 requests/s, burst 5,000) that API Gateway reports when the stage sets no limit
# of its own; -1 or 0 is what an explicitly "unlimited" setting reads back as.
_ACCOUNT_DEFAULT_THROTTLE = (10000.0, 5000)
CHECKS = (STAGE_WAF, STAGE_ACCESS_LOGS, STAGE_EXECUTION_LOGS, STAGE_THROTTLING, METHOD_AUTHORIZATION)


def run(ctx: AuditContext) -> list[Result]:
    return [*_stage(ctx), _waf(ctx), _methods(ctx)]


def _stage(ctx: AuditContext) -> list[Result]:
    api = ctx.outputs.api
    resource = api.stage_arn
    try:
        stage = ctx.aws.call("apigateway", "get_stage", restApiId=api.rest_api_id, stageName=api.stage_name)
    except AwsCallError as exc:
        return [check.errored(resource, str(exc)) for check in (STAGE_ACCESS_LOGS, STAGE_EXECUTION_LOGS,
                                                                 STAGE_THROTTLING)]
    access = stage.get("accessLogSettings") or {}
    all_methods: dict[str, Any] = (stage.get("methodSettings") or {}).get("*/*") or {}
    level = str(all_methods.get("loggingLevel", "OFF")).upper()
    data_trace = bool(all_methods.get("dataTraceEnabled"))
    rate = float(all_methods.get("throttlingRateLimit", 0) or 0)
    burst = int(all_methods.get("throttlingBurstLimit", 0) or 0)

    if level not in {"ERROR", "INFO"}:
        execution = STAGE_EXECUTION_LOGS.failed(
            resource, f"The stage's '*/*' method settings log at level {level}; expected ERROR or INFO.")
    elif data_trace and ctx.production:
        execution = STAGE_EXECUTION_LOGS.failed(
            resource, "Full request/response data tracing is on in production; it logs bodies and tokens.")
    else:
        execution = STAGE_EXECUTION_LOGS.passed(resource, f"Execution logging is at level {level}.")
    return [
        STAGE_ACCESS_LOGS.judge(
            resource, bool(access.get("destinationArn") and access.get("format")),
            f"Access logs go to {access.get('destinationArn')}.",
            "The stage has no access log destination and format."),
        execution,
        STAGE_THROTTLING.judge(
            resource, rate > 0 and burst > 0 and (rate, burst) != _ACCOUNT_DEFAULT_THROTTLE,
            f"All methods are throttled at {rate:g} requests/s, burst {burst}.",
            f"The '*/*' method settings have no positive throttling (rate {rate:g}, burst {burst})."),
    ]


def _waf(ctx: AuditContext) -> Result:
    api = ctx.outputs.api
    try:
        # An unassociated resource returns no WebACL (AWS) or WAFNonexistentItemException; both mean "none".
        answer = ctx.aws.call("wafv2", "get_web_acl_for_resource", ResourceArn=api.stage_arn,
                              absent=frozenset({"WAFNonexistentItemException"}))
    except AwsCallError as exc:
        return STAGE_WAF.errored(api.stage_arn, str(exc))
    acl = (answer or {}).get("WebACL") or {}
    arn = acl.get("ARN")
    if not arn:
        return STAGE_WAF.failed(api.stage_arn, "The API stage is not associated with any WAF web ACL.")
    if api.web_acl_arn and arn != api.web_acl_arn:
        return STAGE_WAF.failed(api.stage_arn,
                                f"The API stage is associated with {arn}, not the stack's web ACL {api.web_acl_arn}.")
    return STAGE_WAF.passed(api.stage_arn, f"The API stage is protected by web ACL {arn}.")


def _methods(ctx: AuditContext) -> Result:
    api_id = ctx.outputs.api.rest_api_id
    resource = f"arn:aws:apigateway:{ctx.aws.region}::/restapis/{api_id}"
    open_methods: list[str] = []
    count = 0
    try:
        for page in ctx.aws.pages("apigateway", "get_resources", restApiId=api_id, embed=["methods"]):
            for item in page.get("items", []):
                for verb, method in (item.get("resourceMethods") or {}).items():
                    count += 1
                    route = f"{verb} {item.get('path')}"
                    # CORS preflight cannot carry credentials, so OPTIONS is the one allowed exception.
                    if (method.get("authorizationType", "NONE") == "NONE" and verb != "OPTIONS"
                            and route not in ctx.allow_unauthenticated):
                        open_methods.append(route)
    except AwsCallError as exc:
        return METHOD_AUTHORIZATION.errored(resource, str(exc))
    return METHOD_AUTHORIZATION.judge(
        resource, not open_methods,
        f"All {count} methods require authorization (OPTIONS excepted).",
        f"Methods without authorization: {', '.join(sorted(open_methods))}.")
