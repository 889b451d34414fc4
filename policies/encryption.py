"""Encryption at rest with customer managed KMS keys, and key hygiene."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
    description="Data stores and logs must be encrypted with a customer managed KMS key.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("RDS.3", "RDS.27", "CIS3 2.3.1", "SQS.1", "SNS.1", "CloudTrail.2", "CIS3 3.5", "S3.17",
              "AwsSolutions-RDS2", "AwsSolutions-SQS2"),
    remediation="Pass the ARN of the platform's KMS key: RDS `storage_encrypted=True` + `kms_key_id`; DynamoDB "
    "`server_side_encryption={enabled: True, kms_key_arn}`; SQS/SNS `kms_master_key_id`; Secrets Manager, "
    "log groups and trails `kms_key_id`; EventBridge bus `kms_key_identifier`; S3 SSE configuration "
    "`sse_algorithm='aws:kms'` with `kms_master_key_id`. Never `alias/aws/*`.",
    resource_types=tuple(_KEY_INPUT),
    guarantee=True,
    preview_note="A key ARN that is unknown at preview counts as set (it comes from the stack's KMS key). "
    "S3 buckets are decided by s3-bucket-encrypted-with-cmk, which needs the whole stack (log targets).",
)
def data_encrypted_with_cmk(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type in (T.RDS_INSTANCE, T.RDS_CLUSTER):
        if is_set(r.get("replicateSourceDb")):
            return  # a read replica inherits the source's encryption
        if as_bool(r.get("storageEncrypted")) is not True and r.get("storageEncrypted") is not UNKNOWN:
            yield f"The {r.label} must set storageEncrypted=true (default false)."
            return
    if r.type == T.DYNAMODB_TABLE:
        enabled = r.get("serverSideEncryption.enabled")
        if enabled is not UNKNOWN and as_bool(enabled) is not True:
            yield (f"The DynamoDB table {r.label} uses the AWS owned key; set serverSideEncryption.enabled=true "
                   "with kmsKeyArn.")
            return
    problem = _key_problem(r.get(_KEY_INPUT[r.type]))
    if problem:
        yield f"The {r.label} is encrypted with {problem}; set {_KEY_INPUT[r.type]} to a customer managed KMS key."


@stack_policy(
    name="s3-bucket-encrypted-with-cmk",
    description="Every S3 bucket must have default encryption with a customer managed KMS key.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("S3.17", "AwsSolutions-S1"),
    remediation="Create an `aws.s3.BucketServerSideEncryptionConfiguration` for the bucket with "
    "`sse_algorithm='aws:kms'` and the platform key's ARN (and `bucket_key_enabled=True`).",
    guarantee=True,
)
def s3_bucket_encrypted_with_cmk(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    log_targets = _server_access_log_targets(stack)
    for bucket in stack.of_type(*T.S3_BUCKETS):
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
