"""The database and the log buckets (RDS.2, RDS.3, RDS.8, S3.8, S3.5 / CIS 2.1.1, 2.1.4, 2.3.3)."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from audit.aws import AwsCallError
from audit.checks.context import AuditContext
from audit.model import Check, Result, Severity

DB_NOT_PUBLIC = Check(
    "rds-not-public", "Database is not publicly accessible", Severity.CRITICAL,
    "Set publicly_accessible=False and keep the DB in the isolated subnets.", ("RDS.2", "CIS3 2.3.3"),
)
DB_ENCRYPTED = Check(
    "rds-encrypted", "Database storage is encrypted", Severity.MEDIUM,
    "Set storage_encrypted=True with kms_key_id of the data CMK (requires a new instance from a snapshot).",
    ("RDS.3", "CIS3 2.3.1"),
)
DB_DELETION_PROTECTION = Check(
    "rds-deletion-protection", "Production database has deletion protection", Severity.MEDIUM,
    "Set deletion_protection=True (dbDeletionProtection) for production stacks.", ("RDS.8",),
)
BUCKET_PUBLIC_ACCESS_BLOCK = Check(
    "s3-bucket-public-access-block", "Log bucket blocks all public access", Severity.HIGH,
    "Add an s3.BucketPublicAccessBlock with all four flags True.", ("S3.8", "CIS3 2.1.4", "CloudTrail.6"),
)
BUCKET_TLS_ONLY = Check(
    "s3-bucket-tls-only", "Log bucket policy denies requests without TLS", Severity.MEDIUM,
    "Add a bucket policy statement: Deny, Principal *, Action s3:*, Resource bucket and bucket/*, "
    "Condition Bool aws:SecureTransport false.", ("S3.5", "CIS3 2.1.1"),
)
CHECKS = (DB_NOT_PUBLIC, DB_ENCRYPTED, DB_DELETION_PROTECTION, BUCKET_PUBLIC_ACCESS_BLOCK, BUCKET_TLS_ONLY)
_PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def run(ctx: AuditContext) -> list[Result]:
    results = _database(ctx)
    try:
        buckets = log_buckets(ctx)
    except AwsCallError as exc:
        return [*results, BUCKET_PUBLIC_ACCESS_BLOCK.errored("log buckets", str(exc)),
                BUCKET_TLS_ONLY.errored("log buckets", str(exc))]
    for bucket in buckets:
        results.extend(_bucket(ctx, bucket))
    return results


def _database(ctx: AuditContext) -> list[Result]:
    db_id = ctx.outputs.backend.db_instance_id
    checks = [DB_NOT_PUBLIC, DB_ENCRYPTED] + ([DB_DELETION_PROTECTION] if ctx.production else [])
    try:
        answer = ctx.aws.call("rds", "describe_db_instances", DBInstanceIdentifier=db_id,
                              absent=frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault"}))
    except AwsCallError as exc:
        return [check.errored(db_id, str(exc)) for check in checks]
    if not answer or not answer.get("DBInstances"):
        return [check.failed(db_id, f"The DB instance {db_id} does not exist.") for check in checks]
    db = answer["DBInstances"][0]
    resource = db.get("DBInstanceArn", db_id)
    results = [
        DB_NOT_PUBLIC.judge(resource, not db.get("PubliclyAccessible"), "The DB is not publicly accessible.",
                            "The DB instance is publicly accessible."),
        DB_ENCRYPTED.judge(resource, bool(db.get("StorageEncrypted")),
                           f"Storage is encrypted with {db.get('KmsKeyId')}.", "The DB storage is not encrypted."),
    ]
    if ctx.production:
        results.append(DB_DELETION_PROTECTION.judge(
            resource, bool(db.get("DeletionProtection")), "Deletion protection is on.",
            "Deletion protection is off on a production database."))
    return results


def log_buckets(ctx: AuditContext) -> list[str]:
    """The trail bucket from the outputs, plus AWS Config's delivery bucket when the stack owns Config.

    Without the baseline the account's log buckets usually live in a log-archive account that this
    audit's role cannot read, so only buckets the outputs name are checked.
    """
    buckets = [ctx.outputs.monitoring.trail_bucket] if ctx.outputs.monitoring.trail_bucket else []
    if ctx.outputs.monitoring.owns_account_baseline:
        channels = ctx.aws.call("config", "describe_delivery_channels",
                                absent=frozenset({"NoSuchDeliveryChannelException"})) or {}
        buckets += [c["s3BucketName"] for c in channels.get("DeliveryChannels", []) if c.get("s3BucketName")]
    return list(dict.fromkeys(buckets))


def _bucket(ctx: AuditContext, bucket: str) -> list[Result]:
    resource = f"arn:aws:s3:::{bucket}"
    try:
        pab = ctx.aws.call("s3", "get_public_access_block", Bucket=bucket,
                           absent=frozenset({"NoSuchPublicAccessBlockConfiguration"}))
        policy = ctx.aws.call("s3", "get_bucket_policy", Bucket=bucket, absent=frozenset({"NoSuchBucketPolicy"}))
    except AwsCallError as exc:
        return [BUCKET_PUBLIC_ACCESS_BLOCK.errored(resource, str(exc)), BUCKET_TLS_ONLY.errored(resource, str(exc))]
    flags = (pab or {}).get("PublicAccessBlockConfiguration", {})
    off = [flag for flag in _PAB_FLAGS if not flags.get(flag)]
    return [
        BUCKET_PUBLIC_ACCESS_BLOCK.judge(resource, not off, "All four public access block flags are on.",
                                         f"Public access block flags off or missing: {', '.join(off)}."),
        BUCKET_TLS_ONLY.judge(resource, denies_insecure_transport(policy and policy.get("Policy"), bucket),
                              "The bucket policy denies requests made without TLS.",
                              "No bucket policy statement denies s3:* when aws:SecureTransport is false."),
    ]


def denies_insecure_transport(policy_text: str | None, bucket: str) -> bool:
    """A Deny for everyone, on all S3 actions, on the bucket and its objects, when SecureTransport is false."""
    if not policy_text:
        return False
    statements = json.loads(policy_text).get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    return any(_is_tls_deny(statement, bucket) for statement in statements)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _is_tls_deny(statement: dict[str, Any], bucket: str) -> bool:
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal != "*" and not (isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))):
        return False
    if not {"s3:*", "*"} & {str(a).lower() for a in _as_list(statement.get("Action", []))}:
        return False
    resources = [str(r) for r in _as_list(statement.get("Resource", []))]
    covers_bucket = any(fnmatch.fnmatchcase(f"arn:aws:s3:::{bucket}", r) for r in resources)
    covers_objects = any(fnmatch.fnmatchcase(f"arn:aws:s3:::{bucket}/any-key", r) for r in resources)
    secure = (statement.get("Condition") or {}).get("Bool", {}).get("aws:SecureTransport")
    return covers_bucket and covers_objects and "false" in {str(v).lower() for v in _as_list(secure)}
