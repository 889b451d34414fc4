"""Identity and secrets: OIDC trust, IAM user credentials, password policy, admin through every attachment form,
plaintext credentials in Lambda environments and SSM String parameters. Compliant, non-compliant, absent,
unknown and config override cases per policy, each input form of the resource."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY

from policies import _tokens as T
from policies.registry import BY_NAME
from policies.secrets import secret_reason

from .harness import UNKNOWN, Pack, of
from .test_resource_policies import Case, _pol

GITHUB_ARN = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
EKS_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def _trust(federated: Any, condition: dict[str, Any] | None = None,
           action: Any = "sts:AssumeRoleWithWebIdentity") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Federated": federated}, "Action": action}
    if condition is not None:
        statement["Condition"] = condition
    return {"assumeRolePolicy": _pol(statement)}


OIDC = "iam-oidc-trust-pinned-subject"
GH_SUB = "token.actions.githubusercontent.com:sub"
GH_AUD = {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}
CASES = [
    Case("oidc-github-pinned", OIDC, T.IAM_ROLE, _trust(GITHUB_ARN, {
        **GH_AUD, "StringLike": {GH_SUB: "repo:acme/platform:ref:refs/heads/main"}}), 0),
    Case("oidc-github-repo-wildcard", OIDC, T.IAM_ROLE, _trust(GITHUB_ARN, {"StringLike": {GH_SUB: "repo:acme/*"}}),
         0),
    Case("oidc-github-aud-only", OIDC, T.IAM_ROLE, _trust(GITHUB_ARN, GH_AUD), 1,
         "every identity of OIDC provider token.actions.githubusercontent.com"),
    Case("oidc-github-any-owner", OIDC, T.IAM_ROLE, _trust(GITHUB_ARN, {"StringLike": {GH_SUB: "repo:*"}}), 1),
    Case("oidc-github-star", OIDC, T.IAM_ROLE, _trust(GITHUB_ARN, {"StringLike": {GH_SUB: "*"}}), 1),
    Case("oidc-github-if-exists", OIDC, T.IAM_ROLE,
         _trust(GITHUB_ARN, {"StringLikeIfExists": {GH_SUB: "repo:acme/platform:*"}}), 1),
    Case("oidc-eks-pinned", OIDC, T.IAM_ROLE, _trust(EKS_ARN, {"StringEquals": {
        "oidc.eks.eu-west-1.amazonaws.com/id/abc:sub": "system:serviceaccount:app:api"}}), 0),
    Case("oidc-eks-unpinned", OIDC, T.IAM_ROLE, _trust(EKS_ARN), 1, "oidc.eks.eu-west-1.amazonaws.com/id/abc"),
    Case("oidc-provider-output-pinned", OIDC, T.IAM_ROLE, {"assumeRolePolicy": {"Statement": [{
        "Effect": "Allow", "Principal": {"Federated": UNKNOWN}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"accounts.example.com:sub": "svc-1"}}}]}}, 0),
    Case("oidc-provider-output-unpinned", OIDC, T.IAM_ROLE, {"assumeRolePolicy": {"Statement": [{
        "Effect": "Allow", "Principal": {"Federated": UNKNOWN}, "Action": "sts:AssumeRoleWithWebIdentity"}]}}, 1,
         "an OIDC provider"),
    Case("oidc-cognito-aud", OIDC, T.IAM_ROLE, _trust("cognito-identity.amazonaws.com", {
        "StringEquals": {"cognito-identity.amazonaws.com:aud": "eu-west-1:pool"}}), 0),
    Case("oidc-action-wildcard", OIDC, T.IAM_ROLE, _trust(GITHUB_ARN, action="sts:AssumeRole*"), 1),
    Case("oidc-service-trust", OIDC, T.IAM_ROLE, {"assumeRolePolicy": _pol({
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})}, 0),
    Case("oidc-unknown-doc", OIDC, T.IAM_ROLE, {"assumeRolePolicy": UNKNOWN}, 0),
    # IAM user credentials: every credential resource.
    Case("user-access-key", "iam-no-user-credentials", T.IAM_ACCESS_KEY, {"user": "ci"}, 1,
         "IAM user 'ci' an access key"),
    Case("user-login-profile", "iam-no-user-credentials", T.IAM_USER_LOGIN_PROFILE, {"user": UNKNOWN}, 1,
         "console password"),
    Case("user-service-credential", "iam-no-user-credentials", T.IAM_SERVICE_SPECIFIC_CREDENTIAL,
         {"userName": "git", "serviceName": "codecommit.amazonaws.com"}, 1, "service-specific credential"),
    Case("user-signing-certificate", "iam-no-user-credentials", T.IAM_SIGNING_CERTIFICATE,
         {"userName": "x", "certificateBody": "cert"}, 1, "signing certificate"),
    Case("user-exempt", "iam-no-user-credentials", T.IAM_ACCESS_KEY, {"user": "break-glass"}, 0,
         config={"exemptUserNames": ["break-glass"]}),
    # Account password policy.
    Case("password-strong", "iam-password-policy", T.IAM_ACCOUNT_PASSWORD_POLICY, {
        "minimumPasswordLength": 14, "passwordReusePrevention": 24, "maxPasswordAge": 90,
        "requireUppercaseCharacters": True, "requireLowercaseCharacters": True, "requireNumbers": True,
        "requireSymbols": True}, 0),
    Case("password-absent", "iam-password-policy", T.IAM_ACCOUNT_PASSWORD_POLICY, {}, 1,
         "minimumPasswordLength is absent (6), at least 14"),
    Case("password-short", "iam-password-policy", T.IAM_ACCOUNT_PASSWORD_POLICY, {
        "minimumPasswordLength": 8, "passwordReusePrevention": 24, "maxPasswordAge": 90,
        "requireUppercaseCharacters": True, "requireLowercaseCharacters": True, "requireNumbers": True,
        "requireSymbols": True}, 1, "minimumPasswordLength is 8"),
    Case("password-unknown", "iam-password-policy", T.IAM_ACCOUNT_PASSWORD_POLICY, dict.fromkeys(
        ("minimumPasswordLength", "passwordReusePrevention", "maxPasswordAge", "requireUppercaseCharacters",
         "requireLowercaseCharacters", "requireNumbers", "requireSymbols"), UNKNOWN), 0),
    Case("password-config", "iam-password-policy", T.IAM_ACCOUNT_PASSWORD_POLICY, {
        "minimumPasswordLength": 16, "passwordReusePrevention": 24, "maxPasswordAge": 90,
        "requireUppercaseCharacters": True, "requireLowercaseCharacters": True, "requireNumbers": True,
        "requireSymbols": True}, 1, "at least 20", config={"minimumLength": 20}),
    # Admin through every attachment form.
    *[Case(f"admin-{name}", "iam-no-admin-managed-policies", type_, props, 1, "AdministratorAccess")
      for name, type_, props in (
          ("role-managed", T.IAM_ROLE, {"managedPolicyArns": [ADMIN]}),
          ("role-attachment", T.IAM_ROLE_POLICY_ATTACHMENT, {"role": "r", "policyArn": ADMIN}),
          ("user-attachment", T.IAM_USER_POLICY_ATTACHMENT, {"user": "u", "policyArn": ADMIN}),
          ("group-attachment", T.IAM_GROUP_POLICY_ATTACHMENT, {"group": "g", "policyArn": ADMIN}),
          ("policy-attachment", T.IAM_POLICY_ATTACHMENT, {"groups": ["g"], "policyArn": ADMIN}),
          ("role-exclusive", T.IAM_ROLE_POLICY_ATTACHMENTS_EXCLUSIVE, {"roleName": "r", "policyArns": [ADMIN]}),
          ("user-exclusive", T.IAM_USER_POLICY_ATTACHMENTS_EXCLUSIVE, {"userName": "u", "policyArns": [ADMIN]}),
          ("group-exclusive", T.IAM_GROUP_POLICY_ATTACHMENTS_EXCLUSIVE, {"groupName": "g", "policyArns": [ADMIN]}),
      )],
    Case("admin-exclusive-scoped", "iam-no-admin-managed-policies", T.IAM_GROUP_POLICY_ATTACHMENTS_EXCLUSIVE,
         {"groupName": "g", "policyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess", UNKNOWN]}, 0),
    Case("admin-exclusive-unknown", "iam-no-admin-managed-policies", T.IAM_ROLE_POLICY_ATTACHMENTS_EXCLUSIVE,
         {"roleName": "r", "policyArns": UNKNOWN}, 0),
    Case("admin-config", "iam-no-admin-managed-policies", T.IAM_GROUP_POLICY_ATTACHMENT,
         {"policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}, 1,
         config={"forbiddenPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}),
    Case("admin-inline-group-policy", "iam-no-wildcard-actions", T.IAM_GROUP_POLICY,
         {"policy": _pol({"Effect": "Allow", "Action": "*", "Resource": "*"})}, 1, "action '*'"),
    Case("user-exclusive-grants", "iam-no-user-policies", T.IAM_USER_POLICY_ATTACHMENTS_EXCLUSIVE,
         {"userName": "u", "policyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}, 1, "IAM user"),
    Case("user-exclusive-empty", "iam-no-user-policies", T.IAM_USER_POLICY_ATTACHMENTS_EXCLUSIVE,
         {"userName": "u", "policyArns": []}, 0),
]

LAMBDA, SSM = "lambda-no-plaintext-secrets", "ssm-parameter-secure-string"


def _env(**variables: Any) -> dict[str, Any]:
    return {"runtime": "python3.12", "environment": {"variables": variables}}


CASES += [
    Case("lambda-env-password", LAMBDA, T.LAMBDA_FUNCTION, _env(DB_PASSWORD="hunter2-is-long"), 1, "DB_PASSWORD"),
    Case("lambda-env-access-key", LAMBDA, T.LAMBDA_FUNCTION, _env(SETTING="AKIAIOSFODNN7EXAMPLE"), 1,
         "format of a credential"),
    Case("lambda-env-private-key", LAMBDA, T.LAMBDA_FUNCTION,
         _env(CERT="-----BEGIN RSA PRIVATE KEY-----\nMIIE"), 1, "CERT"),
    Case("lambda-env-secret-arn", LAMBDA, T.LAMBDA_FUNCTION,
         _env(OAUTH_CLIENT_SECRET_ARN="arn:aws:secretsmanager:eu-west-1:1:secret:x", API_TOKEN_PARAM="/app/token",
              OAUTH_TOKEN_URL="https://idp.example.com/token", DB_USER="app"), 0),
    Case("lambda-env-secret-unknown", LAMBDA, T.LAMBDA_FUNCTION, _env(DB_PASSWORD=UNKNOWN), 0),
    Case("lambda-env-absent", LAMBDA, T.LAMBDA_FUNCTION, {"runtime": "python3.12"}, 0),
    Case("lambda-env-unknown", LAMBDA, T.LAMBDA_FUNCTION, {"environment": UNKNOWN}, 0),
    Case("lambda-env-exempt", LAMBDA, T.LAMBDA_FUNCTION, _env(TOKEN_AUDIENCE="orders-api-prod"), 0,
         config={"exemptVariables": ["TOKEN_AUDIENCE"]}),
    Case("ssm-string-password", SSM, T.SSM_PARAMETER, {"name": "/app/db-password", "type": "String",
                                                       "value": "s3cr3t-value!"}, 1, "use SecureString"),
    Case("ssm-string-insecure-value", SSM, T.SSM_PARAMETER, {"name": "/app/api_key", "type": "String",
                                                             "insecureValue": "abcdefgh12345"}, 1),
    Case("ssm-string-computed-secret", SSM, T.SSM_PARAMETER, {"name": "/app/db-password", "type": "String",
                                                              "value": UNKNOWN}, 1, "name says"),
    Case("ssm-string-token-format", SSM, T.SSM_PARAMETER, {"name": "/app/setting", "type": "StringList",
                                                           "value": "ghp_" + "a" * 36}, 1, "format"),
    Case("ssm-secure-string", SSM, T.SSM_PARAMETER, {"name": "/app/db-password", "type": "SecureString",
                                                     "value": "s3cr3t-value!"}, 0),
    Case("ssm-string-plain-setting", SSM, T.SSM_PARAMETER, {"name": "/app/log-level", "type": "String",
                                                            "value": "INFO"}, 0),
    Case("ssm-string-secret-arn", SSM, T.SSM_PARAMETER, {"name": "/app/db-password-arn", "type": "String",
                                                         "value": "arn:aws:secretsmanager:eu-west-1:1:secret:x"}, 0),
    Case("ssm-type-unknown", SSM, T.SSM_PARAMETER, {"name": "/app/db-password", "type": UNKNOWN, "value": "x"}, 0),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    pack = Pack({case.policy: case.config} if case.config else None)
    diags = of(pack.analyze(case.type, case.props), case.policy)
    assert len(diags) == case.expected, [d.message for d in diags]
    assert all(case.phrase in d.message and "'res'" in d.message for d in diags), [d.message for d in diags]
    level = "mandatory" if BY_NAME[case.policy].category == "exposure" else "advisory"
    assert all(d.level == level for d in diags)


@pytest.mark.parametrize(("name", "value", "secret"), [
    ("STRIPE_KEY", "sk_live_" + "x" * 24, True),
    ("JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig", True),
    ("CLIENT_SECRET", "short", False),  # too short to be a credential
    ("SECRET_NAME", "prod/oauth-client", False),
    ("TIMEOUT", "30", False),
])
def test_secret_reason(name: str, value: str, secret: bool) -> None:
    assert (secret_reason(name, value) is not None) is secret


def test_a_pulumi_secret_in_an_environment_variable_is_plain_text_there() -> None:
    # The engine sends a secret wrapped in its signature object; the function's configuration shows it in clear.
    wrapped = {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": "correct-horse-battery-staple"}
    diags = of(Pack().analyze(T.LAMBDA_FUNCTION, _env(DB_PASSWORD=wrapped)), LAMBDA)
    assert len(diags) == 1 and "DB_PASSWORD" in diags[0].message
