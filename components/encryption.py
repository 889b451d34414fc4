"""Customer managed KMS keys, one per purpose, with key policies that admit exactly the services that need them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components._naming import kms_alias, trail_name
from components.settings import Settings

PURPOSES = ("data", "logs", "secrets")


def _root_statement(account_id: str) -> dict[str, Any]:
    # Without it KMS rejects the policy (lockout safety check), and IAM policies could not grant use of the key:
    # Secrets Manager, RDS, Lambda env vars and queue consumers all authorise through the caller's IAM.
    return {
        "Sid": "AccountRootAdministers",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


def logs_key_policy(account_id: str, region: str, trail: str) -> dict[str, Any]:
    """CloudWatch Logs, CloudTrail, and the publishers of the encrypted alert topic (CloudWatch, EventBridge).

    Condition ARNs are plain strings built from names we choose, never outputs of resources using the key:
    that would be a dependency cycle (key -> trail -> key).
    """
    trail_arn = f"arn:aws:cloudtrail:{region}:{account_id}:trail/{trail}"
    trail_context = {"kms:EncryptionContext:aws:cloudtrail:arn": f"arn:aws:cloudtrail:*:{account_id}:trail/*"}
    return {
        "Version": "2012-10-17",
        "Statement": [
            _root_statement(account_id),
            {
                "Sid": "CloudWatchLogsEncrypt",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account_id}:log-group:*"
                    }
                },
            },
            {
                "Sid": "CloudTrailEncryptLogs",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:GenerateDataKey*",
                "Resource": "*",
                "Condition": {
                    "StringLike": trail_context,
                    "StringEquals": {"aws:SourceArn": trail_arn},
                },
            },
            {
                "Sid": "CloudTrailDescribeKey",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:DescribeKey",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                # The trail bucket uses an S3 Bucket Key; CloudTrail then needs Decrypt to create the trail.
                "Sid": "CloudTrailDecryptWithBucketKey",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}},
            },
            {
                # Readers of the trail (auditors, Athena) decrypt with their own IAM, in this account only.
                "Sid": "AccountReadsTrailLogs",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Decrypt", "kms:ReEncryptFrom"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:CallerAccount": account_id},
                    "StringLike": trail_context,
                },
            },
            {
                # Alarms and EventBridge rules publish to the KMS-encrypted alert topic; without this the
                # messages are dropped silently (alias/aws/sns cannot be used by CloudWatch alarms).
                "Sid": "AlertPublishersUseKey",
                "Effect": "Allow",
                "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
        ],
    }


def data_key_policy(account_id: str, region: str) -> dict[str, Any]:
    """EventBridge encrypts events on the custom bus and delivers them to the encrypted queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            _root_statement(account_id),
            {
                "Sid": "EventBridgeUsesKey",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:aws:events:{region}:{account_id}:*"},
                },
            },
        ],
    }


def secrets_key_policy(account_id: str) -> dict[str, Any]:
    """Secrets Manager and Lambda environment variables authorise through the caller's IAM and kms:ViaService."""
    return {"Version": "2012-10-17", "Statement": [_root_statement(account_id)]}


def _render(build: Callable[[str], dict[str, Any]]) -> Callable[[str], str]:
    return lambda account_id: json.dumps(build(account_id))


@dataclass
class EncryptionArgs:
    settings: Settings
    """Validated stack settings (deletion window, naming, production flag)."""
    account_id: pulumi.Input[str]
    """The AWS account the keys belong to (key policies name it)."""


class Encryption(pulumi.ComponentResource):
    """Creates one customer managed key per purpose (data, logs, secrets), each with rotation on, the
    environment's deletion window, an alias, and an inline key policy (set at creation so that log groups and
    the trail never see a key that does not yet trust them). Production keys are ``protect``ed."""

    data_key: aws.kms.Key
    logs_key: aws.kms.Key
    secrets_key: aws.kms.Key

    def __init__(self, name: str, args: EncryptionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:encryption:Encryption", name, None, opts)
        s = args.settings
        policies: dict[str, Callable[[str], dict[str, Any]]] = {
            "data": lambda acct: data_key_policy(acct, s.region),
            "logs": lambda acct: logs_key_policy(acct, s.region, trail_name(s.name_prefix)),
            "secrets": secrets_key_policy,
        }
        keys: dict[str, aws.kms.Key] = {}
        for purpose in PURPOSES:
            key = aws.kms.Key(
                f"{name}-{purpose}",
                description=f"{s.name_prefix} {purpose} at rest",
                enable_key_rotation=True,
                rotation_period_in_days=365,
                deletion_window_in_days=s.kms_deletion_window_days,
                policy=pulumi.Output.from_input(args.account_id).apply(_render(policies[purpose])),
                opts=pulumi.ResourceOptions(parent=self, protect=s.production),
            )
            aws.kms.Alias(
                f"{name}-{purpose}-alias",
                name=kms_alias(s.name_prefix, purpose),
                target_key_id=key.key_id,
                opts=pulumi.ResourceOptions(parent=self),
            )
            keys[purpose] = key
        self.data_key, self.logs_key, self.secrets_key = keys["data"], keys["logs"], keys["secrets"]
        self.register_outputs({p: k.arn for p, k in keys.items()})
