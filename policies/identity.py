"""Identity: who can become a principal of the account (OIDC trust, IAM user credentials, password policy)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._iam import Statement, grants_action
from ._meta import integer, resource_policy, string_list
from ._model import Resource
from ._values import UNKNOWN, as_bool, as_list, as_number, get
from .iam import statements_or_error

GITHUB = "token.actions.githubusercontent.com"
_POSITIVE = ("stringequals", "stringequalsignorecase", "stringlike", "foranyvalue:stringequals",
             "foranyvalue:stringlike")


def _providers(statement: Statement) -> list[Any]:
    """The OIDC providers a trust statement names: host names (``token.actions.githubusercontent.com``),
    UNKNOWN when the provider ARN is an output."""
    federated = get(statement.principal, "Federated") if isinstance(statement.principal, Mapping) else None
    hosts: list[Any] = []
    for value in as_list(federated):
        if value is UNKNOWN:
            hosts.append(UNKNOWN)
        elif isinstance(value, str) and "saml-provider/" not in value:
            hosts.append(value.split("oidc-provider/", 1)[-1].lower())
    return hosts


def _subject_pins(host: Any, value: Any) -> bool:
    """A ``sub`` value that names particular identities, not every user of the provider."""
    if value is UNKNOWN:
        return True
    if not isinstance(value, str) or not value.strip("*? "):
        return False
    if host == GITHUB:  # repo:OWNER/REPO:...: the owner must be fixed, or any GitHub user's workflow matches
        owner = value.removeprefix("repo:").split("/", 1)[0] if value.startswith("repo:") else ""
        return bool(owner) and not any(c in owner for c in "*?")
    return True


def _pinning_keys(host: Any) -> tuple[str, ...]:
    if host == "cognito-identity.amazonaws.com":
        return ("cognito-identity.amazonaws.com:aud",)  # the identity pool id
    if isinstance(host, str):
        return (f"{host}:sub",)
    return ()


def _subject_pinned(statement: Statement, host: Any) -> bool:
    keys = _pinning_keys(host)
    for operator, clauses in statement.conditions.items():
        if str(operator).lower() not in _POSITIVE or not isinstance(clauses, Mapping):
            continue
        for key, value in clauses.items():
            key_text = str(key).lower()
            known_key = key_text in keys or (not keys and key_text.endswith(":sub"))
            if known_key and all(_subject_pins(host, v) for v in as_list(value)) and as_list(value):
                return True
    return False


@resource_policy(
    name="iam-oidc-trust-pinned-subject",
    description="Roles trusted by an OIDC provider (GitHub Actions or any other) must pin the token's subject.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("CKV_AWS_358", "CKV_AWS_393"),
    remediation="In the trust policy add `StringEquals` (or `StringLike`) on `<provider>:sub`, e.g. "
    "`token.actions.githubusercontent.com:sub: repo:OWNER/REPO:ref:refs/heads/main` (the owner fixed); Cognito "
    "identity pools pin `cognito-identity.amazonaws.com:aud`. IfExists and negated operators do not pin.",
    resource_types=(T.IAM_ROLE,),
    preview_note="A trust policy built from outputs is unknown at preview and checked at update. When the "
    "provider ARN is an output, any `<issuer>:sub` condition counts.",
)
def iam_oidc_trust_pinned_subject(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    document = r.get("assumeRolePolicy")
    if document is None:
        return
    statements, error = statements_or_error(r, "assumeRolePolicy", document)
    if error:
        return  # reported by iam-no-wildcard-actions
    for st in statements or []:
        if not st.allows or not grants_action(st, "sts:AssumeRoleWithWebIdentity"):
            continue
        for host in _providers(st):
            if not _subject_pinned(st, host):
                shown = "an OIDC provider" if host is UNKNOWN else f"OIDC provider {host}"
                yield (f"The trust policy of {r.label} lets every identity of {shown} assume it in {st.ref}: no "
                       "condition pins the token's subject (sub).")


_CREDENTIALS = {
    T.IAM_ACCESS_KEY: "an access key (a long-lived secret)",
    T.IAM_USER_LOGIN_PROFILE: "a console password",
    T.IAM_SERVICE_SPECIFIC_CREDENTIAL: "a service-specific credential (a long-lived secret)",
    T.IAM_SIGNING_CERTIFICATE: "a signing certificate",
}


@resource_policy(
    name="iam-no-user-credentials",
    description="IAM users must not get passwords or long-lived keys; people and workloads use roles.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("IAM.3", "IAM.5", "IAM.6", "IAM.22", "CIS3 1.4", "CIS3 1.11", "CIS3 1.14", "CKV2_AWS_22"),
    remediation="Use IAM Identity Center or OIDC federation for people and CI, and roles for workloads. A user "
    "that must exist (break-glass) goes in `exemptUserNames`.",
    resource_types=tuple(_CREDENTIALS),
    config={"exemptUserNames": string_list("IAM user names allowed to have credentials.", [])},
)
def iam_no_user_credentials(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    user = r.get("user") if r.get("user") is not None else r.get("userName")
    if isinstance(user, str) and user in cfg["exemptUserNames"]:
        return
    shown = f"IAM user '{user}'" if isinstance(user, str) else "an IAM user"
    yield f"The {r.label} gives {shown} {_CREDENTIALS[r.type]}; use roles and federation instead."


@resource_policy(
    name="iam-password-policy",
    description="The account password policy must require long, complex, non-reused, expiring passwords.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("IAM.7", "IAM.15", "IAM.16", "CIS3 1.8", "CIS3 1.9", "CKV_AWS_9", "CKV_AWS_10", "CKV_AWS_11",
              "CKV_AWS_12", "CKV_AWS_13", "CKV_AWS_14", "CKV_AWS_15"),
    remediation="Set minimum_password_length >= 14, password_reuse_prevention >= 24, require upper/lower case, "
    "numbers and symbols, and max_password_age <= 90.",
    resource_types=(T.IAM_ACCOUNT_PASSWORD_POLICY,),
    config={
        "minimumLength": integer("Minimum password length (IAM.15, CIS 1.8).", 14, 8),
        "reusePrevention": integer("Previous passwords that may not be reused (IAM.16, CIS 1.9).", 24, 1),
        "maxAgeDays": integer("Longest password lifetime in days (IAM.7).", 90, 1),
    },
    preview_note="An account without a declared password policy is the post-deploy audit's job.",
)
def iam_password_policy(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    gaps = []
    for key, minimum, default in (("minimumPasswordLength", cfg["minimumLength"], 6),
                                  ("passwordReusePrevention", cfg["reusePrevention"], 0)):
        value = r.get(key)
        number = as_number(value) if value is not None else default
        if value is not UNKNOWN and (number is None or number < minimum):
            gaps.append(f"{key} is {value if value is not None else f'absent ({default})'}, at least {minimum}")
    age = r.get("maxPasswordAge")
    if age is not UNKNOWN and (as_number(age) in (None, 0) or (as_number(age) or 0) > cfg["maxAgeDays"]):
        gaps.append(f"maxPasswordAge is {age if age is not None else 'absent (never expires)'}, at most "
                    f"{cfg['maxAgeDays']}")
    for key in ("requireUppercaseCharacters", "requireLowercaseCharacters", "requireNumbers", "requireSymbols"):
        if r.get(key) is not UNKNOWN and as_bool(r.get(key)) is not True:
            gaps.append(f"{key} is not true")
    if gaps:
        yield f"The account password policy {r.label} is weak: {'; '.join(gaps)}."
