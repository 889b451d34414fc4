"""Data rules: snapshots, copies and replicas, Performance Insights, subnet groups, account and foreign-bucket
public access blocks, access points, directory buckets, trail event selectors — every input form."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies import _tokens as T

from .harness import UNKNOWN, Pack, Res, of

CMK = "data-encrypted-with-cmk"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1b2c3d4e-aaaa-bbbb-cccc-1234567890ab"


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


PUBLIC_GET = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
ACCOUNT_GET = {**PUBLIC_GET, "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}


@pytest.mark.parametrize("type_", [T.RDS_SNAPSHOT, T.RDS_CLUSTER_SNAPSHOT, T.RDS_SNAPSHOT_COPY,
                                   T.RDS_CLUSTER_SNAPSHOT_COPY])
@pytest.mark.parametrize(("shared", "count"), [(["all"], 1), (["123456789012", "ALL"], 1), (["123456789012"], 0),
                                               (None, 0), ([UNKNOWN], 0)])
def test_rds_snapshot_not_public(type_: str, shared: Any, count: int) -> None:
    props = {} if shared is None else {"sharedAccounts": shared}
    diags = of(Pack().analyze(type_, props), "rds-snapshot-not-public")
    assert len(diags) == count and all(d.level == "mandatory" for d in diags)


@pytest.mark.parametrize(("type_", "props", "problem"), [
    # Performance Insights on instances, clusters and cluster instances
    (T.RDS_INSTANCE, {"storageEncrypted": True, "kmsKeyId": KEY, "performanceInsightsEnabled": True},
     "Performance Insights encrypted with no customer managed key"),
    (T.RDS_INSTANCE, {"storageEncrypted": True, "kmsKeyId": KEY, "performanceInsightsEnabled": True,
                      "performanceInsightsKmsKeyId": "alias/aws/rds"}, "AWS managed key alias/aws/rds"),
    (T.RDS_INSTANCE, {"storageEncrypted": True, "kmsKeyId": KEY, "performanceInsightsEnabled": True,
                      "performanceInsightsKmsKeyId": UNKNOWN}, None),
    (T.RDS_INSTANCE, {"storageEncrypted": True, "kmsKeyId": KEY, "performanceInsightsEnabled": False}, None),
    (T.RDS_CLUSTER, {"storageEncrypted": True, "kmsKeyId": KEY, "databaseInsightsMode": "advanced"},
     "Performance Insights"),
    (T.RDS_CLUSTER_INSTANCE, {"performanceInsightsEnabled": True}, "Performance Insights"),
    (T.RDS_CLUSTER_INSTANCE, {"performanceInsightsEnabled": True, "performanceInsightsKmsKeyId": KEY}, None),
    (T.RDS_CLUSTER_INSTANCE, {}, None),  # storage is the cluster's
    # copies and replication
    (T.RDS_SNAPSHOT_COPY, {"sourceDbSnapshotIdentifier": "s"}, "kmsKeyId"),
    (T.RDS_SNAPSHOT_COPY, {"kmsKeyId": KEY}, None),
    (T.RDS_CLUSTER_SNAPSHOT_COPY, {"kmsKeyId": "alias/aws/rds"}, "AWS managed key"),
    (T.RDS_BACKUP_REPLICATION, {"sourceDbInstanceArn": "arn:aws:rds:eu-west-1:1:db:x"}, "kmsKeyId"),
    (T.RDS_BACKUP_REPLICATION, {"kmsKeyId": UNKNOWN}, None),
    (T.RDS_GLOBAL_CLUSTER, {"engine": "aurora-postgresql"}, "storageEncrypted"),
    (T.RDS_GLOBAL_CLUSTER, {"storageEncrypted": True}, None),
    (T.RDS_GLOBAL_CLUSTER, {"sourceDbClusterIdentifier": UNKNOWN}, None),
    # DynamoDB replicas: inline and as a resource
    (T.DYNAMODB_TABLE, {"serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY},
                        "replicas": [{"regionName": "eu-central-1"}]}, "eu-central-1 (replicas[0])"),
    (T.DYNAMODB_TABLE, {"serverSideEncryption": {"enabled": True, "kmsKeyArn": KEY},
                        "replicas": [{"regionName": "eu-central-1", "kmsKeyArn": UNKNOWN}]}, None),
    (T.DYNAMODB_TABLE_REPLICA, {"globalTableArn": UNKNOWN}, "kmsKeyArn"),
    (T.DYNAMODB_TABLE_REPLICA, {"globalTableArn": UNKNOWN, "kmsKeyArn": KEY}, None),
    # Scheduler schedules and CloudTrail event data stores
    (T.SCHEDULER_SCHEDULE, {"scheduleExpression": "rate(1 hour)"}, "kmsKeyArn"),
    (T.SCHEDULER_SCHEDULE, {"kmsKeyArn": KEY}, None),
    (T.EVENT_DATA_STORE, {"name": "all"}, "kmsKeyId"),
    (T.EVENT_DATA_STORE, {"kmsKeyId": UNKNOWN}, None),
])
def test_copies_replicas_and_side_stores_need_a_cmk(type_: str, props: dict[str, Any], problem: str | None) -> None:
    diags = of(Pack().analyze(type_, props), CMK)
    if problem is None:
        assert diags == []
    else:
        assert len(diags) == 1 and problem in diags[0].message and diags[0].level == "mandatory", diags


@pytest.mark.parametrize(("type_", "props", "count"), [
    (T.RDS_INSTANCE, {"engine": "postgres"}, 1),
    (T.RDS_INSTANCE, {"engine": "postgres", "dbSubnetGroupName": UNKNOWN}, 0),
    (T.RDS_INSTANCE, {"engine": "postgres", "dbSubnetGroupName": "isolated"}, 0),
    (T.RDS_INSTANCE, {"replicateSourceDb": UNKNOWN}, 0),  # same-region replica: the source's group
    (T.RDS_INSTANCE, {"replicateSourceDb": "arn:aws:rds:us-east-1:123456789012:db:source"}, 1),  # cross-region
    (T.RDS_CLUSTER, {"engine": "aurora-postgresql"}, 1),
    (T.RDS_CLUSTER, {"engine": "aurora-postgresql", "dbSubnetGroupName": "isolated"}, 0),
    (T.RDS_CLUSTER, {"replicationSourceIdentifier": "arn:aws:rds:us-east-1:1:cluster:c"}, 0),
])
def test_rds_needs_a_subnet_group(type_: str, props: dict[str, Any], count: int) -> None:
    diags = of(Pack().analyze(type_, props), "rds-in-custom-subnet-group")
    assert len(diags) == count and all("default VPC" in d.message and d.level == "mandatory" for d in diags)


FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


@pytest.mark.parametrize(("props", "weak"), [
    (dict.fromkeys(FLAGS, True), None),
    ({**dict.fromkeys(FLAGS, True), "restrictPublicBuckets": False}, "restrictPublicBuckets"),
    ({"blockPublicAcls": True, "blockPublicPolicy": True}, "ignorePublicAcls, restrictPublicBuckets"),  # absent = false
    (dict.fromkeys(FLAGS, UNKNOWN), None),
])
def test_account_public_access_block_from_any_stack(props: dict[str, Any], weak: str | None) -> None:
    diags = of(Pack().analyze(T.S3_ACCOUNT_PUBLIC_ACCESS_BLOCK, props), "s3-account-public-access-block-not-weakened")
    if weak is None:
        assert diags == []
    else:
        assert len(diags) == 1 and weak in diags[0].message and diags[0].level == "mandatory"


def test_public_access_block_for_a_bucket_outside_the_stack() -> None:
    policy = "s3-bucket-public-access-block"
    weak = Res(T.S3_PUBLIC_ACCESS_BLOCK, "legacy-pab", {"bucket": "legacy-reports", **dict.fromkeys(FLAGS, True),
                                                        "blockPublicPolicy": False})
    diags = of(Pack().analyze_stack([weak]), policy)
    assert len(diags) == 1 and "legacy-reports" in diags[0].message and diags[0].urn.endswith("::legacy-pab")
    strong = Res(T.S3_PUBLIC_ACCESS_BLOCK, "legacy-pab", {"bucket": "legacy-reports", **dict.fromkeys(FLAGS, True)})
    assert of(Pack().analyze_stack([strong]), policy) == []
    # For the stack's own bucket the bucket is reported (once), not the companion again.
    bucket = Res(T.S3_BUCKET, "b", {"bucket": "mine"})
    own = Res(T.S3_PUBLIC_ACCESS_BLOCK, "own-pab", {"bucket": UNKNOWN, **dict.fromkeys(FLAGS, False)},
              prop_deps={"bucket": ["b"]})
    diags = of(Pack().analyze_stack([bucket, own]), policy)
    assert [d.urn.rsplit("::", 1)[1] for d in diags] == ["b"]


def test_ownership_controls_for_a_bucket_outside_the_stack() -> None:
    policy = "s3-bucket-owner-enforced"
    writer = Res(T.S3_OWNERSHIP, "legacy-owner",
                 {"bucket": "legacy-reports", "rule": {"objectOwnership": "ObjectWriter"}})
    diags = of(Pack().analyze_stack([writer]), policy)
    assert len(diags) == 1 and "re-enables ACLs" in diags[0].message
    enforced = Res(T.S3_OWNERSHIP, "legacy-owner", {"bucket": "legacy-reports",
                                                    "rule": {"objectOwnership": "BucketOwnerEnforced"}})
    assert of(Pack().analyze_stack([enforced]), policy) == []


AP = "s3-access-point-not-public"


def _point(**props: Any) -> Res:
    return Res(T.S3_ACCESS_POINT, "ap", {"bucket": "data", "name": "ap", "arn": UNKNOWN, **props})


@pytest.mark.parametrize(("props", "problem"), [
    ({}, None),  # access points block public access by default
    ({"publicAccessBlockConfiguration": {"blockPublicPolicy": False}}, "turns off part of its public access block"),
    ({"publicAccessBlockConfiguration": dict.fromkeys(FLAGS, True)}, None),
    ({"policy": _policy(PUBLIC_GET)}, "allows Principal '*'"),
    ({"policy": _policy(ACCOUNT_GET)}, None),
    ({"policy": _policy(PUBLIC_GET), "vpcConfiguration": {"vpcId": "vpc-0123"}}, None),  # VPC origin
    ({"policy": UNKNOWN}, None),
])
def test_access_point_inline_forms(props: dict[str, Any], problem: str | None) -> None:
    diags = of(Pack().analyze_stack([_point(**props)]), AP)
    if problem is None:
        assert diags == []
    else:
        assert len(diags) == 1 and problem in diags[0].message and diags[0].level == "mandatory"


def test_access_point_policy_companion_multi_region_and_object_lambda() -> None:
    companion = Res(T.S3_ACCESS_POINT_POLICY, "ap-policy", {"accessPointArn": UNKNOWN, "policy": _policy(PUBLIC_GET)},
                    prop_deps={"accessPointArn": ["ap"]})
    diags = of(Pack().analyze_stack([_point(), companion]), AP)
    assert [d.urn.rsplit("::", 1)[1] for d in diags] == ["ap-policy"]
    in_vpc = _point(vpcConfiguration={"vpcId": "vpc-0123"})
    assert of(Pack().analyze_stack([in_vpc, companion]), AP) == []
    mrap = Res(T.S3_MULTI_REGION_ACCESS_POINT, "mrap", {"details": {
        "name": "global", "publicAccessBlock": {"ignorePublicAcls": False}}})
    assert len(of(Pack().analyze_stack([mrap]), AP)) == 1
    mrap_default = Res(T.S3_MULTI_REGION_ACCESS_POINT, "mrap", {"details": {"name": "global"}})
    assert of(Pack().analyze_stack([mrap_default]), AP) == []
    mrap_policy = Res(T.S3_MULTI_REGION_ACCESS_POINT_POLICY, "mrap-policy",
                      {"details": {"name": "global", "policy": _policy(PUBLIC_GET)}})
    assert "details.policy" in of(Pack().analyze_stack([mrap_policy]), AP)[0].message
    olap = Res(T.S3_OBJECT_LAMBDA_ACCESS_POINT_POLICY, "olap", {"name": "x", "policy": _policy(PUBLIC_GET)})
    assert len(of(Pack().analyze_stack([olap]), AP)) == 1


def test_directory_bucket_needs_sse_kms_with_a_cmk() -> None:
    policy = "s3-bucket-encrypted-with-cmk"
    bucket = Res(T.S3_DIRECTORY_BUCKET, "express", {"bucket": "fast--euw1-az1--x-s3", "location": {"name": "euw1-az1"}})
    assert len(of(Pack().analyze_stack([bucket]), policy)) == 1  # default SSE-S3
    sse = Res(T.S3_SSE[0], "express-sse", {"bucket": UNKNOWN, "rules": [{"applyServerSideEncryptionByDefault": {
        "sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY}}]}, prop_deps={"bucket": ["express"]})
    assert of(Pack().analyze_stack([bucket, sse]), policy) == []


# --- trail advanced event selectors ----------------------------------------------------------------------
def _trail(selectors: Any) -> list[Res]:
    trail = {"isMultiRegionTrail": True, "enableLogFileValidation": True, "kmsKeyId": KEY,
             "advancedEventSelectors": selectors}
    return [Res(T.TRAIL, "trail", trail)]


def _mgmt(*extra: dict[str, Any]) -> dict[str, Any]:
    return {"name": "mgmt", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}, *extra]}


DATA_EVENTS = {"name": "s3", "fieldSelectors": [{"field": "eventCategory", "equals": ["Data"]},
                                                 {"field": "resources.type", "equals": ["AWS::S3::Object"]}]}


@pytest.mark.parametrize(("selectors", "dropped"), [
    ([_mgmt(), DATA_EVENTS], None),
    ([_mgmt({"field": "readOnly", "equals": ["true"]})], "drop write management events"),
    ([_mgmt({"field": "readOnly", "equals": ["false"]})], "drop read management events"),
    ([_mgmt({"field": "readOnly", "equals": ["true"]}), _mgmt({"field": "readOnly", "equals": ["false"]})], None),
    ([_mgmt({"field": "readOnly", "notEquals": ["true"]})], "drop read management events"),
    ([_mgmt({"field": "eventSource", "notEquals": ["kms.amazonaws.com"]})], "drop all management events"),
    ([DATA_EVENTS], "drop all management events"),
    ([UNKNOWN], None),
])
def test_trail_advanced_event_selectors_must_keep_management_events(selectors: list[Any], dropped: str | None) -> None:
    pack = Pack({"baseline-cloudtrail": {"ownsAccountBaseline": True}})
    diags = of(pack.analyze_stack(_trail(selectors)), "baseline-cloudtrail")
    if dropped is None:
        assert diags == []
    else:
        assert len(diags) == 1 and dropped in diags[0].message


@pytest.mark.parametrize("type_", [T.KMS_REPLICA_KEY, T.KMS_REPLICA_EXTERNAL_KEY, T.KMS_EXTERNAL_KEY,
                                   T.DYNAMODB_RESOURCE_POLICY, T.ECR_REPOSITORY_POLICY, T.ECR_REGISTRY_POLICY,
                                   T.EFS_FILE_SYSTEM_POLICY, T.LAMBDA_RESOURCE_POLICY, T.S3_CONTROL_BUCKET_POLICY])
def test_resource_policies_of_new_services_are_checked(type_: str) -> None:
    policy = "resource-policy-not-public"
    public = _policy({"Effect": "Allow", "Principal": "*", "Action": "*:Get*", "Resource": "*"})
    diags = of(Pack().analyze(type_, {"policy": public}), policy)
    assert len(diags) == 1 and diags[0].level == "mandatory"
    assert of(Pack().analyze(type_, {"policy": _policy({**ACCOUNT_GET, "Action": "*:Get*"})}), policy) == []
    assert of(Pack().analyze(type_, {"policy": UNKNOWN}), policy) == []


def test_repository_creation_template_policy() -> None:
    public = _policy({"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage", "Resource": "*"})
    diags = of(Pack().analyze(T.ECR_CREATION_TEMPLATE, {"repositoryPolicy": public}), "resource-policy-not-public")
    assert len(diags) == 1
