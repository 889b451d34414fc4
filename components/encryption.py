"""Customer managed KMS keys, one per purpose, with key policies that admit exactly the services that need them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components._naming import alert_topic_name, kms_alias, order_bus_name, trail_name
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


def logs_key_policy(account_id: str, region: str, trail: str, alert_topic: str, log_delivery: bool = False
                    ) -> dict[str, Any]:
    """CloudWatch Logs, CloudTrail, and the publishers of the encrypted alert topic ``alert_topic`` (CloudWatch
    alarms, EventBridge rules).

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
                # CloudWatch alarms publish to the KMS-encrypted alert topic (alias/aws/sns cannot be used by
                # alarms); CloudWatch supplies the source account, so the confused-deputy guard stays.
                "Sid": "CloudWatchAlarmsUseKey",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            },
            eventbridge_topic_statement(alert_topic_arn(account_id, region, alert_topic)),
            *([log_delivery_statement(account_id, region)] if log_delivery else []),
        ],
    }


def log_delivery_statement(account_id: str, region: str) -> dict[str, Any]:
    """Vended-log delivery (VPC flow logs to S3) encrypts into the SSE-KMS log bucket: the statement of the CloudWatch
    Logs guide ("Logs sent to Amazon S3", bucket server-side encryption), for this account's deliveries only."""
    return {
        "Sid": "LogDeliveryEncryptsToBucket",
        "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": account_id},
            "ArnLike": {"aws:SourceArn": f"arn:aws:logs:{region}:{account_id}:*"},
        },
    }


def alert_topic_arn(account_id: str, region: str, topic: str) -> str:
    return f"arn:aws:sns:{region}:{account_id}:{topic}"


def eventbridge_topic_statement(topic_arn: str) -> dict[str, Any]:
    """EventBridge rules publish to an encrypted SNS topic (the statement of the EventBridge guide, "My rule runs,
    but I don't see any messages published into my Amazon SNS topic").

    SNS makes the KMS calls for EventBridge and does not pass aws:SourceAccount/aws:SourceArn; a refused call shows
    only in the rule's FailedInvocations metric. The encryption context SNS always sends (the topic ARN) is what
    scopes the statement to our topic.
    """
    return {
        "Sid": "EventBridgePublishesToAlertTopic",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": topic_arn}},
    }


def data_key_policy(account_id: str, region: str, bus: str) -> dict[str, Any]:
    """EventBridge encrypts events on the custom bus, and delivers them to the encrypted queue and DLQ."""
    bus_arn = f"arn:aws:events:{region}:{account_id}:event-bus/{bus}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            _root_statement(account_id),
            {
                # The bus itself (EventBridge guide, "Authorizing EventBridge to use a customer managed key"):
                # EventBridge supplies the bus ARN and account for these calls.
                "Sid": "EventBridgeEncryptsOrderBus",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id, "aws:SourceArn": bus_arn}},
            },
            {
                # Delivery to the CMK-encrypted queues goes through SQS's own KMS calls, which carry neither
                # aws:SourceAccount nor aws:SourceArn: the statement of the SQS and EventBridge guides has no
                # condition. Any condition here would make every delivery fail (events age out to the DLQ, which
                # is encrypted with this key too).
                "Sid": "EventBridgeDeliversToQueues",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": "*",
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
    the trail never see a key that does not yet trust them). Production keys are ``protect``ed; the logs key of a
    stack that owns the account baseline is protected and retained like the baseline."""

    data_key: aws.kms.Key
    logs_key: aws.kms.Key
    secrets_key: aws.kms.Key

    def __init__(self, name: str, args: EncryptionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:encryption:Encryption", name, None, opts)
        s = args.settings
        policies: dict[str, Callable[[str], dict[str, Any]]] = {
            "data": lambda acct: data_key_policy(acct, s.region, order_bus_name(s.name_prefix)),
            "logs": lambda acct: logs_key_policy(
                acct, s.region, trail_name(s.name_prefix), alert_topic_name(s.name_prefix),
                log_delivery=s.flow_log_destination == "s3",
            ),
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
                opts=self._keep(s, purpose),
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

    def _keep(self, s: Settings, purpose: str) -> pulumi.ResourceOptions:
        """Production keys are protected. The logs key of a stack that owns the account baseline encrypts the trail,
        its bucket and Config's deliveries, so it is kept like the baseline itself (components/ownership.py)."""
        baseline = purpose == "logs" and s.owns_account_baseline
        return pulumi.ResourceOptions(parent=self, protect=s.production or baseline, retain_on_delete=baseline)
