"""One Lambda function in the app tier, with its own least-privilege role and encrypted log group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from components._iam import policy_document, service_trust_policy
from components.settings import Settings
from functions.package import archive_path

RUNTIME = aws.lambda_.Runtime.PYTHON3D12

# The only statements that must name Resource "*": AWS offers no resource-level permission for them.
_XRAY_STATEMENT = {
    "Sid": "XRayTraces",  # X-Ray segments are not resources; the API has no resource ARNs.
    "Effect": "Allow",
    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
    "Resource": "*",
}
# What Lambda needs to attach the function to the VPC. Written out instead of attaching the AWS managed
# AWSLambdaVPCAccessExecutionRole, which also grants logs:CreateLogGroup/PutLogEvents on every log group.
# ENIs are created before their ids exist, so these actions cannot be scoped to resources.
_VPC_ENI_STATEMENT = {
    "Sid": "VpcNetworkInterfaces",
    "Effect": "Allow",
    "Action": [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    ],
    "Resource": "*",
}


@dataclass
class FunctionArgs:
    settings: Settings
    """Validated stack settings (memory, reserved concurrency, log retention)."""
    package: str
    """Which deployment package (functions/<package>) holds the code."""
    handler: str
    """Handler path inside the package, e.g. ``functions.api.app.handler``."""
    subnet_ids: Sequence[pulumi.Input[str]]
    """App-tier subnets the function's ENIs live in."""
    security_group_ids: Sequence[pulumi.Input[str]]
    """Security groups of the function (the app SG)."""
    logs_key_arn: pulumi.Input[str]
    """Key that encrypts the function's log group."""
    env_key_arn: pulumi.Input[str]
    """Key that encrypts the environment variables at rest."""
    description: str
    """What the function does (shown in the console)."""
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Environment variables (no secrets: secrets are read from Secrets Manager at run time)."""
    statements: Sequence[pulumi.Input[Mapping[str, Any]]] = ()
    """IAM statements the code needs, each naming its resources."""
    timeout: int = 10
    """Seconds before Lambda stops the invocation."""
    reserved_concurrency: int | None = None
    """Concurrent executions reserved for (and capping) this function; None: the stack setting."""


def _policy_document(statements: Sequence[Any]) -> pulumi.Output[str]:
    return pulumi.Output.all(*statements).apply(lambda resolved: policy_document(*resolved))


class VpcFunction(pulumi.ComponentResource):
    """Creates a Lambda function (Python 3.12) in the app tier with: its own execution role trusted only by
    Lambda in this account; an inline policy of exactly the statements passed in, plus writing to its own log
    group, X-Ray and the VPC network-interface actions (which have no resource-level permissions); a log
    group created first, KMS-encrypted with the environment's retention (Lambda would otherwise create one
    unencrypted that never expires); env vars encrypted with a CMK; active tracing; reserved concurrency."""

    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, args: FunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:functions:VpcFunction", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        function_name = f"{s.name_prefix}-{name.rsplit('-', maxsplit=1)[-1]}"[:64]

        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=s.log_retention_days,
            kms_key_id=args.logs_key_arn,
            opts=child,
        )
        account_id = aws.get_caller_identity_output(opts=pulumi.InvokeOptions(parent=self)).account_id
        self.role = aws.iam.Role(
            f"{name}-role",
            description=f"Execution role of {function_name}",
            assume_role_policy=service_trust_policy("lambda.amazonaws.com", account_id),
            opts=child,
        )
        logs_statement = self.log_group.arn.apply(
            lambda arn: {
                "Sid": "OwnLogGroup",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{arn}:*",
            }
        )
        # The execution role decrypts the CMK-encrypted environment variables at cold start.
        env_statement = pulumi.Output.from_input(args.env_key_arn).apply(
            lambda arn: {"Sid": "DecryptEnvironment", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": arn}
        )
        statements = [logs_statement, env_statement, _XRAY_STATEMENT, _VPC_ENI_STATEMENT, *args.statements]
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=_policy_document(statements),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            description=args.description,
            runtime=RUNTIME,
            architectures=["x86_64"],
            handler=args.handler,
            code=pulumi.FileArchive(str(archive_path(args.package))),
            role=self.role.arn,
            memory_size=s.lambda_memory_mb,
            timeout=args.timeout,
            reserved_concurrent_executions=(
                s.lambda_reserved_concurrency if args.reserved_concurrency is None else args.reserved_concurrency
            ),
            kms_key_arn=args.env_key_arn,
            environment={"variables": dict(args.environment)} if args.environment else None,
            tracing_config={"mode": "Active"},
            vpc_config={"subnet_ids": list(args.subnet_ids), "security_group_ids": list(args.security_group_ids)},
            logging_config={"log_format": "JSON", "log_group": self.log_group.name},
            # Without the policy first Lambda refuses the VPC config (no CreateNetworkInterface); without the log
            # group first, Lambda would create an unencrypted one.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, self.log_group]),
        )
        self.register_outputs({"functionName": self.function.name, "roleArn": self.role.arn})
