"""The stack's alert topic, its subscribers, and the EventBridge rules that forward security findings to it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components._naming import alert_topic_name
from components.settings import Settings

# GuardDuty severities are numbers (1.0-8.9 today, 9.0+ reserved for CRITICAL); the labels map to the lower bound
# of each band (https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_findings-severity.html).
GUARDDUTY_SEVERITY_FLOOR = {"LOW": 1, "MEDIUM": 4, "HIGH": 7, "CRITICAL": 9}
# ASFF Severity.Label values in increasing order; INFORMATIONAL never alerts.
ASFF_LABELS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")


def guardduty_pattern(threshold: str) -> dict[str, Any]:
    """GuardDuty findings at or above ``threshold`` (EventBridge numeric matching on ``detail.severity``)."""
    return {
        "source": ["aws.guardduty"],
        "detail-type": ["GuardDuty Finding"],
        "detail": {"severity": [{"numeric": [">=", GUARDDUTY_SEVERITY_FLOOR[threshold]]}]},
    }


def securityhub_pattern(threshold: str) -> dict[str, Any]:
    """Security Hub findings at or above ``threshold``.

    Only new, active findings: Security Hub re-imports a finding on every update (and when it is resolved), which
    would otherwise page again for the same problem.
    """
    labels = list(ASFF_LABELS[ASFF_LABELS.index(threshold):])
    return {
        "source": ["aws.securityhub"],
        "detail-type": ["Security Hub Findings - Imported"],
        "detail": {
            "findings": {
                "Severity": {"Label": labels},
                "Workflow": {"Status": ["NEW"]},
                "RecordState": ["ACTIVE"],
            }
        },
    }


def topic_policy(topic_arn: str, account_id: str, region: str) -> dict[str, Any]:
    """Who may publish: this account's alarms, EventBridge rules, over TLS only.

    A TopicPolicy replaces SNS's default policy; the account's own principals keep access through IAM.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account_id}:alarm:*"},
                },
            },
            {
                # The EventBridge guide's statement for SNS targets carries no Condition: EventBridge cannot be
                # scoped here (a refused publish shows only in the rule's FailedInvocations metric, alarmed).
                "Sid": "EventBridgeRulesPublish",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


@dataclass
class AlertTopicArgs:
    settings: Settings
    """Validated stack settings (subscribers, finding severity threshold, region)."""
    kms_key_arn: pulumi.Input[str]
    """Customer managed key encrypting the topic; its key policy must let cloudwatch/events use it."""
    account_id: pulumi.Input[str]
    """Account whose alarms and rules may publish."""


class AlertTopic(pulumi.ComponentResource):
    """Creates the alert SNS topic (KMS-encrypted with a customer managed key: alarms cannot use alias/aws/sns),
    its policy (publish by this account's CloudWatch alarms and by EventBridge rules, TLS only), e-mail and HTTPS
    subscriptions from settings, and EventBridge rules on the default bus that forward GuardDuty and Security Hub
    findings at or above ``findingSeverityThreshold``.

    The finding rules are per stack (rules are not account singletons); findings only arrive where the services
    are enabled (by whichever stack owns the account baseline)."""

    topic: aws.sns.Topic

    def __init__(self, name: str, args: AlertTopicArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:monitoring:AlertTopic", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)

        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=alert_topic_name(s.name_prefix),  # the logs key policy names this topic's ARN
            display_name=f"{s.name_prefix} alerts",
            kms_master_key_id=args.kms_key_arn,
            opts=child,
        )
        self.policy = aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=self.topic.arn,
            policy=pulumi.Output.all(self.topic.arn, args.account_id).apply(
                lambda v: json.dumps(topic_policy(v[0], v[1], s.region))
            ),
            opts=child,
        )
        self.subscriptions: list[aws.sns.TopicSubscription] = []
        for i, email in enumerate(s.alert_emails):
            # E-mail subscriptions stay "pending confirmation" until the recipient clicks the link.
            self.subscriptions.append(
                aws.sns.TopicSubscription(f"{name}-email-{i}", topic=self.topic.arn, protocol="email",
                                          endpoint=email, opts=child)
            )
        if s.alert_https_endpoint:
            self.subscriptions.append(
                aws.sns.TopicSubscription(f"{name}-https", topic=self.topic.arn, protocol="https",
                                          endpoint=s.alert_https_endpoint, opts=child)
            )

        self.finding_rules: dict[str, aws.cloudwatch.EventRule] = {}
        patterns = {
            "guardduty": ("GuardDuty findings", guardduty_pattern(s.finding_severity_threshold)),
            "securityhub": ("Security Hub findings", securityhub_pattern(s.finding_severity_threshold)),
        }
        for key, (what, pattern) in patterns.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{key}-findings",
                description=f"{what} at or above {s.finding_severity_threshold} to the {s.name_prefix} alert topic",
                event_pattern=json.dumps(pattern),
                state="ENABLED",
                opts=child,
            )
            aws.cloudwatch.EventTarget(
                f"{name}-{key}-findings-target",
                rule=rule.name,
                arn=self.topic.arn,
                # Without the topic policy the first findings would be dropped (events cannot publish yet).
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy]),
            )
            self.finding_rules[key] = rule

        self.register_outputs({"topicArn": self.topic.arn})
