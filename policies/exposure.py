"""Public exposure through resource-based policies and Lambda permissions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._iam import has_fixing_condition, principal_is_public
from ._meta import resource_policy
from ._model import Resource
from ._values import is_set
from .iam import RESOURCE_POLICY_INPUTS, statements_or_error


@resource_policy(
    name="resource-policy-not-public",
    description="Resource policies (KMS, SQS, SNS, S3, Secrets Manager, EventBridge, Logs, role trust) must "
    "not allow '*' principals without a fixed source condition.",
    severity=Severity.CRITICAL,
    category="exposure",
    controls=("KMS.5", "SQS.3", "SNS.4", "S3.2", "S3.3", "CloudTrail.6"),
    remediation="Name the principals (account root, role or service principal) or add a condition pinning "
    "aws:SourceArn / aws:SourceAccount / aws:PrincipalOrgID / kms:CallerAccount to fixed values.",
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
    for st in statements or []:
        if st.allows and principal_is_public(st.principal) and not has_fixing_condition(st):
            yield (f"The {key} of {r.label} allows Principal '*' in {st.ref} without a fixed aws:SourceArn, "
                   "aws:SourceAccount, aws:PrincipalOrgID or kms:CallerAccount condition, so it is public.")


@resource_policy(
    name="lambda-not-public",
    description="Lambda functions must not be invokable by everyone (permissions and function URLs).",
    severity=Severity.CRITICAL,
    category="exposure",
    controls=("Lambda.1",),
    remediation="Use a specific principal; for service principals set `source_arn` (S3 also `source_account`); "
    "function URLs must use AWS_IAM auth.",
    resource_types=(T.LAMBDA_PERMISSION, T.LAMBDA_FUNCTION_URL),
)
def lambda_not_public(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == T.LAMBDA_FUNCTION_URL:
        if r.get("authorizationType") == "NONE":
            yield f"The Lambda function URL {r.label} has authorizationType NONE; use AWS_IAM."
        return
    principal = r.get("principal")
    if principal == "*":
        yield f"The Lambda permission {r.label} grants invoke to principal '*'."
    elif isinstance(principal, str) and principal.endswith(".amazonaws.com"):
        if not is_set(r.get("sourceArn")):
            yield (f"The Lambda permission {r.label} lets service {principal} invoke without sourceArn, so any "
                   "account's resource of that service can invoke it.")
        elif principal == "s3.amazonaws.com" and not is_set(r.get("sourceAccount")):
            yield f"The Lambda permission {r.label} for S3 must also set sourceAccount."
    if r.get("functionUrlAuthType") == "NONE":
        yield f"The Lambda permission {r.label} allows unauthenticated function URL access."
