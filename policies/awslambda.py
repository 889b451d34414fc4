"""Lambda function policies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import resource_policy, string_list
from ._model import Resource
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
