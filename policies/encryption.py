"""Encryption at rest with customer managed KMS keys, and key hygiene."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import resource_policy, stack_policy
from ._model import Resource, Stack
from ._values import UNKNOWN, as_bool, is_set

# type -> (input holding the key, control ids); RDS and DynamoDB need an extra switch (see below).
_KEY_INPUT = {
    T.RDS_INSTANCE: "kmsKeyId",
    T.RDS_CLUSTER: "kmsKeyId",
    T.DYNAMODB_TABLE: "serverSideEncryption.kmsKeyArn",
    T.SQS_QUEUE: "kmsMasterKeyId",
    T.SNS_TOPIC: "kmsMasterKeyId",
    T.SECRET: "kmsKeyId",
    T.LOG_GROUP: "kmsKeyId",
    T.TRAIL: "kmsKeyId",
    T.EVENT_BUS: "kmsKeyIdentifier",
    T.RDS_SNAPSHOT_COPY: "kmsKeyId",
    T.RDS_CLUSTER_SNAPSHOT_COPY: "kmsKeyId",
    T.RDS_BACKUP_REPLICATION: "kmsKeyId",
    T.DYNAMODB_TABLE_REPLICA: "kmsKeyArn",
    T.SCHEDULER_SCHEDULE: "kmsKeyArn",
    T.EVENT_DATA_STORE: "kmsKeyId",
    T.EFS_FILE_SYSTEM: "kmsKeyId",
    T.EFS_REPLICATION: "destination.kmsKeyId",
    T.ELASTICACHE_REPLICATION_GROUP: "kmsKeyId",
    T.ELASTICACHE_SERVERLESS: "kmsKeyId",
    T.OPENSEARCH_DOMAIN: "encryptAtRest.kmsKeyId",
    T.ELASTICSEARCH_DOMAIN: "encryptAtRest.kmsKeyId",
}


def _aws_managed(key: Any) -> bool:
    return isinstance(key, str) and ("alias/aws/" in key)


def _key_problem(value: Any) -> str | None:
    if value is UNKNOWN:
        return None
    if not is_set(value):
        return "no customer managed key"
    if _aws_managed(value):
        return f"the AWS managed key {value}"
    return None


def _first(value: Any) -> Any:
    """A nested block given as an object (pulumi-aws 7 ``Bucket``, companion resources) or as a one-item list
    (the deprecated ``BucketV2`` models every block as a list)."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def inline_sse_rules(bucket: Resource) -> Any:
    """The SSE rules a bucket declares inline: ``Bucket.serverSideEncryptionConfiguration.rule`` (v7) or
    ``BucketV2.serverSideEncryptionConfigurations[].rules[]``; None when absent, UNKNOWN when unknown."""
    config = bucket.get("serverSideEncryptionConfiguration")
    if config is None:
        config = bucket.get("serverSideEncryptionConfigurations")
    if config is None or config is UNKNOWN:
        return config
    rules: list[Any] = []
    for block in config if isinstance(config, list) else [config]:
        if block is UNKNOWN:
            return UNKNOWN
        if isinstance(block, dict):
            for key in ("rule", "rules"):
                value = block.get(key)
                if value is UNKNOWN:
                    return UNKNOWN
                rules += value if isinstance(value, list) else [value] if value is not None else []
    return rules


def _sse_rules_problem(rules: Any) -> str | None:
    """Problem with S3 SSE rules (inline on the bucket, or a BucketServerSideEncryptionConfiguration[V2])."""
    if rules is UNKNOWN:
        return None
    items = rules if isinstance(rules, list) else [rules] if isinstance(rules, dict) else []
    if not items:
        return "no server-side encryption rule"
    for rule in items:
        if rule is UNKNOWN:
            return None
        default = None
        if isinstance(rule, dict):
            default = rule.get("applyServerSideEncryptionByDefault")
            if default is None:
                default = rule.get("applyServerSideEncryptionByDefaults")
        default = _first(default)
        if default is UNKNOWN:
            return None
        if not isinstance(default, dict):
            return "a rule without applyServerSideEncryptionByDefault"
        algorithm = default.get("sseAlgorithm")
        if algorithm not in ("aws:kms", "aws:kms:dsse", UNKNOWN):
            return f"sseAlgorithm {algorithm} (SSE-S3, not KMS)"
        problem = _key_problem(default.get("kmsMasterKeyId"))
        if problem:
            return problem
    return None


@resource_policy(
    name="data-encrypted-with-cmk",
    description="Data stores, their copies and replicas, and logs must be encrypted with a customer managed KMS key.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("RDS.3", "RDS.27", "CIS3 2.3.1", "SQS.1", "SNS.1", "CloudTrail.2", "CIS3 3.5", "S3.17",
              "AwsSolutions-RDS2", "AwsSolutions-SQS2", "CKV_AWS_354", "CKV_AWS_266", "CKV_AWS_245",
              "CKV_AWS_271", "CKV_AWS_297", "CKV_AWS_294", "CKV_AWS_327", "CKV_AWS_119", "EFS.1", "EFS.8",
              "CKV_AWS_42", "CKV_AWS_184", "ElastiCache.4", "CKV_AWS_29", "CKV_AWS_191", "Opensearch.1", "ES.1",
              "CKV_AWS_5", "CKV_AWS_247"),
    remediation="Pass the ARN of the platform's KMS key: RDS `storage_encrypted=True` + `kms_key_id` (and "
    "`performance_insights_kms_key_id` when Performance Insights is on); RDS snapshot copies and automated-backup "
    "replication `kms_key_id`; a global cluster `storage_encrypted=True`; DynamoDB "
    "`server_side_encryption={enabled: True, kms_key_arn}` and `kms_key_arn` on every replica (inline or "
    "`TableReplica`); SQS/SNS `kms_master_key_id`; Secrets Manager, log groups, trails and CloudTrail event data "
    "stores `kms_key_id`; EventBridge bus `kms_key_identifier`; Scheduler schedules `kms_key_arn`; S3 SSE "
    "configuration `sse_algorithm='aws:kms'` with `kms_master_key_id`; EFS `encrypted=True` + `kms_key_id` (and "
    "its replication destination's); ElastiCache replication groups `at_rest_encryption_enabled=True` + "
    "`kms_key_id`, serverless caches `kms_key_id`; OpenSearch/Elasticsearch domains `encrypt_at_rest` with "
    "`kms_key_id`, OpenSearch Serverless encryption policies `KmsARN`. Never `alias/aws/*`.",
    resource_types=(*_KEY_INPUT, T.RDS_CLUSTER_INSTANCE, T.RDS_GLOBAL_CLUSTER, T.OPENSEARCH_SERVERLESS_SECURITY_POLICY),
    guarantee=True,
    preview_note="A key ARN that is unknown at preview counts as set (it comes from the stack's KMS key). "
    "S3 buckets are decided by s3-bucket-encrypted-with-cmk, which needs the whole stack (log targets).",
)
def data_encrypted_with_cmk(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    check = _SPECIAL_FORMS.get(r.type)
    if check is not None:
        yield from check(r)
    else:
        yield from _key_input(r, _KEY_INPUT[r.type])


def _key_input(r: Resource, key: str) -> Iterator[str]:
    problem = _key_problem(r.get(key))
    if problem:
        yield f"The {r.label} is encrypted with {problem}; set {key} to a customer managed KMS key."


def _rds(r: Resource) -> Iterator[str]:
    yield from _performance_insights(r)
    if r.type == T.RDS_CLUSTER_INSTANCE:
        return  # storage is the cluster's
    if is_set(r.get("replicateSourceDb")):
        return  # a read replica inherits the source's encryption
    if as_bool(r.get("storageEncrypted")) is not True and r.get("storageEncrypted") is not UNKNOWN:
        yield f"The {r.label} must set storageEncrypted=true (default false)."
        return
    yield from _key_input(r, "kmsKeyId")


def _performance_insights(r: Resource) -> Iterator[str]:
    """Performance Insights keeps query text and samples: without its own key it uses aws/rds."""
    enabled = as_bool(r.get("performanceInsightsEnabled")) is True or r.get("databaseInsightsMode") == "advanced"
    if enabled:
        problem = _key_problem(r.get("performanceInsightsKmsKeyId"))
        if problem:
            yield (f"The {r.label} enables Performance Insights encrypted with {problem}; set "
                   "performanceInsightsKmsKeyId to a customer managed KMS key.")


def _dynamodb(r: Resource) -> Iterator[str]:
    enabled = r.get("serverSideEncryption.enabled")
    if enabled is not UNKNOWN and as_bool(enabled) is not True:
        yield (f"The DynamoDB table {r.label} uses the AWS owned key; set serverSideEncryption.enabled=true "
               "with kmsKeyArn.")
        return
    yield from _key_input(r, _KEY_INPUT[r.type])
    replicas = r.get("replicas")
    for index, replica in enumerate(replicas if isinstance(replicas, list) else []):
        if isinstance(replica, dict):
            problem = _key_problem(replica.get("kmsKeyArn"))
            if problem:
                yield (f"The DynamoDB table {r.label} replicates to {replica.get('regionName')} (replicas[{index}]) "
                       f"with {problem}; set the replica's kmsKeyArn to a customer managed key of that region.")


def _global_cluster(r: Resource) -> Iterator[str]:
    if is_set(r.get("sourceDbClusterIdentifier")):
        return  # built from an existing cluster, whose encryption it keeps
    if r.get("storageEncrypted") is not UNKNOWN and as_bool(r.get("storageEncrypted")) is not True:
        yield f"The {r.label} must set storageEncrypted=true (default false); its members inherit it."


def _switched_on(r: Resource, switch: str, default: bool) -> Iterator[str]:
    """Encryption that a boolean turns on (``default`` when absent), then the key input."""
    value = r.get(switch)
    if value is not UNKNOWN and (default if value is None else as_bool(value)) is not True:
        yield f"The {r.label} must set {switch}=true (default {str(default).lower()})."
        return
    yield from _key_input(r, _KEY_INPUT[r.type])


def _efs(r: Resource) -> Iterator[str]:
    yield from _switched_on(r, "encrypted", False)


def _elasticache(r: Resource) -> Iterator[str]:
    if is_set(r.get("globalReplicationGroupId")):
        return  # a member of a global datastore takes the primary's encryption
    yield from _switched_on(r, "atRestEncryptionEnabled", r.get("engine") == "valkey")


def _search_domain(r: Resource) -> Iterator[str]:
    yield from _switched_on(r, "encryptAtRest.enabled", False)


def _serverless_search(r: Resource) -> Iterator[str]:
    if r.get("type") != "encryption":
        return
    document = r.get("policy")
    try:
        policy = json.loads(document) if isinstance(document, str) else None
    except json.JSONDecodeError:
        return  # the service rejects it at deploy
    if isinstance(policy, dict) and as_bool(policy.get("AWSOwnedKey")) is True:
        yield (f"The OpenSearch Serverless encryption policy {r.label} uses an AWS owned key; set KmsARN to a "
               "customer managed key.")


_SPECIAL_FORMS: dict[str, Callable[[Resource], Iterator[str]]] = {
    T.EFS_FILE_SYSTEM: _efs,
    T.ELASTICACHE_REPLICATION_GROUP: _elasticache,
    T.OPENSEARCH_DOMAIN: _search_domain,
    T.ELASTICSEARCH_DOMAIN: _search_domain,
    T.OPENSEARCH_SERVERLESS_SECURITY_POLICY: _serverless_search,
    T.RDS_INSTANCE: _rds,
    T.RDS_CLUSTER: _rds,
    T.RDS_CLUSTER_INSTANCE: _rds,
    T.DYNAMODB_TABLE: _dynamodb,
    T.RDS_GLOBAL_CLUSTER: _global_cluster,
}


@stack_policy(
    name="s3-bucket-encrypted-with-cmk",
    description="Every S3 bucket (general purpose and directory) must have default encryption with a customer "
    "managed KMS key.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("S3.17", "AwsSolutions-S1", "CKV_AWS_145"),
    remediation="Create an `aws.s3.BucketServerSideEncryptionConfiguration` for the bucket with "
    "`sse_algorithm='aws:kms'` and the platform key's ARN (and `bucket_key_enabled=True`).",
    guarantee=True,
)
def s3_bucket_encrypted_with_cmk(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    log_targets = _server_access_log_targets(stack)
    for bucket in stack.of_type(*T.S3_BUCKETS, T.S3_DIRECTORY_BUCKET):
        log_target = bucket.urn in log_targets
        inline = inline_sse_rules(bucket)
        if inline is not None and (_sse_rules_problem(inline) is None or (log_target and _sse_s3_only(inline))):
            continue
        configs = stack.referrers(bucket, T.S3_SSE, "bucket", ["bucket", "id"])
        if not configs:
            if inline is not None:
                yield (f"The S3 bucket {bucket.label} declares server-side encryption with "
                       f"{_sse_rules_problem(inline)}; use SSE-KMS with a customer managed key.", bucket.urn)
            else:
                yield (f"The S3 bucket {bucket.label} has no BucketServerSideEncryptionConfiguration with a "
                       "customer managed KMS key.", bucket.urn)
            continue
        for config in configs:
            problem = _sse_rules_problem(config.get("rules"))
            if problem is None:
                continue
            if log_target and _sse_s3_only(config.get("rules")):
                continue  # S3 server access logs can only be delivered to an SSE-S3 bucket (AWS limitation)
            yield (f"The S3 encryption configuration {config.label} uses {problem}; use SSE-KMS with a customer "
                   "managed key.", config.urn)


def _server_access_log_targets(stack: Stack) -> set[str]:
    """URNs of buckets that receive S3 server access logs (BucketLogging targetBucket)."""
    targets: set[str] = set()
    for logging in stack.of_type(*T.S3_LOGGING):
        for bucket in stack.targets_of(logging, "targetBucket", T.S3_BUCKETS, ["bucket", "id"]):
            targets.add(bucket.urn)
    return targets


def _sse_s3_only(rules: Any) -> bool:
    items = rules if isinstance(rules, list) else [rules]
    defaults = [_first(r.get("applyServerSideEncryptionByDefault") or r.get("applyServerSideEncryptionByDefaults"))
                for r in items if isinstance(r, dict)]
    return bool(defaults) and all(isinstance(d, dict) and d.get("sseAlgorithm") == "AES256" for d in defaults)


@resource_policy(
    name="kms-key-rotation",
    description="Symmetric customer managed KMS keys must have automatic rotation enabled.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("KMS.4", "CIS3 3.6", "AwsSolutions-KMS5"),
    remediation="Set `enable_key_rotation=True` on the key (default false).",
    resource_types=(T.KMS_KEY,),
    guarantee=True,
)
def kms_key_rotation(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    spec = r.get("customerMasterKeySpec")
    usage = r.get("keyUsage")
    if spec not in (None, "SYMMETRIC_DEFAULT", UNKNOWN) or usage not in (None, "ENCRYPT_DECRYPT", UNKNOWN):
        return  # AWS rotates only symmetric encryption keys
    rotation = r.get("enableKeyRotation")
    if rotation is not UNKNOWN and as_bool(rotation) is not True:
        yield f"The KMS key {r.label} must set enableKeyRotation=true (absent means rotation is off)."
