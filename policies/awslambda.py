"""Lambda function policies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import resource_policy, stack_policy, string_list
from ._model import Resource, Stack
from ._values import UNKNOWN, is_set

_RUNTIMES = ["dotnet8", "java25", "java21", "java17", "java11", "java8.al2", "nodejs24.x", "nodejs22.x",
             "nodejs20.x", "python3.14", "python3.13", "python3.12", "python3.11", "python3.10", "ruby3.4",
             "ruby3.3", "ruby3.2", "provided.al2023", "provided.al2"]


@resource_policy(
    name="lambda-in-vpc",
    description="Lambda functions must run in the VPC (subnets and security groups).",
    severity=Severity.LOW,
    category="exposure",
    controls=("Lambda.3",),
    remediation="Set `vpc_config` with the private app-tier `subnet_ids` and `security_group_ids`.",
    resource_types=(T.LAMBDA_FUNCTION,),
    guarantee=True,
    config={"exemptFunctionNames": string_list(
        "Pulumi resource names or function names allowed outside the VPC.", [])},
)
def lambda_in_vpc(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.name in cfg["exemptFunctionNames"] or r.get("name") in cfg["exemptFunctionNames"]:
        return
    vpc = r.get("vpcConfig")
    if vpc is UNKNOWN:
        return
    missing = [k for k in ("subnetIds", "securityGroupIds") if not is_set(r.get(f"vpcConfig.{k}"))]
    if missing:
        yield f"The Lambda function {r.label} must run in the VPC: vpcConfig.{' and vpcConfig.'.join(missing)} " \
              "must not be empty."


@resource_policy(
    name="lambda-supported-runtime",
    description="Lambda functions must use a supported runtime.",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("Lambda.2", "AwsSolutions-L1"),
    remediation="Move to a runtime in `supportedRuntimes` (AWS deprecates runtimes; keep the list current).",
    resource_types=(T.LAMBDA_FUNCTION,),
    config={"supportedRuntimes": string_list("Runtimes considered supported.", _RUNTIMES)},
)
def lambda_supported_runtime(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.get("packageType") == "Image":
        return
    runtime = r.get("runtime")
    if runtime is UNKNOWN or runtime in cfg["supportedRuntimes"]:
        return
    yield f"The Lambda function {r.label} uses runtime {runtime or 'absent'}, which is not in the supported list."


@resource_policy(
    name="lambda-xray-tracing",
    description="Lambda functions should have active X-Ray tracing.",
    severity=Severity.LOW,
    category="operations",
    controls=("Lambda.7",),
    remediation="Set `tracing_config={'mode': 'Active'}`.",
    resource_types=(T.LAMBDA_FUNCTION,),
)
def lambda_xray_tracing(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.get("tracingConfig.mode") not in ("Active", UNKNOWN):
        yield f"The Lambda function {r.label} must set tracingConfig.mode to Active (default PassThrough)."


@resource_policy(
    name="lambda-layer-not-public",
    description="Lambda layer versions must not be shared with every AWS account.",
    severity=Severity.CRITICAL,
    category="exposure",
    controls=("NoPublicLayer",),
    remediation="Grant `lambda:GetLayerVersion` to a named account id, or keep principal '*' only together with "
    "`organization_id`.",
    resource_types=(T.LAMBDA_LAYER_PERMISSION,),
)
def lambda_layer_not_public(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.get("principal") == "*" and not is_set(r.get("organizationId")):
        yield (f"The layer permission {r.label} shares the layer with every AWS account (principal '*' without "
               "organizationId): its code and any secrets in it are public.")


# Services that invoke Lambda asynchronously (event-driven): a failed event is retried twice, then dropped.
_ASYNC_PRINCIPALS = frozenset({"s3.amazonaws.com", "sns.amazonaws.com", "events.amazonaws.com",
                               "scheduler.amazonaws.com", "logs.amazonaws.com", "ses.amazonaws.com",
                               "iot.amazonaws.com", "config.amazonaws.com", "codecommit.amazonaws.com",
                               "cloudformation.amazonaws.com", "lex.amazonaws.com"})


def _async_invokers(stack: Stack, fn: Resource) -> list[Resource]:
    found = [p for p in stack.referrers(fn, [T.LAMBDA_PERMISSION], "function", ["name", "arn"])
             if p.get("principal") in _ASYNC_PRINCIPALS]
    found += stack.referrers(fn, [T.S3_BUCKET_NOTIFICATION], "lambdaFunctions", ["arn"])
    found += [s for s in stack.referrers(fn, [T.SNS_TOPIC_SUBSCRIPTION], "endpoint", ["arn"])
              if s.get("protocol") == "lambda"]
    found += stack.referrers(fn, [T.EVENT_TARGET], "arn", ["arn"])
    return found


@stack_policy(
    name="lambda-async-failure-destination",
    description="Lambda functions invoked asynchronously should keep failed events (dead-letter queue or on-failure "
    "destination).",
    severity=Severity.LOW,
    category="resilience",
    controls=("CKV_AWS_116", "AwsSolutions-SQS3"),
    remediation="Set `dead_letter_config={'target_arn': queue.arn}` on the function, or add an "
    "`aws.lambda_.FunctionEventInvokeConfig` with `destination_config.on_failure` (SQS, SNS, EventBridge, Lambda).",
    preview_note="A function counts as invoked asynchronously when the stack lets S3, SNS, EventBridge (rules, "
    "Scheduler), CloudWatch Logs, SES, IoT, Config ... invoke it.",
)
def lambda_async_failure_destination(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    configs = stack.of_type(T.LAMBDA_EVENT_INVOKE_CONFIG)
    for fn in stack.of_type(T.LAMBDA_FUNCTION):
        invokers = _async_invokers(stack, fn)
        if not invokers or is_set(fn.get("deadLetterConfig.targetArn")):
            continue
        handled = [c for c in configs if stack.refers_to(c, "functionName", fn, ["name", "arn"])
                   and is_set(c.get("destinationConfig.onFailure.destination"))]
        if not handled:
            yield (f"The Lambda function {fn.label} is invoked asynchronously (by {invokers[0].label}) with nowhere "
                   "to keep events that fail: after two retries they are lost.", fn.urn)


@stack_policy(
    name="lambda-code-signing",
    description="Lambda functions should only deploy code signed by a trusted publisher.",
    severity=Severity.LOW,
    category="operations",
    controls=("CKV_AWS_272",),
    remediation="Create an `aws.lambda_.CodeSigningConfig` (allowed signing profiles, "
    "`untrusted_artifact_on_deployment='Enforce'`) and set `code_signing_config_arn` on the function.",
)
def lambda_code_signing(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for fn in stack.of_type(T.LAMBDA_FUNCTION):
        if fn.get("packageType") == "Image":
            continue  # container images are verified at the registry, not by code signing
        if not is_set(fn.get("codeSigningConfigArn")):
            yield f"The Lambda function {fn.label} accepts unsigned code (no codeSigningConfigArn).", fn.urn
            continue
        for config in stack.targets_of(fn, "codeSigningConfigArn", [T.LAMBDA_CODE_SIGNING_CONFIG], ["arn"]):
            if config.get("policies.untrustedArtifactOnDeployment") not in ("Enforce", UNKNOWN):
                yield (f"The code signing config {config.label} of {fn.label} only warns about unsigned code "
                       "(untrustedArtifactOnDeployment is not Enforce).", config.urn)
