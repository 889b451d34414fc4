"""Secrets in plain text: Lambda environment variables and SSM String parameters."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import resource_policy, string_list
from ._model import Resource
from ._values import UNKNOWN

# Names that say the value is a credential, and names that say it is only a pointer to one (an ARN, a
# parameter name, a URL ...). Hand-written: detect-secrets' keyword plugin has the same idea but works on
# source lines, not on name/value pairs, and would add a dependency for a dozen lines.
_SECRET_NAME = re.compile(r"pass(word|wd|phrase)?|pwd|secret|token|api[-_]?key|private[-_]?key|access[-_]?key|"
                          r"credential|auth[-_]?key|signing[-_]?key|client[-_]?key", re.IGNORECASE)
_POINTER_NAME = re.compile(r"[-_/.](arn|name|id|path|param|parameter|url|uri|endpoint|header|field|ttl|seconds|"
                           r"region|enabled|version|length|type|file)$", re.IGNORECASE)
_POINTER_VALUE = re.compile(r"^(arn:|/|\{\{resolve:|ssm:|secretsmanager:|https?://)", re.IGNORECASE)
# Values that are credentials whatever their name (provider formats with fixed prefixes).
_SECRET_VALUE = re.compile(
    r"(?:\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----|\bgh[pousr]_[A-Za-z0-9]{36}\b|"
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}|\bsk_live_[A-Za-z0-9]{20,}|\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.)")


def secret_reason(name: str, value: Any) -> str | None:
    """Why a name/value pair is a plaintext credential, or None. Unknown values (outputs) never are."""
    if not isinstance(value, str) or not value.strip():
        return None
    if _SECRET_VALUE.search(value):
        return "its value has the format of a credential"
    if _SECRET_NAME.search(name) and not _POINTER_NAME.search(name) and not _POINTER_VALUE.match(value) \
            and len(value) >= 8:
        return "its name says it is a credential and its value is not a reference"
    return None


@resource_policy(
    name="lambda-no-plaintext-secrets",
    description="Lambda environment variables must not hold credentials in plain text.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("CKV_AWS_45",),
    remediation="Keep the credential in Secrets Manager (or an SSM SecureString) and pass its ARN or name; the "
    "function reads it at run time. Environment variables are visible to anyone who can read the function's "
    "configuration.",
    resource_types=(T.LAMBDA_FUNCTION,),
    config={"exemptVariables": string_list("Variable names that look like credentials but are not.", [])},
    preview_note="Values computed from outputs (ARNs, names) are unknown at preview and are never credentials; "
    "a Pulumi secret put into an environment variable is plain text there and fails.",
)
def lambda_no_plaintext_secrets(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    variables = r.get("environment.variables")
    if not isinstance(variables, dict):
        return
    for name, value in sorted(variables.items()):
        if name in cfg["exemptVariables"] or value is UNKNOWN:
            continue
        reason = secret_reason(name, value)
        if reason:
            yield f"The Lambda function {r.label} has environment variable {name} in plain text: {reason}."


@resource_policy(
    name="ssm-parameter-secure-string",
    description="SSM parameters holding credentials must be SecureString.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("CKV2_AWS_34",),
    remediation="Set `type='SecureString'` (with a customer managed `key_id`) for passwords, tokens and keys.",
    resource_types=(T.SSM_PARAMETER,),
    preview_note="The parameter's name (or the Pulumi resource name when the name is computed) and its value "
    "decide; an unknown value alone never fails.",
)
def ssm_parameter_secure_string(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    kind = r.get("type")
    if kind is UNKNOWN or kind == "SecureString":
        return
    name = r.get("name")
    label = (name if isinstance(name, str) else r.name).rsplit("/", 1)[-1]
    for key in ("value", "insecureValue"):
        value = r.get(key)
        if value is UNKNOWN and _SECRET_NAME.search(label) and not _POINTER_NAME.search(label):
            reason: str | None = "its name says it is a credential"
        else:
            reason = secret_reason(label, value)
        if reason:
            yield f"The SSM parameter {r.label} is a {kind or 'String'} parameter but {reason}; use SecureString."
            return
