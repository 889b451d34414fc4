"""eventbridge-target-delivery: rules to encrypted topics and queues, admitted by resource and key policies."""

from __future__ import annotations

import json
from typing import Any

from policies import _tokens as T

from .harness import UNKNOWN, Pack, Res, of

POLICY = "eventbridge-target-delivery"
EVENTS = {"Service": "events.amazonaws.com"}
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:alerts"
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:orders"
ROOT = {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "kms:*",
        "Resource": "*"}


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def key_statement(condition: dict[str, Any] | None = None, actions: Any = ("kms:Decrypt", "kms:GenerateDataKey*")
                  ) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Principal": EVENTS, "Action": list(actions), "Resource": "*"}
    if condition is not None:
        st["Condition"] = condition
    return st


def publish(condition: dict[str, Any] | None = None) -> dict[str, Any]:
    st: dict[str, Any] = {"Effect": "Allow", "Principal": EVENTS, "Action": "sns:Publish", "Resource": TOPIC_ARN}
    if condition is not None:
        st["Condition"] = condition
    return st


CONTEXT = {"StringEquals": {"kms:EncryptionContext:aws:sns:topicArn": TOPIC_ARN}}
SOURCE = {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def topic_graph(*, key_policy: Any = None, topic_policy: Any = "default", key_ref: Any = "key") -> list[Res]:
    key_policy = doc(ROOT, key_statement(CONTEXT)) if key_policy is None else key_policy
    topic_policy = doc(publish()) if topic_policy == "default" else topic_policy
    graph = [Res(T.KMS_KEY, "key", {"policy": key_policy, "arn": "arn:aws:kms:eu-west-1:123456789012:key/k"})]
    topic_props = {"arn": TOPIC_ARN}
    topic_deps: dict[str, list[str]] = {}
    if key_ref == "key":
        topic_props["kmsMasterKeyId"] = UNKNOWN
        topic_deps["kmsMasterKeyId"] = ["key"]
    elif key_ref is not None:
        topic_props["kmsMasterKeyId"] = key_ref
    graph.append(Res(T.SNS_TOPIC, "topic", topic_props, deps=list(topic_deps.get("kmsMasterKeyId", [])),
                     prop_deps=topic_deps))
    if topic_policy is not None:
        graph.append(Res(T.SNS_TOPIC_POLICY, "topic-policy", {"arn": UNKNOWN, "policy": topic_policy},
                         deps=["topic"], prop_deps={"arn": ["topic"]}))
    graph += [
        Res(T.EVENT_RULE, "findings", {"eventPattern": "{}", "name": "findings"}),
        Res(T.EVENT_TARGET, "to-topic", {"rule": UNKNOWN, "arn": UNKNOWN}, deps=["findings", "topic"],
            prop_deps={"rule": ["findings"], "arn": ["topic"]}),
    ]
    return graph


def findings(graph: list[Res]) -> list[Any]:
    return of(Pack().analyze_stack(graph), POLICY)


def test_documented_statements_pass() -> None:
    assert findings(topic_graph()) == []
    # No condition at all is the EventBridge troubleshooting guide's own statement.
    assert findings(topic_graph(key_policy=doc(ROOT, key_statement()))) == []


def test_key_statement_with_source_conditions_fails_and_names_them() -> None:
    (diag,) = findings(topic_graph(key_policy=doc(ROOT, key_statement(SOURCE))))
    assert diag.level == "mandatory"
    assert "aws:sourceaccount" in diag.message and "'key'" in diag.message and "'findings'" in diag.message
    assert diag.urn.endswith("::key")


def test_key_without_any_statement_for_eventbridge_fails() -> None:
    (diag,) = findings(topic_graph(key_policy=doc(ROOT)))
    assert "not at all" in diag.message


def test_key_granting_decrypt_only_fails_for_the_missing_action() -> None:
    (diag,) = findings(topic_graph(key_policy=doc(ROOT, key_statement(actions=["kms:Decrypt"]))))
    assert "kms:GenerateDataKey" in diag.message


def test_topic_policy_condition_on_eventbridge_fails() -> None:
    graph = topic_graph(topic_policy=doc(publish({"ArnLike": {"aws:SourceArn": "arn:aws:events:*"}})))
    (diag,) = findings(graph)
    assert "Condition" in diag.message and diag.urn.endswith("::topic")


def test_missing_topic_policy_or_grant_fails() -> None:
    assert "no resource policy" in findings(topic_graph(topic_policy=None))[0].message
    other = {"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
             "Resource": TOPIC_ARN}
    assert "No resource policy" in findings(topic_graph(topic_policy=doc(other)))[0].message


def test_aws_managed_key_fails() -> None:
    (diag,) = findings(topic_graph(key_ref="alias/aws/sns"))
    assert "AWS managed key" in diag.message


def test_unencrypted_target_needs_only_the_resource_policy() -> None:
    assert findings(topic_graph(key_ref=None)) == []


def test_unknown_documents_are_decided_at_update() -> None:
    assert findings(topic_graph(key_policy=UNKNOWN, topic_policy=UNKNOWN)) == []


def queue_graph(queue_policy: Any, key_policy: str) -> list[Res]:
    return [
        Res(T.KMS_KEY, "key", {"policy": key_policy}),
        Res(T.SQS_QUEUE, "orders", {"arn": QUEUE_ARN, "url": "https://sqs/orders", "kmsMasterKeyId": UNKNOWN},
            deps=["key"], prop_deps={"kmsMasterKeyId": ["key"]}),
        Res(T.SQS_QUEUE_POLICY, "orders-policy", {"queueUrl": UNKNOWN, "policy": queue_policy}, deps=["orders"],
            prop_deps={"queueUrl": ["orders"]}),
        Res(T.EVENT_RULE, "created", {"eventPattern": "{}"}),
        Res(T.EVENT_TARGET, "to-queue", {"rule": UNKNOWN, "arn": UNKNOWN}, deps=["created", "orders"],
            prop_deps={"rule": ["created"], "arn": ["orders"]}),
    ]


SEND = {"Effect": "Allow", "Principal": EVENTS, "Action": "sqs:SendMessage", "Resource": QUEUE_ARN,
        "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:events:eu-west-1:123456789012:rule/created"}}}


def test_queue_policy_may_scope_eventbridge_to_the_rule_but_the_key_may_not() -> None:
    assert findings(queue_graph(doc(SEND), doc(ROOT, key_statement(actions=["kms:GenerateDataKey",
                                                                             "kms:Decrypt"])))) == []
    bus_scoped = key_statement({"ArnLike": {"aws:SourceArn": "arn:aws:events:eu-west-1:123456789012:*"}})
    (diag,) = findings(queue_graph(doc(SEND), doc(ROOT, bus_scoped)))
    assert "aws:sourcearn" in diag.message and "'orders'" in diag.message
