"""Secure configurations the pack used to block (issue 11), each a passing case beside its failing twin.

Every input form of the resource is covered: inline and companion resources, v1 and v2 APIs, `.rule` and
`.rules`. Each case runs through the real analyzer servicer, unknowns as the engine sends them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest

from policies import _tokens as T
from policies.registry import BY_NAME

from .harness import UNKNOWN, Pack, Res, of
from .test_resource_policies import CASES as _BASE_CASES
from .test_resource_policies import Case, _pol
from .test_stack_policies import _bucket_graph

ACCOUNT = "123456789012"
ALLOW_ANY = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}


def _when(operator: str, key: str, value: Any) -> dict[str, Any]:
    return {**ALLOW_ANY, "Condition": {operator: {key: value}}}


def _deny_unless(operator: str, key: str, value: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
            "Condition": {operator: {key: value}, **extra}}


def _bucket_policy(case_id: str, expected: int, *statements: dict[str, Any]) -> Case:
    return Case(case_id, "resource-policy-not-public", T.S3_BUCKET_POLICY, {"policy": _pol(*statements)}, expected,
                "anonymous or any-account callers")


PUBLIC_POLICY_CASES = [
    # Restricted to the caller's VPC endpoint owner / organization, or the principal's organization path.
    _bucket_policy("vpce-account", 0, _when("StringEquals", "aws:VpceAccount", ACCOUNT)),
    _bucket_policy("vpce-org-id", 0, _when("StringEquals", "aws:VpceOrgID", "o-a1b2c3d4e5")),
    _bucket_policy("principal-org-paths", 0,
                   _when("ForAnyValue:StringLike", "aws:PrincipalOrgPaths", ["o-a1b2c3d4e5/r-ab12/ou-ab12-111/*"])),
    _bucket_policy("principal-org-paths-any-org", 1, _when("ForAnyValue:StringLike", "aws:PrincipalOrgPaths", "o-*")),
    _bucket_policy("principal-org-id", 0, _when("StringEquals", "aws:PrincipalOrgID", "o-a1b2c3d4e5")),
    _bucket_policy("principal-org-id-unknown", 0, _when("StringEquals", "aws:PrincipalOrgID", UNKNOWN)),
    # IfExists, negated and ForAllValues operators do not pin: anonymous callers carry no org id.
    _bucket_policy("org-id-if-exists", 1, _when("StringEqualsIfExists", "aws:PrincipalOrgID", "o-a1b2c3d4e5")),
    _bucket_policy("org-id-negated", 1, _when("StringNotEquals", "aws:PrincipalOrgID", "o-a1b2c3d4e5")),
    _bucket_policy("org-id-for-all-values", 1,
                   _when("ForAllValues:StringEquals", "aws:PrincipalOrgID", "o-a1b2c3d4e5")),
    _bucket_policy("org-id-null", 1, _when("Null", "aws:PrincipalOrgID", "false")),
    # aws:SourceArn pins only with a fixed account; a wildcard in the resource part is fine.
    _bucket_policy("source-arn-any-account", 1,
                   _when("ArnLike", "aws:SourceArn", "arn:aws:execute-api:eu-west-1:*:abc123/*/*")),
    _bucket_policy("source-arn-fixed-account", 0,
                   _when("ArnLike", "aws:SourceArn", f"arn:aws:execute-api:eu-west-1:{ACCOUNT}:abc123/*/*")),
    _bucket_policy("source-arn-bucket-wildcard", 1, _when("ArnLike", "aws:SourceArn", "arn:aws:s3:::*")),
    _bucket_policy("source-ip-fixed", 0, _when("IpAddress", "aws:SourceIp", "203.0.113.0/24")),
    _bucket_policy("source-ip-world", 1, _when("IpAddress", "aws:SourceIp", "0.0.0.0/0")),
    # NotPrincipal allows everyone else.
    _bucket_policy("not-principal", 1, {"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                                        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}),
    # A Deny of everyone outside the organization takes the public Allow away (Deny overrides Allow) ...
    _bucket_policy("deny-outside-org", 0, ALLOW_ANY,
                   _deny_unless("StringNotEquals", "aws:PrincipalOrgID", "o-a1b2c3d4e5")),
    _bucket_policy("deny-outside-org-if-exists", 0, ALLOW_ANY,
                   _deny_unless("StringNotEqualsIfExists", "aws:PrincipalOrgID", "o-a1b2c3d4e5")),
    _bucket_policy("deny-outside-vpce-account", 0, ALLOW_ANY,
                   _deny_unless("StringNotEquals", "aws:VpceAccount", ACCOUNT)),
    # ... but not when it only applies in some other case too, or to other actions.
    _bucket_policy("deny-outside-org-only-over-http", 1, ALLOW_ANY,
                   _deny_unless("StringNotEquals", "aws:PrincipalOrgID", "o-a1b2c3d4e5",
                                Bool={"aws:SecureTransport": "false"})),
    _bucket_policy("deny-other-action", 1, ALLOW_ANY,
                   {**_deny_unless("StringNotEquals", "aws:PrincipalOrgID", "o-1"), "Action": "s3:PutObject"}),
    _bucket_policy("deny-positive-operator", 1, ALLOW_ANY,
                   _deny_unless("StringEquals", "aws:PrincipalOrgID", "o-a1b2c3d4e5")),
]

LAMBDA_PERMISSION_CASES = [
    Case("apigw-source-account", "lambda-not-public", T.LAMBDA_PERMISSION,
         {"principal": "apigateway.amazonaws.com", "action": "lambda:InvokeFunction", "sourceAccount": ACCOUNT}, 0),
    Case("apigw-source-account-unknown", "lambda-not-public", T.LAMBDA_PERMISSION,
         {"principal": "apigateway.amazonaws.com", "sourceAccount": UNKNOWN}, 0),
    Case("apigw-source-arn-any-account", "lambda-not-public", T.LAMBDA_PERMISSION,
         {"principal": "apigateway.amazonaws.com", "sourceArn": "arn:aws:execute-api:eu-west-1:*:abc/*/*"}, 1,
         "sourceArn in a fixed account"),
    Case("apigw-source-arn-fixed", "lambda-not-public", T.LAMBDA_PERMISSION,
         {"principal": "apigateway.amazonaws.com", "sourceArn": f"arn:aws:execute-api:eu-west-1:{ACCOUNT}:abc/*/*"}, 0),
    Case("star-with-org-id", "lambda-not-public", T.LAMBDA_PERMISSION,
         {"principal": "*", "action": "lambda:InvokeFunction", "principalOrgId": "o-a1b2c3d4e5"}, 0),
    Case("star-with-org-id-unknown", "lambda-not-public", T.LAMBDA_PERMISSION,
         {"principal": "*", "principalOrgId": UNKNOWN}, 0),
    Case("star-with-source-account", "lambda-not-public", T.LAMBDA_PERMISSION,
         {"principal": "*", "sourceAccount": ACCOUNT}, 0),
    Case("s3-source-arn-only", "lambda-not-public", T.LAMBDA_PERMISSION,
         {"principal": "s3.amazonaws.com", "sourceArn": "arn:aws:s3:::b"}, 1, "sourceAccount"),
    Case("s3-source-account", "lambda-not-public", T.LAMBDA_PERMISSION,
         {"principal": "s3.amazonaws.com", "sourceArn": "arn:aws:s3:::b", "sourceAccount": ACCOUNT}, 0),
    Case("account-principal", "lambda-not-public", T.LAMBDA_PERMISSION, {"principal": ACCOUNT}, 0),
    Case("unknown-principal", "lambda-not-public", T.LAMBDA_PERMISSION, {"principal": UNKNOWN}, 0),
]

RDS_LOG_CASES = [
    Case("rds-logs-postgres-fsbp", "rds-log-exports", T.RDS_INSTANCE,
         {"engine": "postgres", "enabledCloudwatchLogsExports": ["postgresql"]}, 0),
    Case("rds-logs-mariadb-fsbp", "rds-log-exports", T.RDS_INSTANCE,
         {"engine": "mariadb", "enabledCloudwatchLogsExports": ["audit", "error"]}, 0),
    Case("rds-logs-mariadb-missing", "rds-log-exports", T.RDS_INSTANCE,
         {"engine": "mariadb", "enabledCloudwatchLogsExports": ["error"]}, 1, "audit to CloudWatch Logs (RDS.42)"),
    Case("rds-logs-aurora-mysql-fsbp", "rds-log-exports", T.RDS_CLUSTER,
         {"engine": "aurora-mysql", "enabledCloudwatchLogsExports": ["audit"]}, 0),
    Case("rds-logs-aurora-mysql-absent", "rds-log-exports", T.RDS_CLUSTER, {"engine": "aurora-mysql"}, 1, "RDS.34"),
    Case("rds-logs-aurora-postgresql", "rds-log-exports", T.RDS_CLUSTER,
         {"engine": "aurora-postgresql", "enabledCloudwatchLogsExports": ["postgresql"]}, 0),
    Case("rds-logs-aurora-instance", "rds-log-exports", T.RDS_INSTANCE, {"engine": "aurora-postgresql"}, 0),
    Case("rds-logs-unknown", "rds-log-exports", T.RDS_INSTANCE,
         {"engine": "mysql", "enabledCloudwatchLogsExports": UNKNOWN}, 0),
]

NACL_CASES = [
    # The program's own return-traffic rules pass with the pack defaults (no stack config).
    Case("nacl-return-ports-default", "nacl-no-public-ingress", T.NETWORK_ACL_RULE,
         {"ruleAction": "allow", "protocol": "tcp", "fromPort": 1024, "toPort": 65535, "cidrBlock": "0.0.0.0/0"}, 0),
    Case("nacl-rule-ssh", "nacl-no-public-ingress", T.NETWORK_ACL_RULE,
         {"ruleAction": "allow", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlock": "0.0.0.0/0"}, 1,
         "tcp port 22"),
]

CASES = PUBLIC_POLICY_CASES + LAMBDA_PERMISSION_CASES + RDS_LOG_CASES + NACL_CASES
assert not {c.id for c in CASES} & {c.id for c in _BASE_CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    pack = Pack({case.policy: case.config} if case.config else None)
    diags = of(pack.analyze(case.type, case.props), case.policy)
    assert len(diags) == case.expected, [d.message for d in diags]
    assert all(case.phrase in d.message and "'res'" in d.message for d in diags), [d.message for d in diags]


def test_tls_policy_list_is_every_api_gateway_policy_but_tls_1_0() -> None:
    # The API Gateway API model (botocore) lists every security policy AWS accepts; all but TLS_1_0 refuse
    # TLS 1.0/1.1. A new AWS policy name fails here until the pack knows it.
    model = botocore.session.get_session().get_service_model("apigateway")
    offered = set(model.shape_for("SecurityPolicy").enum)
    allowed = set(BY_NAME["apigateway-domain-tls-policy"].config["allowedSecurityPolicies"]["default"])
    assert allowed == offered - {"TLS_1_0"}


# --- S3 default encryption: every input form ------------------------------------------------------------
KMS = {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/k"}
AES = {"sseAlgorithm": "AES256"}


def _bucket(type_: str, props: dict[str, Any]) -> list[Res]:
    graph = _bucket_graph()
    graph[0] = Res(type_, "bucket", {"bucket": UNKNOWN, "arn": UNKNOWN, **props})
    return [r for r in graph if r.type not in T.S3_SSE]


INLINE_FORMS: dict[str, tuple[str, Callable[[dict[str, str]], dict[str, Any]]]] = {
    "bucket-v7-rule": (T.S3_BUCKET, lambda d: {"serverSideEncryptionConfiguration": {
        "rule": {"applyServerSideEncryptionByDefault": d, "bucketKeyEnabled": True}}}),
    "bucketv2-rules": (T.S3_BUCKET_V2, lambda d: {"serverSideEncryptionConfigurations": [{
        "rules": [{"applyServerSideEncryptionByDefaults": [d], "bucketKeyEnabled": True}]}]}),
}


@pytest.mark.parametrize("form", sorted(INLINE_FORMS))
def test_inline_sse_kms_on_a_cmk_passes_and_sse_s3_fails(form: str) -> None:
    type_, props = INLINE_FORMS[form]
    assert of(Pack().analyze_stack(_bucket(type_, props(KMS))), "s3-bucket-encrypted-with-cmk") == []
    diags = of(Pack().analyze_stack(_bucket(type_, props(AES))), "s3-bucket-encrypted-with-cmk")
    assert len(diags) == 1 and "declares server-side encryption with sseAlgorithm AES256" in diags[0].message
    unknown = _bucket(type_, {("serverSideEncryptionConfiguration" if type_ == T.S3_BUCKET
                               else "serverSideEncryptionConfigurations"): UNKNOWN})
    assert of(Pack().analyze_stack(unknown), "s3-bucket-encrypted-with-cmk") == []


@pytest.mark.parametrize("companion", T.S3_SSE)
def test_companion_sse_configuration_v1_and_v2(companion: str) -> None:
    for default, expected in ((KMS, 0), (AES, 1)):
        graph = [*_bucket(T.S3_BUCKET, {}), Res(companion, "sse", {
            "bucket": UNKNOWN, "rules": [{"applyServerSideEncryptionByDefault": default}]},
            prop_deps={"bucket": ["bucket"]})]
        assert len(of(Pack().analyze_stack(graph), "s3-bucket-encrypted-with-cmk")) == expected


# --- GuardDuty S3 protection through the legacy datasources -----------------------------------------------
def _detector(props: dict[str, Any], features: tuple[str, ...]) -> list[Res]:
    return [Res(T.GUARDDUTY_DETECTOR, "gd", {"enable": True, **props}),
            *(Res(T.GUARDDUTY_FEATURE, f"f{i}", {"detectorId": UNKNOWN, "name": name, "status": "ENABLED"},
                  prop_deps={"detectorId": ["gd"]}) for i, name in enumerate(features))]


def test_guardduty_s3_protection_through_legacy_datasources() -> None:
    features = ("LAMBDA_NETWORK_LOGS", "RDS_LOGIN_EVENTS")
    legacy = _detector({"datasources": {"s3Logs": {"enable": True}}}, features)
    assert of(Pack().analyze_stack(legacy), "baseline-guardduty-features") == []
    off = _detector({"datasources": {"s3Logs": {"enable": False}}}, features)
    assert "S3_DATA_EVENTS" in of(Pack().analyze_stack(off), "baseline-guardduty-features")[0].message
    unknown = _detector({"datasources": UNKNOWN}, features)
    assert of(Pack().analyze_stack(unknown), "baseline-guardduty-features") == []


def test_public_policy_message_names_the_statement() -> None:
    doc = json.dumps({"Statement": [{**ALLOW_ANY, "Sid": "Open"}]})
    diags = of(Pack().analyze(T.SQS_QUEUE_POLICY, {"policy": doc}), "resource-policy-not-public")
    assert len(diags) == 1 and "statement 'Open'" in diags[0].message and diags[0].level == "mandatory"
