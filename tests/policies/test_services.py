"""What a PR plausibly adds: EC2 and EBS, ECR, EFS, ElastiCache, OpenSearch, Lambda layers / async / signing —
every input form, compliant and not, absent (provider default), unknown at preview, config override."""

from __future__ import annotations

import json
from typing import Any

import pytest

from policies import _tokens as T

from .harness import UNKNOWN, Pack, Res, of

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1b2c3d4e-aaaa-bbbb-cccc-1234567890ab"


def _names(diags: list[Any]) -> list[str]:
    return sorted(d.urn.rsplit("::", 1)[1] for d in diags)


# --- IMDSv2 ------------------------------------------------------------------------------------------------
IMDS = "ec2-imdsv2-required"


@pytest.mark.parametrize(("type_", "options", "count"), [
    (T.EC2_INSTANCE, {"httpTokens": "required"}, 0),
    (T.EC2_INSTANCE, {"httpTokens": "optional"}, 1),
    (T.EC2_INSTANCE, None, 1),  # absent: the AMI decides, IMDSv1 unless it says v2.0
    (T.EC2_INSTANCE, {"httpEndpoint": "disabled"}, 0),
    (T.EC2_INSTANCE, {"httpTokens": UNKNOWN}, 0),
    (T.EC2_SPOT_INSTANCE_REQUEST, {"httpTokens": "optional"}, 1),
    (T.EC2_LAUNCH_TEMPLATE, None, 1),
    (T.EC2_LAUNCH_TEMPLATE, {"httpTokens": "required", "httpPutResponseHopLimit": 1}, 0),
    (T.EC2_LAUNCH_CONFIGURATION, {"httpTokens": "optional"}, 1),
])
def test_imdsv2_every_launcher(type_: str, options: dict[str, Any] | None, count: int) -> None:
    props = {} if options is None else {"metadataOptions": options}
    diags = of(Pack().analyze_stack([Res(type_, "host", props)]), IMDS)
    assert len(diags) == count and all(d.level == "mandatory" for d in diags)


def test_imdsv2_from_the_launch_template_or_the_account_default() -> None:
    template = Res(T.EC2_LAUNCH_TEMPLATE, "lt", {"metadataOptions": {"httpTokens": "required"}, "id": UNKNOWN})
    instance = Res(T.EC2_INSTANCE, "host", {"launchTemplate": {"id": UNKNOWN}}, prop_deps={"launchTemplate": ["lt"]})
    assert of(Pack().analyze_stack([template, instance]), IMDS) == []
    loose = Res(T.EC2_LAUNCH_TEMPLATE, "lt", {"id": UNKNOWN})
    assert _names(of(Pack().analyze_stack([loose, instance]), IMDS)) == ["host", "lt"]
    defaults = Res(T.EC2_INSTANCE_METADATA_DEFAULTS, "account", {"httpTokens": "required"})
    assert of(Pack().analyze_stack([defaults, Res(T.EC2_INSTANCE, "host", {})]), IMDS) == []
    # An explicit optional wins over the account default.
    optional = Res(T.EC2_INSTANCE, "host", {"metadataOptions": {"httpTokens": "optional"}})
    assert len(of(Pack().analyze_stack([defaults, optional]), IMDS)) == 1


# --- public IPs --------------------------------------------------------------------------------------------
PUBLIC_IP = "ec2-no-public-ip"


def test_public_ip_forms() -> None:
    subnet_public = Res(T.SUBNET, "public", {"mapPublicIpOnLaunch": True, "id": UNKNOWN})
    subnet_private = Res(T.SUBNET, "private", {"id": UNKNOWN})
    graph = [
        subnet_public, subnet_private,
        Res(T.EC2_INSTANCE, "explicit", {"associatePublicIpAddress": True, "subnetId": UNKNOWN},
            prop_deps={"subnetId": ["private"]}),
        Res(T.EC2_INSTANCE, "in-public-subnet", {"subnetId": UNKNOWN}, prop_deps={"subnetId": ["public"]}),
        Res(T.EC2_INSTANCE, "default-vpc", {"instanceType": "t3.micro"}),
        Res(T.EC2_INSTANCE, "private", {"subnetId": UNKNOWN}, prop_deps={"subnetId": ["private"]}),
        Res(T.EC2_INSTANCE, "opted-out", {"associatePublicIpAddress": False, "subnetId": UNKNOWN},
            prop_deps={"subnetId": ["public"]}),
        Res(T.EC2_SPOT_INSTANCE_REQUEST, "spot", {"associatePublicIpAddress": True}),
        Res(T.EC2_LAUNCH_TEMPLATE, "lt", {"networkInterfaces": [{"associatePublicIpAddress": "true"}]}),
        Res(T.EC2_LAUNCH_TEMPLATE, "lt-private", {"networkInterfaces": [{"associatePublicIpAddress": "false"}]}),
        Res(T.EC2_LAUNCH_CONFIGURATION, "lc", {"associatePublicIpAddress": True}),
        Res(T.EIP, "eip", {"instance": UNKNOWN, "domain": "vpc"}, prop_deps={"instance": ["private"]}),
    ]
    diags = of(Pack().analyze_stack(graph), PUBLIC_IP)
    assert _names(diags) == ["default-vpc", "eip", "explicit", "in-public-subnet", "lc", "lt", "spot"]
    assert all(d.level == "mandatory" for d in diags)


# --- EBS -----------------------------------------------------------------------------------------------
EBS = "ebs-encrypted"


@pytest.mark.parametrize(("type_", "props", "problem"), [
    (T.EBS_VOLUME, {"size": 10}, "not encrypted (encrypted is absent)"),
    (T.EBS_VOLUME, {"encrypted": False}, "not encrypted"),
    (T.EBS_VOLUME, {"encrypted": True}, "AWS managed key aws/ebs"),
    (T.EBS_VOLUME, {"encrypted": True, "kmsKeyId": KEY}, None),
    (T.EBS_VOLUME, {"encrypted": True, "kmsKeyId": UNKNOWN}, None),
    (T.EBS_VOLUME, {"snapshotId": "snap-0123"}, None),  # the snapshot's encryption
    (T.EBS_SNAPSHOT_COPY, {"sourceSnapshotId": "snap-1"}, "not encrypted"),
    (T.EBS_SNAPSHOT_IMPORT, {"encrypted": True, "kmsKeyId": KEY}, None),
    (T.EC2_AMI_COPY, {"encrypted": True, "kmsKeyId": "alias/aws/ebs"}, "AWS managed key"),
    (T.EC2_INSTANCE, {"rootBlockDevice": {"volumeSize": 20}}, "rootBlockDevice is not encrypted"),
    (T.EC2_INSTANCE, {"rootBlockDevice": {"encrypted": True, "kmsKeyId": KEY},
                      "ebsBlockDevices": [{"deviceName": "/dev/sdf", "encrypted": False}]}, "ebsBlockDevices[0]"),
    (T.EC2_INSTANCE, {}, None),  # root volume from the AMI: not decided here
    (T.EC2_LAUNCH_TEMPLATE, {"blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "false"}}]},
     "blockDeviceMappings[0]"),
    (T.EC2_LAUNCH_TEMPLATE, {"blockDeviceMappings": [{"ebs": {"encrypted": "true", "kmsKeyId": KEY}}]}, None),
    (T.EC2_LAUNCH_CONFIGURATION, {"rootBlockDevice": {"encrypted": True}}, "AWS managed key"),  # no key field
])
def test_ebs_volume_forms(type_: str, props: dict[str, Any], problem: str | None) -> None:
    diags = of(Pack().analyze_stack([Res(type_, "vol", props)]), EBS)
    if problem is None:
        assert diags == []
    else:
        assert len(diags) == 1 and problem in diags[0].message and diags[0].level == "mandatory", diags


def test_ebs_default_encryption_and_default_key_of_the_stack() -> None:
    bare = Res(T.EBS_VOLUME, "vol", {"size": 10})
    on = Res(T.EBS_DEFAULT_ENCRYPTION, "default", {"enabled": True})
    assert "relies on EBS encryption by default with the AWS managed key" in \
        of(Pack().analyze_stack([on, bare]), EBS)[0].message
    key = Res(T.EBS_DEFAULT_KMS_KEY, "default-key", {"keyArn": KEY})
    assert of(Pack().analyze_stack([on, key, bare]), EBS) == []
    assert of(Pack({EBS: {"requireCustomerManagedKey": False}}).analyze_stack([on, bare]), EBS) == []


@pytest.mark.parametrize(("type_", "props", "count"), [
    (T.EC2_AMI_LAUNCH_PERMISSION, {"imageId": "ami-1", "group": "all"}, 1),
    (T.EC2_AMI_LAUNCH_PERMISSION, {"imageId": "ami-1", "accountId": "123456789012"}, 0),
    (T.EC2_AMI_LAUNCH_PERMISSION, {"imageId": "ami-1", "organizationArn": UNKNOWN}, 0),
    (T.SNAPSHOT_CREATE_VOLUME_PERMISSION, {"snapshotId": "snap-1", "accountId": "all"}, 1),
    (T.SNAPSHOT_CREATE_VOLUME_PERMISSION, {"snapshotId": "snap-1", "accountId": "123456789012"}, 0),
    (T.EBS_SNAPSHOT_BLOCK_PUBLIC_ACCESS, {"state": "unblocked"}, 1),
    (T.EBS_SNAPSHOT_BLOCK_PUBLIC_ACCESS, {"state": "block-all-sharing"}, 0),
])
def test_public_images_and_snapshots(type_: str, props: dict[str, Any], count: int) -> None:
    diags = of(Pack().analyze(type_, props), "ec2-image-and-snapshot-not-public")
    assert len(diags) == count and all(d.level == "mandatory" for d in diags)


# --- ECR -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("type_", "mutability", "count"), [
    (T.ECR_REPOSITORY, None, 1), (T.ECR_REPOSITORY, "MUTABLE", 1), (T.ECR_REPOSITORY, "IMMUTABLE", 0),
    (T.ECR_REPOSITORY, "IMMUTABLE_WITH_EXCLUSION", 0), (T.ECR_REPOSITORY, UNKNOWN, 0),
    (T.ECR_CREATION_TEMPLATE, "MUTABLE", 1), (T.ECR_CREATION_TEMPLATE, "IMMUTABLE", 0),
])
def test_ecr_tag_immutability(type_: str, mutability: Any, count: int) -> None:
    props = {} if mutability is None else {"imageTagMutability": mutability}
    assert len(of(Pack().analyze(type_, props), "ecr-image-tag-immutability")) == count


def _repo(name: str = "api", **props: Any) -> Res:
    return Res(T.ECR_REPOSITORY, "repo", {"name": name, **props})


def test_ecr_scan_on_push_by_repository_or_registry_rules() -> None:
    policy = "ecr-scan-on-push"
    assert len(of(Pack().analyze_stack([_repo()]), policy)) == 1
    on_push = _repo(imageScanningConfiguration={"scanOnPush": True})
    assert of(Pack().analyze_stack([on_push]), policy) == []

    def registry(frequency: str, pattern: str) -> Res:
        return Res(T.ECR_REGISTRY_SCANNING, "registry", {"scanType": "ENHANCED", "rules": [
            {"scanFrequency": frequency, "repositoryFilters": [{"filter": pattern, "filterType": "WILDCARD"}]}]})

    assert of(Pack().analyze_stack([_repo(), registry("CONTINUOUS_SCAN", "*")]), policy) == []
    assert of(Pack().analyze_stack([_repo(), registry("SCAN_ON_PUSH", "ap*")]), policy) == []
    assert len(of(Pack().analyze_stack([_repo(), registry("SCAN_ON_PUSH", "web*")]), policy)) == 1
    assert len(of(Pack().analyze_stack([_repo(), registry("MANUAL", "*")]), policy)) == 1
    assert of(Pack().analyze_stack([_repo(), Res(T.ECR_REGISTRY_SCANNING, "registry", {"rules": UNKNOWN})]),
              policy) == []


def test_ecr_lifecycle_policy_companion() -> None:
    policy = "ecr-lifecycle-policy"
    assert of(Pack().analyze_stack([_repo()]), policy)[0].level == "advisory"
    lifecycle = Res(T.ECR_LIFECYCLE_POLICY, "lc", {"repository": UNKNOWN, "policy": "{}"},
                    prop_deps={"repository": ["repo"]})
    assert of(Pack().analyze_stack([_repo(), lifecycle]), policy) == []


# --- EFS, ElastiCache, OpenSearch, encryption forms -------------------------------------------------------------
@pytest.mark.parametrize(("props", "problems"), [
    ({"fileSystemId": UNKNOWN, "rootDirectory": {"path": "/app"}, "posixUser": {"uid": 1000, "gid": 1000}}, []),
    ({"fileSystemId": UNKNOWN}, ["file system root", "user identity"]),
    ({"rootDirectory": {"path": "/"}, "posixUser": {"uid": 0, "gid": 0}}, ["rootDirectory.path /"]),
    ({"rootDirectory": {"path": UNKNOWN}, "posixUser": UNKNOWN}, []),
])
def test_efs_access_point_confined(props: dict[str, Any], problems: list[str]) -> None:
    diags = of(Pack().analyze(T.EFS_ACCESS_POINT, props), "efs-access-point-confined")
    assert len(diags) == len(problems)
    for diag, problem in zip(diags, problems, strict=True):
        assert problem in diag.message


@pytest.mark.parametrize(("type_", "props", "problem"), [
    (T.EFS_FILE_SYSTEM, {}, "encrypted=true (default false)"),
    (T.EFS_FILE_SYSTEM, {"encrypted": True}, "no customer managed key"),
    (T.EFS_FILE_SYSTEM, {"encrypted": True, "kmsKeyId": KEY}, None),
    (T.EFS_REPLICATION, {"destination": {"region": "eu-central-1"}}, "destination.kmsKeyId"),
    (T.EFS_REPLICATION, {"destination": {"region": "eu-central-1", "kmsKeyId": UNKNOWN}}, None),
    (T.ELASTICACHE_REPLICATION_GROUP, {"engine": "redis"}, "atRestEncryptionEnabled=true (default false)"),
    (T.ELASTICACHE_REPLICATION_GROUP, {"engine": "valkey"}, "no customer managed key"),  # on by default
    (T.ELASTICACHE_REPLICATION_GROUP, {"engine": "valkey", "kmsKeyId": KEY}, None),
    (T.ELASTICACHE_REPLICATION_GROUP, {"globalReplicationGroupId": UNKNOWN}, None),
    (T.ELASTICACHE_SERVERLESS, {"engine": "valkey"}, "kmsKeyId"),
    (T.OPENSEARCH_DOMAIN, {}, "encryptAtRest.enabled=true"),
    (T.ELASTICSEARCH_DOMAIN, {"encryptAtRest": {"enabled": True, "kmsKeyId": KEY}}, None),
    (T.OPENSEARCH_SERVERLESS_SECURITY_POLICY, {"type": "encryption", "policy": json.dumps(
        {"Rules": [{"ResourceType": "collection", "Resource": ["collection/logs"]}], "AWSOwnedKey": True})},
     "AWS owned key"),
    (T.OPENSEARCH_SERVERLESS_SECURITY_POLICY, {"type": "encryption", "policy": json.dumps(
        {"Rules": [], "AWSOwnedKey": False, "KmsARN": KEY})}, None),
])
def test_at_rest_forms_of_new_services(type_: str, props: dict[str, Any], problem: str | None) -> None:
    diags = of(Pack().analyze(type_, props), "data-encrypted-with-cmk")
    if problem is None:
        assert diags == []
    else:
        assert len(diags) == 1 and problem in diags[0].message, diags


@pytest.mark.parametrize(("type_", "props", "count"), [
    (T.ELASTICACHE_REPLICATION_GROUP, {"transitEncryptionEnabled": True}, 0),
    (T.ELASTICACHE_REPLICATION_GROUP, {}, 1),
    (T.ELASTICACHE_REPLICATION_GROUP, {"transitEncryptionEnabled": True, "transitEncryptionMode": "preferred"}, 1),
    (T.ELASTICACHE_REPLICATION_GROUP, {"transitEncryptionEnabled": UNKNOWN}, 0),
    (T.ELASTICACHE_CLUSTER, {"engine": "memcached"}, 1),
    (T.ELASTICACHE_CLUSTER, {"engine": "memcached", "transitEncryptionEnabled": True}, 0),
    (T.ELASTICACHE_CLUSTER, {"replicationGroupId": UNKNOWN}, 0),
])
def test_elasticache_in_transit(type_: str, props: dict[str, Any], count: int) -> None:
    diags = of(Pack().analyze(type_, props), "elasticache-encryption-in-transit")
    assert len(diags) == count and all(d.level == "mandatory" for d in diags)


@pytest.mark.parametrize(("type_", "props", "count"), [
    (T.ELASTICACHE_REPLICATION_GROUP, {}, 1),
    (T.ELASTICACHE_REPLICATION_GROUP, {"authToken": UNKNOWN}, 0),
    (T.ELASTICACHE_REPLICATION_GROUP, {"userGroupIds": [UNKNOWN]}, 0),
    (T.ELASTICACHE_SERVERLESS, {"engine": "valkey"}, 1),
    (T.ELASTICACHE_SERVERLESS, {"engine": "valkey", "userGroupId": UNKNOWN}, 0),
    (T.ELASTICACHE_USER, {"userName": "default", "authenticationMode": {"type": "no-password-required"}}, 1),
    (T.ELASTICACHE_USER, {"userName": "app", "noPasswordRequired": True}, 1),
    (T.ELASTICACHE_USER, {"userName": "app", "authenticationMode": {"type": "iam"}}, 0),
])
def test_elasticache_authentication(type_: str, props: dict[str, Any], count: int) -> None:
    assert len(of(Pack().analyze(type_, props), "elasticache-authentication")) == count


SECURE_DOMAIN = {"nodeToNodeEncryption": {"enabled": True},
                 "domainEndpointOptions": {"enforceHttps": True, "tlsSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10"},
                 "vpcOptions": {"subnetIds": [UNKNOWN]}, "advancedSecurityOptions": {"enabled": True}}


@pytest.mark.parametrize("type_", T.SEARCH_DOMAINS)
def test_search_domain_forms(type_: str) -> None:
    policies = ("opensearch-encryption-in-transit", "opensearch-in-vpc", "opensearch-fine-grained-access")
    assert [d for p in policies for d in of(Pack().analyze(type_, SECURE_DOMAIN), p)] == []
    bare = Pack().analyze(type_, {})
    assert [len(of(bare, p)) for p in policies] == [3, 1, 1]
    old_tls = {**SECURE_DOMAIN, "domainEndpointOptions": {"enforceHttps": True,
                                                          "tlsSecurityPolicy": "Policy-Min-TLS-1-0-2019-07"}}
    assert "TLS 1.0/1.1" in of(Pack().analyze(type_, old_tls), policies[0])[0].message
    anonymous = {**SECURE_DOMAIN, "advancedSecurityOptions": {"enabled": True, "anonymousAuthEnabled": True}}
    assert "anonymous" in of(Pack().analyze(type_, anonymous), policies[2])[0].message


def test_opensearch_serverless_network_policy() -> None:
    public = {"type": "network", "policy": json.dumps([{"Rules": [{"ResourceType": "collection",
                                                                    "Resource": ["collection/logs"]}],
                                                         "AllowFromPublic": True}])}
    assert len(of(Pack().analyze(T.OPENSEARCH_SERVERLESS_SECURITY_POLICY, public), "opensearch-in-vpc")) == 1
    private = {"type": "network", "policy": json.dumps([{"Rules": [], "AllowFromPublic": False,
                                                          "SourceVPCEs": ["vpce-0123"]}])}
    assert of(Pack().analyze(T.OPENSEARCH_SERVERLESS_SECURITY_POLICY, private), "opensearch-in-vpc") == []


# --- Lambda -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("props", "count"), [
    ({"principal": "*", "layerName": "shared", "versionNumber": 1, "action": "lambda:GetLayerVersion"}, 1),
    ({"principal": "*", "organizationId": "o-abc123", "action": "lambda:GetLayerVersion"}, 0),
    ({"principal": "123456789012", "action": "lambda:GetLayerVersion"}, 0),
])
def test_layer_not_public(props: dict[str, Any], count: int) -> None:
    diags = of(Pack().analyze(T.LAMBDA_LAYER_PERMISSION, props), "lambda-layer-not-public")
    assert len(diags) == count and all(d.level == "mandatory" for d in diags)


def _fn(**props: Any) -> Res:
    return Res(T.LAMBDA_FUNCTION, "fn", {"runtime": "python3.12", "arn": UNKNOWN, "name": UNKNOWN, **props})


@pytest.mark.parametrize("invoker", [
    Res(T.LAMBDA_PERMISSION, "s3-invoke", {"principal": "s3.amazonaws.com", "function": UNKNOWN},
        prop_deps={"function": ["fn"]}),
    Res(T.SNS_TOPIC_SUBSCRIPTION, "sub", {"protocol": "lambda", "endpoint": UNKNOWN}, prop_deps={"endpoint": ["fn"]}),
    Res(T.EVENT_TARGET, "target", {"rule": "r", "arn": UNKNOWN}, prop_deps={"arn": ["fn"]}),
    Res(T.S3_BUCKET_NOTIFICATION, "notify", {"bucket": "b", "lambdaFunctions": [{"lambdaFunctionArn": UNKNOWN}]},
        prop_deps={"lambdaFunctions": ["fn"]}),
])
def test_async_invoked_function_keeps_failed_events(invoker: Res) -> None:
    policy = "lambda-async-failure-destination"
    diags = of(Pack().analyze_stack([_fn(), invoker]), policy)
    assert len(diags) == 1 and diags[0].level == "advisory"
    assert of(Pack().analyze_stack([_fn(deadLetterConfig={"targetArn": UNKNOWN}), invoker]), policy) == []
    config = Res(T.LAMBDA_EVENT_INVOKE_CONFIG, "cfg", {"functionName": UNKNOWN, "destinationConfig": {
        "onFailure": {"destination": UNKNOWN}}}, prop_deps={"functionName": ["fn"]})
    assert of(Pack().analyze_stack([_fn(), invoker, config]), policy) == []


def test_sync_invoked_function_needs_no_destination() -> None:
    apigw = Res(T.LAMBDA_PERMISSION, "apigw", {"principal": "apigateway.amazonaws.com", "function": UNKNOWN},
                prop_deps={"function": ["fn"]})
    assert of(Pack().analyze_stack([_fn(), apigw]), "lambda-async-failure-destination") == []


def test_code_signing() -> None:
    policy = "lambda-code-signing"
    assert of(Pack().analyze_stack([_fn()]), policy)[0].level == "advisory"
    assert of(Pack().analyze_stack([_fn(packageType="Image")]), policy) == []
    enforce = Res(T.LAMBDA_CODE_SIGNING_CONFIG, "csc", {"arn": UNKNOWN, "policies": {
        "untrustedArtifactOnDeployment": "Enforce"}})
    signed = _fn(codeSigningConfigArn=UNKNOWN)
    signed.prop_deps = {"codeSigningConfigArn": ["csc"]}
    assert of(Pack().analyze_stack([enforce, signed]), policy) == []
    warn = Res(T.LAMBDA_CODE_SIGNING_CONFIG, "csc", {"arn": UNKNOWN, "policies": {
        "untrustedArtifactOnDeployment": "Warn"}})
    assert "only warns" in of(Pack().analyze_stack([warn, signed]), policy)[0].message


@pytest.mark.parametrize(("holder", "key"), [
    (T.LAMBDA_EVENT_INVOKE_CONFIG, "destinationConfig"), (T.EVENT_TARGET, "deadLetterConfig"),
    (T.SNS_TOPIC_SUBSCRIPTION, "redrivePolicy"), (T.LAMBDA_FUNCTION, "deadLetterConfig"),
])
def test_a_queue_that_receives_failed_deliveries_is_a_dead_letter_queue(holder: str, key: str) -> None:
    queue = Res(T.SQS_QUEUE, "failures", {"kmsMasterKeyId": KEY})
    user = Res(holder, "user", {key: UNKNOWN}, prop_deps={key: ["failures"]})
    assert of(Pack().analyze_stack([queue, user]), "sqs-dead-letter-queue") == []
    assert len(of(Pack().analyze_stack([queue]), "sqs-dead-letter-queue")) == 1
