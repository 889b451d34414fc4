"""Paths moto cannot produce, answered by botocore Stubber with the documented AWS responses:
access denied, AWS managed keys (moto reports every key as CUSTOMER), Security Hub standard states
(moto 5.2.5 has no GetEnabledStandards)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from audit.aws import Aws, AwsCallError
from audit.checks import apigateway, baseline, data, kms, network
from audit.checks.context import AuditContext
from audit.outputs import parse_outputs
from tests.audit.account import ACCOUNT

REGION = "eu-west-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
OUTPUTS = {
    "environment": "prod", "region": REGION, "account_id": ACCOUNT,
    "api": {"url": "https://x.execute-api.eu-west-1.amazonaws.com/prod", "rest_api_id": "abc123",
            "stage_name": "prod", "stage_arn": f"arn:aws:apigateway:{REGION}::/restapis/abc123/stages/prod",
            "access_log_group": "access", "execution_log_group": "exec"},
    "network": {"vpc_id": "vpc-1"},
    "keys": {"data": KEY, "logs": KEY, "secrets": KEY},
    "backend": {"db_instance_id": "db"},
    "monitoring": {"owns_account_baseline": True},
}


def context() -> AuditContext:
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing")
    return AuditContext(aws=Aws(session, REGION), outputs=parse_outputs(json.dumps(OUTPUTS)),
                        production=True)


def stub(ctx: AuditContext, service: str) -> Stubber:
    stubber = Stubber(ctx.aws.client(service))
    stubber.activate()
    return stubber


@pytest.mark.parametrize(("service", "method", "code", "action"), [
    ("apigateway", "get_stage", "AccessDeniedException", "apigateway:GET"),
    ("ec2", "describe_security_groups", "UnauthorizedOperation", "ec2:DescribeSecurityGroups"),
    ("s3", "get_public_access_block", "AccessDenied", "s3:GetBucketPublicAccessBlock"),
    ("securityhub", "get_enabled_standards", "AccessDeniedException", "securityhub:GetEnabledStandards"),
])
def test_access_denied_names_the_missing_iam_permission(service: str, method: str, code: str, action: str) -> None:
    ctx = context()
    stub(ctx, service).add_client_error(method, service_error_code=code, http_status_code=403)
    with pytest.raises(AwsCallError) as caught:
        kwargs: dict[str, Any] = {"s3": {"Bucket": "b"},
                                  "apigateway": {"restApiId": "abc123", "stageName": "prod"}}.get(service, {})
        ctx.aws.call(service, method, **kwargs)
    assert caught.value.access_denied
    assert action in str(caught.value) and "access denied" in str(caught.value)


def test_denied_call_turns_the_dependent_checks_into_errors() -> None:
    ctx = context()
    stub(ctx, "apigateway").add_client_error("get_stage", service_error_code="AccessDeniedException",
                                             http_status_code=403)
    results = apigateway._stage(ctx)
    assert {r.status.value for r in results} == {"error"}
    assert all("apigateway:GET" in r.message for r in results)


def test_aws_managed_key_is_not_customer_managed() -> None:
    ctx = context()
    stubber = stub(ctx, "kms")
    stubber.add_response("describe_key", {"KeyMetadata": {
        "KeyId": KEY.rsplit("/", maxsplit=1)[-1], "Arn": KEY, "KeyManager": "AWS", "KeyState": "Enabled"}})
    stubber.add_response("get_key_rotation_status", {"KeyRotationEnabled": True})
    ownership, rotation = kms._key(ctx, "data", KEY)
    assert ownership.status.value == "fail" and "AWS" in ownership.message
    assert rotation.status.value == "pass"


def test_aws_managed_alias_fails_without_a_call() -> None:
    managed, why = context().customer_managed("alias/aws/sqs")
    assert not managed and "AWS managed" in why


@pytest.mark.parametrize(("subscriptions", "status"), [
    ([("aws-foundational-security-best-practices/v/1.0.0", "READY")], "pass"),
    ([("aws-foundational-security-best-practices/v/1.0.0", "PENDING")], "fail"),
    ([("cis-aws-foundations-benchmark/v/3.0.0", "READY")], "fail"),
    ([], "fail"),
])
def test_security_hub_fsbp_state(subscriptions: list[tuple[str, str]], status: str) -> None:
    ctx = context()
    stub(ctx, "securityhub").add_response("get_enabled_standards", {"StandardsSubscriptions": [
        {"StandardsSubscriptionArn": f"arn:aws:securityhub:{REGION}:{ACCOUNT}:subscription/{name}",
         "StandardsArn": f"arn:aws:securityhub:{REGION}::standards/{name}", "StandardsInput": {},
         "StandardsStatus": state} for name, state in subscriptions]})
    assert baseline._securityhub(ctx).status.value == status


def test_security_hub_not_subscribed_is_a_finding_not_an_error() -> None:
    ctx = context()
    stub(ctx, "securityhub").add_client_error("get_enabled_standards", service_error_code="InvalidAccessException",
                                              http_status_code=401)
    result = baseline._securityhub(ctx)
    assert result.status.value == "fail" and "not enabled" in result.message


@pytest.mark.parametrize(("statement", "ok"), [
    ({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
      "Condition": {"Bool": {"aws:SecureTransport": "false"}}}, True),
    ({"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": ["s3:*"], "Resource": "arn:aws:s3:::b*",
      "Condition": {"Bool": {"aws:SecureTransport": False}}}, True),
    ({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
      "Condition": {"Bool": {"aws:SecureTransport": "false"}}}, False),
    ({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::b/*"],
      "Condition": {"Bool": {"aws:SecureTransport": "false"}}}, False),
    ({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b"],
      "Condition": {"Bool": {"aws:SecureTransport": "false"}}}, False),   # objects not covered
    ({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]},
     False),
])
def test_tls_only_bucket_policy(statement: dict[str, object], ok: bool) -> None:
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    assert data.denies_insecure_transport(policy, "b") is ok


@pytest.mark.parametrize(("entry", "finding"), [
    ({"RuleNumber": 100, "Egress": False, "RuleAction": "allow", "CidrBlock": "0.0.0.0/0", "Protocol": "6",
      "PortRange": {"From": 443, "To": 443}}, False),
    ({"RuleNumber": 100, "Egress": False, "RuleAction": "allow", "Ipv6CidrBlock": "::/0", "Protocol": "6",
      "PortRange": {"From": 1024, "To": 65535}}, False),
    ({"RuleNumber": 100, "Egress": False, "RuleAction": "allow", "CidrBlock": "0.0.0.0/0", "Protocol": "-1"}, True),
    ({"RuleNumber": 100, "Egress": False, "RuleAction": "allow", "CidrBlock": "0.0.0.0/0", "Protocol": "17",
      "PortRange": {"From": 0, "To": 65535}}, True),
    ({"RuleNumber": 100, "Egress": False, "RuleAction": "deny", "CidrBlock": "0.0.0.0/0", "Protocol": "-1"}, False),
    ({"RuleNumber": 100, "Egress": True, "RuleAction": "allow", "CidrBlock": "0.0.0.0/0", "Protocol": "-1"}, False),
    ({"RuleNumber": 100, "Egress": False, "RuleAction": "allow", "CidrBlock": "10.0.0.0/16", "Protocol": "-1"},
     False),
])
def test_nacl_entries(entry: dict[str, object], finding: bool) -> None:
    assert bool(network._nacl_problems([entry], {443})) is finding


@pytest.mark.parametrize(("perm", "finding"), [
    ({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, False),
    ({"IpProtocol": "tcp", "FromPort": 80, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, True),
    ({"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}, True),
    ({"IpProtocol": "udp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, True),
    ({"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}, False),
])
def test_security_group_permissions(perm: dict[str, object], finding: bool) -> None:
    assert bool(list(network._sg_problems(perm, {443}))) is finding
