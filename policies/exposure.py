"""Public exposure through resource-based policies and Lambda permissions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._iam import arn_pins_account, public_statements
from ._meta import resource_policy
from ._model import Resource
from ._values import UNKNOWN, is_set
from .iam import RESOURCE_POLICY_INPUTS, statements_or_error


@resource_policy(
    name="resource-policy-not-public",
    description="Resource policies (KMS, SQS, SNS, S3, Secrets Manager, EventBridge, Logs, role trust) must "
    "not allow '*' principals without a fixed source condition.",
    severity=Severity.CRITICAL,
    category="exposure",
    controls=("KMS.5", "SQS.3", "SNS.4", "S3.2", "S3.3", "CloudTrail.6"),
    remediation="Name the principals (account root, role or service principal) or add a condition pinning "
    "aws:SourceArn / aws:SourceAccount / aws:PrincipalOrgID / aws:VpceAccount / kms:CallerAccount to fixed values "
    "(StringEquals/ArnLike, not their IfExists or negated forms), or a Deny with the negated condition.",
    resource_types=tuple(RESOURCE_POLICY_INPUTS),
    preview_note="A document built from outputs is unknown at preview and is checked at update.",
)
def resource_policy_not_public(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    key = RESOURCE_POLICY_INPUTS[r.type]
    document = r.get(key)
    if document is None:
        return
    statements, error = statements_or_error(r, key, document)
    if error:
        yield error
        return
    for st in public_statements(statements or []):
        who = "NotPrincipal (everyone else)" if st.not_principal is not None else "Principal '*'"
        yield (f"The {key} of {r.label} allows {who} in {st.ref} with no condition that pins the caller to an "
               "account, organization, VPC or source (aws:SourceArn/SourceAccount, aws:PrincipalOrgID/OrgPaths, "
               "aws:VpceAccount/VpceOrgID, kms:CallerAccount ... with a positive operator and fixed values), and "
               "no Deny that does, so anonymous or any-account callers get it.")


@resource_policy(
    name="lambda-not-public",
    description="Lambda functions must not be invokable by everyone (permissions and function URLs).",
    severity=Severity.CRITICAL,
    category="exposure",
    controls=("Lambda.1",),
    remediation="Use a specific principal; for service principals set `source_account` or a `source_arn` in your "
    "account (S3: `source_account`); principal '*' needs `principal_org_id` or a source; function URLs must use "
    "AWS_IAM auth.",
    resource_types=(T.LAMBDA_PERMISSION, T.LAMBDA_FUNCTION_URL),
)
def lambda_not_public(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == T.LAMBDA_FUNCTION_URL:
        if r.get("authorizationType") == "NONE":
            yield f"The Lambda function URL {r.label} has authorizationType NONE; use AWS_IAM."
        return
    principal = r.get("principal")
    source_account = r.get("sourceAccount")
    account_pinned = is_set(source_account) and (source_account is UNKNOWN or "*" not in str(source_account))
    arn_pinned = r.get("sourceArn") is not None and arn_pins_account(r.get("sourceArn"))
    org_pinned = is_set(r.get("principalOrgId"))
    if principal == "*":
        if not (account_pinned or arn_pinned or org_pinned):
            yield (f"The Lambda permission {r.label} grants invoke to principal '*' without principalOrgId, "
                   "sourceAccount or a sourceArn in a fixed account.")
    elif isinstance(principal, str) and principal.endswith(".amazonaws.com"):
        if principal == "s3.amazonaws.com":
            if not account_pinned:  # bucket ARNs carry no account and bucket names can be re-registered
                yield f"The Lambda permission {r.label} for S3 must set sourceAccount."
        elif not (account_pinned or arn_pinned):
            yield (f"The Lambda permission {r.label} lets service {principal} invoke without sourceAccount or a "
                   "sourceArn in a fixed account, so any account's resource of that service can invoke it.")
    if r.get("functionUrlAuthType") == "NONE":
        yield f"The Lambda permission {r.label} allows unauthenticated function URL access."
