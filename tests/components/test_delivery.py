"""Deliveries EventBridge makes to encrypted topics and queues: each can fail only visibly, in every stack file."""

from __future__ import annotations

from tests.harness import Graph, Res

TOPIC = "aws:sns/topic:Topic"
QUEUE = "aws:sqs/queue:Queue"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def delivering_targets(graph: Graph) -> list[Res]:
    """Targets whose ARN is a topic or queue of the stack."""
    sinks = {r.urn for r in graph.of_type(TOPIC) + graph.of_type(QUEUE)}
    return [t for t in graph.of_type(TARGET) if sinks & set(t.property_dependencies.get("arn", []))]


def test_every_rule_that_delivers_to_a_topic_or_queue_alarms_on_failed_invocations(graph: Graph) -> None:
    targets = delivering_targets(graph)
    # GuardDuty and Security Hub findings to the alert topic, OrderCreated to the orders queue.
    assert len(targets) >= 3
    topic = graph.one(TOPIC)
    failed = [a for a in graph.of_type(ALARM) if a.get("metricName") == "FailedInvocations"]
    for target in targets:
        (rule_urn,) = target.property_dependencies["rule"]
        rule = graph.by_urn(rule_urn)
        assert rule.type == RULE
        (alarm,) = [a for a in failed if rule_urn in a.property_dependencies.get("dimensions", [])]
        assert alarm["namespace"] == "AWS/Events"
        assert alarm["statistic"] == "Sum" and alarm["threshold"] == 1
        assert alarm["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        # EventBridge publishes the metric only when it is not zero.
        assert alarm["treatMissingData"] == "notBreaching"
        assert topic.urn in alarm.property_dependencies["alarmActions"]
        bus = rule.get("eventBusName")
        if bus in (None, "default"):
            assert set(alarm["dimensions"]) == {"RuleName"}  # default-bus metrics carry only the rule name
        else:
            assert alarm["dimensions"]["EventBusName"] == bus  # custom-bus metrics carry both dimensions
            assert set(alarm["dimensions"]) == {"RuleName", "EventBusName"}
