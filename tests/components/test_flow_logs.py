"""Flow logs to CloudWatch Logs or to a hardened S3 bucket (dev), and subnets only in real Availability Zones."""

from __future__ import annotations

import functools
import json
import runpy
from typing import Any

import pytest

from components.settings import settings_from_mapping
from tests.conftest import rendered
from tests.harness import ACCOUNT_ID, ROOT, Graph, Res, render, stack_config

FLOW_LOG = "aws:ec2/flowLog:FlowLog"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
KEY = "aws:kms/key:Key"


def program(stack: str, **config: Any) -> Graph:
    return render(lambda: runpy.run_path(str(ROOT / "__main__.py")), stack, config=config)


@functools.cache
def with_destination(stack: str, destination: str) -> Graph:
    if stack_config(stack)["flowLogDestination"] == destination:
        return rendered(stack)
    return program(stack, flowLogDestination=destination)


def logs_key(graph: Graph) -> Res:
    return next(k for k in graph.of_type(KEY) if k.name.endswith("-keys-logs"))


def on(graph: Graph, bucket: Res, type_: str) -> list[Res]:
    return [r for r in graph.of_type(type_) if bucket.urn in r.property_dependencies.get("bucket", [])]


def test_each_stack_sends_flow_logs_where_its_settings_say(stack: str) -> None:
    (flow,) = rendered(stack).of_type(FLOW_LOG)
    assert flow["logDestinationType"] == stack_config(stack)["flowLogDestination"]
    assert flow["trafficType"] == "ALL"
    if stack == "dev":
        assert flow["logDestinationType"] == "s3"  # cheaper: no CloudWatch Logs ingestion per GB


def test_the_default_destination_is_cloudwatch_logs() -> None:
    s = settings_from_mapping("staging", stack_config("staging", {"aws:region": "us-east-2"}))
    assert s.flow_log_destination == "cloud-watch-logs"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_cloudwatch_destination_role_has_the_permissions_the_vpc_guide_lists(stack: str) -> None:
    graph = with_destination(stack, "cloud-watch-logs")
    (flow,) = graph.of_type(FLOW_LOG)
    (group_urn,) = flow.property_dependencies["logDestination"]
    group = graph.by_urn(group_urn)
    assert logs_key(graph).urn in group.property_dependencies["kmsKeyId"] and group["retentionInDays"] > 0
    role = graph.by_urn(flow.property_dependencies["iamRoleArn"][0])
    assert "vpc-flow-logs.amazonaws.com" in role["assumeRolePolicy"]
    (policy,) = [p for p in graph.of_type(ROLE_POLICY) if role.urn in p.property_dependencies["role"]]
    statements = {st["Sid"]: st for st in json.loads(policy["policy"])["Statement"]}
    write = statements["WriteFlowLogGroup"]
    assert set(write["Action"]) == {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"}
    arn, streams = write["Resource"]  # the group and its streams, nothing else
    assert arn.startswith("arn:") and streams == f"{arn}:*"
    # DescribeLogGroups has no resource-level permission, so it is the one "*" here.
    assert statements["FindLogGroup"] == {"Sid": "FindLogGroup", "Effect": "Allow",
                                          "Action": "logs:DescribeLogGroups", "Resource": "*"}
    assert graph.depends_on(flow, policy)
    assert graph.of_type(BUCKET) == [b for b in graph.of_type(BUCKET) if "flow-logs" not in b.name]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_s3_destination_is_a_hardened_bucket_only_log_delivery_may_write(stack: str) -> None:
    graph = with_destination(stack, "s3")
    s = settings_from_mapping(stack, stack_config(stack, {"flowLogDestination": "s3"}))
    (flow,) = graph.of_type(FLOW_LOG)
    assert "iamRoleArn" not in flow.inputs  # log delivery writes under the bucket policy, no role
    (bucket_urn,) = flow.property_dependencies["logDestination"]
    bucket = graph.by_urn(bucket_urn)
    assert bucket.type == BUCKET and not bucket.get("forceDestroy")
    assert bucket.protect is s.production

    (sse,) = on(graph, bucket, SSE)
    rule = sse["rules"][0]
    assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    assert logs_key(graph).urn in sse.property_dependencies["rules"] and rule["bucketKeyEnabled"] is True
    (pab,) = on(graph, bucket, PAB)
    assert all(pab[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                                        "restrictPublicBuckets"))
    assert on(graph, bucket, OWNERSHIP)[0]["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    assert on(graph, bucket, VERSIONING)[0]["versioningConfiguration"]["status"] == "Enabled"
    assert on(graph, bucket, LIFECYCLE)[0]["rules"][0]["expiration"]["days"] == s.log_retention_days

    (policy,) = on(graph, bucket, BUCKET_POLICY)
    statements = {st["Sid"]: st for st in json.loads(policy["policy"])["Statement"]}
    write, check = statements["AWSLogDeliveryWrite"], statements["AWSLogDeliveryAclCheck"]
    for st in (write, check):
        assert st["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
        assert st["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID
        assert st["Condition"]["ArnLike"]["aws:SourceArn"] == f"arn:aws:logs:{s.region}:{ACCOUNT_ID}:*"
    assert write["Action"] == "s3:PutObject" and write["Resource"].endswith(f"/AWSLogs/{ACCOUNT_ID}/*")
    assert write["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    assert set(check["Action"]) == {"s3:GetBucketAcl", "s3:ListBucket"}
    assert statements["DenyInsecureTransport"]["Effect"] == "Deny"
    assert graph.depends_on(flow, policy)

    (logging,) = on(graph, bucket, LOGGING)  # server access logs to a separate SSE-S3 bucket
    target = graph.by_urn(logging.property_dependencies["targetBucket"][0])
    assert on(graph, target, SSE)[0]["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


@pytest.mark.parametrize("destination", ["s3", "cloud-watch-logs"])
def test_log_delivery_may_use_the_logs_key_only_when_it_writes_to_s3(destination: str) -> None:
    key = logs_key(with_destination("dev", destination))
    statements = {st["Sid"]: st for st in json.loads(key["policy"])["Statement"]}
    delivery = statements.get("LogDeliveryEncryptsToBucket")
    assert (delivery is not None) is (destination == "s3")
    if delivery:
        assert delivery["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
        assert "kms:GenerateDataKey*" in delivery["Action"]
        assert delivery["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID}


# ---- Availability Zones only ----------------------------------------------------------------------------------

ZONES = [  # a Local Zone the account opted into sorts first: without the filter it would be picked
    ("eu-west-1-lhr-1a", "opted-in"), ("eu-west-1a", "opt-in-not-required"),
    ("eu-west-1b", "opt-in-not-required"), ("eu-west-1c", "opt-in-not-required"),
]


def zones(args: dict[str, Any]) -> dict[str, Any]:
    """DescribeAvailabilityZones as EC2 answers it: each filter keeps the zones matching one of its values."""
    found = ZONES
    for f in args.get("filters") or []:
        assert f["name"] == "opt-in-status", f  # the only filter a test here models
        found = [z for z in found if z[1] in f["values"]]
    return {"names": [z[0] for z in found], "zoneIds": [f"euw1-z{i}" for i in range(len(found))],
            "id": "eu-west-1", "groupNames": ["eu-west-1"]}


def test_subnets_are_placed_in_availability_zones_never_in_a_local_zone() -> None:
    graph = render(lambda: runpy.run_path(str(ROOT / "__main__.py")), "prod",
                   invokes={"aws:index/getAvailabilityZones:getAvailabilityZones": zones})
    placed = {s["availabilityZone"] for s in graph.of_type("aws:ec2/subnet:Subnet")}
    assert placed == {"eu-west-1a", "eu-west-1b", "eu-west-1c"}
