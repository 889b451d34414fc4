"""Hardened log buckets (trail, flow logs) and the policies every such bucket carries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

IA_AFTER_DAYS = 30  # S3 charges STANDARD_IA for at least 30 days; earlier transitions are refused
GLACIER_AFTER_DAYS = 90


def lifecycle_rule(expiration_days: int) -> aws.s3.BucketLifecycleConfigurationRuleArgsDict:
    """Archive logs to cheaper storage classes, then expire them (and overwritten/deleted versions) per env.

    A transition on or after the expiration day is skipped: S3 rejects such rules.
    """
    transitions: list[aws.s3.BucketLifecycleConfigurationRuleTransitionArgsDict] = [
        {"days": days, "storage_class": storage_class}
        for days, storage_class in ((IA_AFTER_DAYS, "STANDARD_IA"), (GLACIER_AFTER_DAYS, "GLACIER"))
        if days < expiration_days
    ]
    return {
        "id": "archive-then-expire",
        "status": "Enabled",
        "filter": {"prefix": ""},  # every object
        "transitions": transitions,
        "expiration": {"days": expiration_days},
        # Versions replaced or deleted (e.g. by someone covering their tracks) are kept as long as live logs.
        "noncurrent_version_expiration": {"noncurrent_days": expiration_days},
        "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
    }


def deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def access_log_bucket_policy(bucket_arn: str, account_id: str, source_bucket_arn: str) -> dict[str, Any]:
    """S3 server access logging (for ``source_bucket_arn`` only) writes here; nobody uses plain HTTP."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "S3ServerAccessLogsPolicy",
                "Effect": "Allow",
                "Principal": {"Service": "logging.s3.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                "Condition": {
                    "ArnLike": {"aws:SourceArn": source_bucket_arn},
                    "StringEquals": {"aws:SourceAccount": account_id},
                },
            },
            deny_insecure_transport(bucket_arn),
        ],
    }


Options = Callable[[Sequence[pulumi.Resource]], pulumi.ResourceOptions]


def hardened_bucket(name: str, label: str, bucket_name: pulumi.Input[str] | None,
                    sse: aws.s3.BucketServerSideEncryptionConfigurationRuleArgsDict, retention_days: int,
                    options: Options) -> tuple[aws.s3.Bucket, list[pulumi.Resource]]:
    """A bucket with public access blocked, ACLs disabled, versioning, default encryption and lifecycle.

    ``options(depends_on)`` gives each resource's options (its parent, protection). ``bucket_name`` None lets Pulumi
    name the bucket. Returns the bucket and the configuration resources a bucket policy must wait for (S3 rejects a
    policy racing the public access block with "OperationAborted: conflicting conditional operation").
    """
    child = options(())
    bucket = aws.s3.Bucket(f"{name}-{label}", bucket=bucket_name, opts=child)
    pab = aws.s3.BucketPublicAccessBlock(
        f"{name}-{label}-pab",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    ownership = aws.s3.BucketOwnershipControls(
        f"{name}-{label}-ownership",
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},  # ACLs off: the bucket policy alone decides
        opts=child,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-{label}-versioning",
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        opts=child,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(f"{name}-{label}-sse", bucket=bucket.id, rules=[sse], opts=child)
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-{label}-lifecycle",
        bucket=bucket.id,
        rules=[lifecycle_rule(retention_days)],
        # S3 rejects lifecycle rules on versions until versioning is configured.
        opts=options([versioning]),
    )
    return bucket, [pab, ownership]
