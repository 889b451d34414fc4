"""IAM policies: least privilege in identity policies, no AWS-managed admin policies, no user policies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._iam import (
    PolicyDocumentError,
    Statement,
    action_matches,
    is_full_wildcard,
    is_service_wildcard,
    parse,
)
from ._meta import resource_policy, string_list
from ._model import Resource
from ._values import UNKNOWN, as_list, get

IDENTITY_POLICY_TYPES = (T.IAM_POLICY, T.IAM_ROLE_POLICY, T.IAM_USER_POLICY, T.IAM_GROUP_POLICY, T.IAM_ROLE)

# Resource-based policies: type -> input holding the document.
RESOURCE_POLICY_INPUTS: dict[str, str] = {
    T.KMS_KEY: "policy",
    T.KMS_KEY_POLICY: "policy",
    T.SQS_QUEUE: "policy",
    T.SQS_QUEUE_POLICY: "policy",
    T.SNS_TOPIC: "policy",
    T.SNS_TOPIC_POLICY: "policy",
    T.S3_BUCKET_POLICY: "policy",
    T.S3_BUCKET: "policy",
    T.S3_BUCKET_V2: "policy",
    T.SECRET: "policy",
    T.SECRET_POLICY: "policy",
    T.EVENT_BUS_POLICY: "policy",
    T.LOG_RESOURCE_POLICY: "policyDocument",
    T.IAM_ROLE: "assumeRolePolicy",
}

_DEFAULT_WILDCARD_RESOURCE_ACTIONS = [
    # Actions that do not support resource-level permissions (Resource must be "*").
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
    "ec2:DescribeSecurityGroups",
    "cloudwatch:PutMetricData",
    "logs:DescribeLogGroups",
    "kms:ListAliases",
    "sts:GetCallerIdentity",
]


def identity_documents(r: Resource) -> list[tuple[str, Any]]:
    """(where, document) pairs of the identity policies a resource carries."""
    if r.type == T.IAM_ROLE:
        inline = r.get("inlinePolicies")
        if inline is UNKNOWN:
            return [("inlinePolicies", UNKNOWN)]
        return [(f"inline policy '{get(p, 'name') or i}'", get(p, "policy"))
                for i, p in enumerate(inline or []) if p is UNKNOWN or get(p, "policy") is not None]
    if r.type in IDENTITY_POLICY_TYPES:
        return [("policy", r.get("policy"))]
    return []


def statements_or_error(r: Resource, where: str, document: Any) -> tuple[list[Statement] | None, str | None]:
    try:
        return parse(document), None
    except PolicyDocumentError as exc:
        return None, f"The {where} of {r.label} {exc}."


@resource_policy(
    name="iam-no-wildcard-actions",
    description="IAM policies must not allow '*' or 'service:*' actions, nor use NotAction in Allow statements.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("IAM.1", "CIS3 1.16", "IAM.21", "AwsSolutions-IAM5"),
    remediation="List the specific actions the principal needs (e.g. 'sqs:SendMessage' instead of 'sqs:*').",
    resource_types=(*IDENTITY_POLICY_TYPES, *RESOURCE_POLICY_INPUTS),
    guarantee=True,
    preview_note="A policy document built from outputs is unknown at preview; it is checked when "
    "`pulumi up` registers the resource with the resolved document. Resource-based policies are checked "
    "for the full '*' action only, because key policies conventionally grant 'kms:*' to the account root.",
)
def iam_no_wildcard_actions(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    documents = [(where, doc, True) for where, doc in identity_documents(r)]
    if r.type in RESOURCE_POLICY_INPUTS:
        documents.append((RESOURCE_POLICY_INPUTS[r.type], r.get(RESOURCE_POLICY_INPUTS[r.type]), False))
    for where, document, identity in documents:
        if document is None:
            continue
        statements, error = statements_or_error(r, where, document)
        if error:
            yield error
            continue
        for st in statements or []:
            if not st.allows:
                continue
            if identity and st.not_actions:
                yield f"The {where} of {r.label} allows NotAction in {st.ref}, which grants every other action."
            for action in st.actions:
                if is_full_wildcard(action) or (identity and is_service_wildcard(action)):
                    yield f"The {where} of {r.label} allows action '{action}' in {st.ref}; list specific actions."


@resource_policy(
    name="iam-no-wildcard-resources",
    description="IAM identity policies must not allow Resource '*' except for actions that require it.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("AwsSolutions-IAM5", "KMS.1", "KMS.2"),
    remediation="Scope Resource to the ARNs the principal uses; only actions in "
    "`actionsRequiringWildcardResource` may use '*'.",
    resource_types=IDENTITY_POLICY_TYPES,
    guarantee=True,
    config={"actionsRequiringWildcardResource": string_list(
        "Actions that do not support resource-level permissions and may use Resource '*'.",
        _DEFAULT_WILDCARD_RESOURCE_ACTIONS)},
    preview_note="A policy document built from outputs is unknown at preview; it is checked when "
    "`pulumi up` registers the resource with the resolved document.",
)
def iam_no_wildcard_resources(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    allowed = [a.lower() for a in cfg["actionsRequiringWildcardResource"]]
    for where, document in identity_documents(r):
        statements, error = statements_or_error(r, where, document)
        if error:
            yield error
            continue
        for st in statements or []:
            if not st.allows:
                continue
            if st.not_resources:
                yield f"The {where} of {r.label} uses NotResource in {st.ref}, which grants every other resource."
            if not any(isinstance(res, str) and res.strip() == "*" for res in st.resources):
                continue
            offending = [a for a in st.actions if not isinstance(a, str) or a.lower() not in allowed]
            if st.not_actions:
                offending.append("NotAction")
            if offending:
                yield (f"The {where} of {r.label} allows Resource '*' in {st.ref} for "
                       f"{', '.join(map(str, offending))}; scope these actions to specific ARNs.")


_ADMIN_POLICIES = ["arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/AWSCloudShellFullAccess",
                   "arn:aws:iam::aws:policy/PowerUserAccess", "arn:aws:iam::aws:policy/IAMFullAccess"]


def _attached_arns(r: Resource) -> list[Any]:
    if r.type == T.IAM_ROLE:
        return as_list(r.get("managedPolicyArns"))
    return as_list(r.get("policyArn"))


@resource_policy(
    name="iam-no-admin-managed-policies",
    description="Roles must not have AdministratorAccess, AWSCloudShellFullAccess or similar broad managed policies.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("CIS3 1.16", "IAM.27", "CIS3 1.22"),
    remediation="Replace the managed policy with a scoped inline or customer managed policy.",
    resource_types=(T.IAM_ROLE, T.IAM_ROLE_POLICY_ATTACHMENT, T.IAM_POLICY_ATTACHMENT, T.IAM_USER_POLICY_ATTACHMENT),
    config={"forbiddenPolicyArns": string_list("Managed policy ARNs that must never be attached.", _ADMIN_POLICIES)},
)
def iam_no_admin_managed_policies(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    forbidden = {a.split(":policy/")[-1] for a in cfg["forbiddenPolicyArns"]}
    for arn in _attached_arns(r):
        if isinstance(arn, str) and ":iam::aws:policy/" in arn and arn.split(":policy/")[-1] in forbidden:
            yield f"The {r.label} attaches the broad managed policy {arn}."


@resource_policy(
    name="iam-no-aws-managed-policies",
    description="Roles should use scoped customer policies rather than AWS managed policies.",
    severity=Severity.LOW,
    category="operations",
    controls=("AwsSolutions-IAM4",),
    remediation="Write a scoped policy, or add the ARN to `allowedPolicyArns` with a reason in review.",
    resource_types=(T.IAM_ROLE, T.IAM_ROLE_POLICY_ATTACHMENT, T.IAM_POLICY_ATTACHMENT),
    config={"allowedPolicyArns": string_list("AWS managed policies accepted (e.g. Lambda execution roles).", [])},
)
def iam_no_aws_managed_policies(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for arn in _attached_arns(r):
        if isinstance(arn, str) and ":iam::aws:policy/" in arn and not any(
            action_matches(a, arn) for a in cfg["allowedPolicyArns"]
        ):
            yield f"The {r.label} attaches the AWS managed policy {arn}."


@resource_policy(
    name="iam-no-user-policies",
    description="Permissions must not be granted to IAM users directly.",
    severity=Severity.LOW,
    category="operations",
    controls=("IAM.2", "CIS3 1.15"),
    remediation="Grant permissions to roles (or groups) and let principals assume them.",
    resource_types=(T.IAM_USER_POLICY, T.IAM_USER_POLICY_ATTACHMENT, T.IAM_POLICY_ATTACHMENT),
)
def iam_no_user_policies(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == T.IAM_POLICY_ATTACHMENT and not as_list(r.get("users")):
        return
    yield f"The {r.label} attaches a policy to an IAM user; use roles instead."
