"""Order events: an encrypted EventBridge bus routing OrderCreated to an encrypted SQS queue with a DLQ."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components._naming import order_bus_name
from components.encryption import Encryption
from components.settings import Settings

# What the api and reconcile functions publish (contract: EVENT_SOURCE default and DetailType).
EVENT_SOURCE = "platform.orders"
DETAIL_TYPE = "OrderCreated"
MAX_RECEIVE_COUNT = 5  # deliveries before a message that keeps failing moves to the DLQ
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
# Longer than the queue's: a message keeps its original enqueue time when it moves, so a DLQ with a retention
# no longer than the source's could drop it at once.
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum
KMS_DATA_KEY_REUSE_SECONDS = 300
# EventBridge retries a failed delivery to the queue for at most this long / this often, then dead-letters it;
# shorter than the 24 h default so a broken queue policy or key shows up in the DLQ alarm the same day.
TARGET_MAX_EVENT_AGE_SECONDS = 6 * 3600
TARGET_MAX_RETRIES = 100


def event_pattern() -> str:
    return json.dumps({"source": [EVENT_SOURCE], "detail-type": [DETAIL_TYPE]})


def redrive_policy(dlq_arn: str) -> str:
    # maxReceiveCount must be a JSON number: SQS rejects the string "5".
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT})


def redrive_allow_policy(source_queue_arn: str) -> str:
    return json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [source_queue_arn]})


def queue_policy(queue_arn: str, eventbridge_sources: Sequence[str]) -> str:
    """Only TLS, and EventBridge may send only on behalf of the named rules/buses (confused-deputy guard)."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": queue_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "EventBridgeDelivers",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": list(eventbridge_sources)}},
        },
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@dataclass
class OrderEventsArgs:
    settings: Settings
    """Validated stack settings (naming)."""
    encryption: Encryption
    """Keys: the data key encrypts the bus and both queues."""
    visibility_timeout_seconds: int
    """Queue visibility timeout; at least 6x the consumer's timeout (AWS's advice for Lambda consumers)."""


class OrderEvents(pulumi.ComponentResource):
    """Creates the event path from the API to the worker:

    - a custom EventBridge bus encrypted with the data key;
    - a rule on that bus matching ``platform.orders`` / ``OrderCreated``;
    - the orders queue (data key, redrive to the DLQ after 5 receives) and its DLQ (14-day retention, redrive
      allowed from the orders queue only);
    - queue policies denying non-TLS access and letting EventBridge send only for this rule (and, for the DLQ,
      this rule's and this bus's failed deliveries);
    - the rule's target: the orders queue, with a retry policy and the same DLQ for events EventBridge could not
      deliver. The bus also dead-letters events it cannot process (e.g. KMS errors) there. One DLQ means one alarm
      and one redrive: an EventBridge dead-letter message's body is the event itself, which is exactly what the
      worker reads from the orders queue, so a redrive to the source works for both kinds.
    """

    bus: aws.cloudwatch.EventBus
    rule: aws.cloudwatch.EventRule
    queue: aws.sqs.Queue
    dlq: aws.sqs.Queue

    def __init__(self, name: str, args: OrderEventsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:backend:OrderEvents", name, None, opts)
        s, data_key = args.settings, args.encryption.data_key
        child = pulumi.ResourceOptions(parent=self)

        self.dlq = aws.sqs.Queue(
            f"{name}-dlq",
            kms_master_key_id=data_key.arn,
            kms_data_key_reuse_period_seconds=KMS_DATA_KEY_REUSE_SECONDS,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            opts=child,
        )
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            kms_master_key_id=data_key.arn,
            kms_data_key_reuse_period_seconds=KMS_DATA_KEY_REUSE_SECONDS,
            message_retention_seconds=QUEUE_RETENTION_SECONDS,
            visibility_timeout_seconds=args.visibility_timeout_seconds,
            receive_wait_time_seconds=20,  # long polling: fewer empty receives
            redrive_policy=self.dlq.arn.apply(redrive_policy),
            opts=child,
        )
        # A separate resource: inline on the DLQ it would need the source queue's ARN, which needs the DLQ's.
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq-redrive-allow",
            queue_url=self.dlq.url,
            redrive_allow_policy=self.queue.arn.apply(redrive_allow_policy),
            opts=child,
        )

        self.bus = aws.cloudwatch.EventBus(
            f"{name}-bus",
            name=order_bus_name(s.name_prefix),  # the data key policy names this bus's ARN
            description=f"{s.name_prefix} order events",
            kms_key_identifier=data_key.arn,
            dead_letter_config={"arn": self.dlq.arn},
            opts=child,
        )
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-order-created",
            description="OrderCreated events to the orders queue",
            event_bus_name=self.bus.name,
            event_pattern=event_pattern(),
            state="ENABLED",
            opts=child,
        )
        queue_access = aws.sqs.QueuePolicy(
            f"{name}-queue-policy",
            queue_url=self.queue.url,
            policy=pulumi.Output.all(self.queue.arn, self.rule.arn).apply(lambda a: queue_policy(a[0], [a[1]])),
            opts=child,
        )
        dlq_access = aws.sqs.QueuePolicy(
            f"{name}-dlq-policy",
            queue_url=self.dlq.url,
            policy=pulumi.Output.all(self.dlq.arn, self.rule.arn, self.bus.arn).apply(
                lambda a: queue_policy(a[0], [a[1], a[2]])
            ),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-to-queue",
            rule=self.rule.name,
            event_bus_name=self.bus.name,
            arn=self.queue.arn,
            retry_policy={
                "maximum_event_age_in_seconds": TARGET_MAX_EVENT_AGE_SECONDS,
                "maximum_retry_attempts": TARGET_MAX_RETRIES,
            },
            dead_letter_config={"arn": self.dlq.arn},
            # Without the policies the first deliveries are refused (and, until the DLQ policy, lost).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[queue_access, dlq_access]),
        )
        self.register_outputs(
            {"busName": self.bus.name, "queueUrl": self.queue.url, "dlqUrl": self.dlq.url}
        )
