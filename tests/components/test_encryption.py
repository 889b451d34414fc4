"""Keys and key policies: what they let which service do."""

from __future__ import annotations

import json
from typing import Any

from components.encryption import data_key_policy, logs_key_policy, secrets_key_policy
from components.settings import settings_from_mapping
from tests.harness import ACCOUNT_ID, Graph, stack_config

REGION = "eu-west-1"


def statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_every_key_policy_keeps_the_account_root_so_kms_accepts_it() -> None:
    for policy in (
        data_key_policy(ACCOUNT_ID, REGION, "sap-dev-orders"),
        logs_key_policy(ACCOUNT_ID, REGION, "sap-dev-trail", "sap-dev-alerts"),
        secrets_key_policy(ACCOUNT_ID),
    ):
        root = statements(policy)["AccountRootAdministers"]
        assert root["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
        assert root["Action"] == "kms:*"


def test_logs_key_admits_cloudwatch_logs_only_for_this_accounts_log_groups() -> None:
    st = statements(logs_key_policy(ACCOUNT_ID, REGION, "t", "a"))["CloudWatchLogsEncrypt"]
    assert st["Principal"] == {"Service": f"logs.{REGION}.amazonaws.com"}
    assert st["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == (
        f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:*"
    )


def test_logs_key_has_the_three_cloudtrail_statements_scoped_to_our_trail() -> None:
    st = statements(logs_key_policy(ACCOUNT_ID, REGION, "sap-prod-trail", "sap-prod-alerts"))
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT_ID}:trail/sap-prod-trail"
    encrypt = st["CloudTrailEncryptLogs"]
    assert encrypt["Action"] == "kms:GenerateDataKey*"
    assert encrypt["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
    assert "kms:EncryptionContext:aws:cloudtrail:arn" in encrypt["Condition"]["StringLike"]
    assert st["CloudTrailDescribeKey"]["Action"] == "kms:DescribeKey"
    assert st["CloudTrailDecryptWithBucketKey"]["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn
    read = st["AccountReadsTrailLogs"]
    assert read["Condition"]["StringEquals"]["kms:CallerAccount"] == ACCOUNT_ID
    assert set(read["Action"]) == {"kms:Decrypt", "kms:ReEncryptFrom"}


SOURCE_KEYS = {"aws:sourceaccount", "aws:sourcearn"}


def condition_keys(statement: dict[str, Any]) -> set[str]:
    return {key.lower() for clauses in statement.get("Condition", {}).values() for key in clauses}


def test_logs_key_lets_alarms_publish_to_the_encrypted_topic_from_this_account() -> None:
    st = statements(logs_key_policy(ACCOUNT_ID, REGION, "t", "a"))["CloudWatchAlarmsUseKey"]
    assert st["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(st["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert st["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID


def test_logs_key_lets_eventbridge_publish_to_the_alert_topic_without_source_conditions() -> None:
    # SNS calls KMS for EventBridge without aws:SourceAccount/aws:SourceArn (EventBridge troubleshooting guide);
    # only the encryption context SNS sends scopes the statement, to the alert topic.
    policy = logs_key_policy(ACCOUNT_ID, REGION, "t", "sap-dev-alerts")
    (st,) = [s for s in policy["Statement"] if "events.amazonaws.com" in str(s["Principal"])]
    assert st["Principal"] == {"Service": "events.amazonaws.com"}
    assert set(st["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert condition_keys(st) & SOURCE_KEYS == set()
    assert st["Condition"] == {"StringEquals": {
        "kms:EncryptionContext:aws:sns:topicArn": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:sap-dev-alerts"}}


def test_data_key_scopes_bus_encryption_to_the_order_bus_and_admits_queue_delivery() -> None:
    st = statements(data_key_policy(ACCOUNT_ID, REGION, "sap-dev-orders"))
    bus = st["EventBridgeEncryptsOrderBus"]
    assert bus["Principal"] == {"Service": "events.amazonaws.com"}
    assert set(bus["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"}
    bus_arn = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/sap-dev-orders"
    assert bus["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT_ID, "aws:SourceArn": bus_arn}
    # SQS calls KMS for EventBridge's deliveries without source keys: the SQS/EventBridge guides' statement.
    queues = st["EventBridgeDeliversToQueues"]
    assert queues["Principal"] == {"Service": "events.amazonaws.com"}
    assert set(queues["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert "Condition" not in queues


def test_key_policies_name_the_topic_and_bus_the_stack_creates(graph: Graph, stack: str) -> None:
    s = settings_from_mapping(stack, stack_config(stack))
    keys = {k.name.rsplit("-", 1)[-1]: json.loads(k["policy"]) for k in _keys(graph) if "-keys-" in k.name}
    topic = graph.one("aws:sns/topic:Topic")
    bus = graph.one("aws:cloudwatch/eventBus:EventBus")
    logs = statements(keys["logs"])["EventBridgePublishesToAlertTopic"]
    assert logs["Condition"]["StringEquals"]["kms:EncryptionContext:aws:sns:topicArn"] == (
        f"arn:aws:sns:{s.region}:{ACCOUNT_ID}:{topic['name']}")
    data = statements(keys["data"])["EventBridgeEncryptsOrderBus"]
    assert data["Condition"]["StringEquals"]["aws:SourceArn"].endswith(f":event-bus/{bus['name']}")


def test_secrets_key_trusts_only_the_account() -> None:
    assert [s["Sid"] for s in secrets_key_policy(ACCOUNT_ID)["Statement"]] == ["AccountRootAdministers"]


def _keys(graph: Graph) -> list[Any]:
    return graph.of_type("aws:kms/key:Key")


def test_three_purpose_keys_rotate_with_the_environments_window(graph: Graph, stack: str) -> None:
    keys = _keys(graph)
    purposes = {k.name.rsplit("-", 1)[-1] for k in keys}
    assert {"data", "logs", "secrets"} <= purposes
    window = stack_config(stack)["kmsDeletionWindowDays"]
    for key in keys:
        assert key["enableKeyRotation"] is True
        assert key["deletionWindowInDays"] == window
        policy = json.loads(key["policy"])
        assert any(s.get("Sid") == "AccountRootAdministers" for s in policy["Statement"])


def test_each_key_has_an_alias_and_production_keys_are_protected(graph: Graph, stack: str) -> None:
    production = stack_config(stack)["production"]
    aliases = graph.of_type("aws:kms/alias:Alias")
    owns_baseline = stack_config(stack)["ownsAccountBaseline"]
    for key in [k for k in _keys(graph) if "-keys-" in k.name]:
        assert any(graph.depends_on(a, key) for a in aliases), key.name
        # The logs key of the baseline owner encrypts the account's trail: kept like the baseline.
        kept = key.name.endswith("-logs") and owns_baseline
        assert key.protect is (production or kept)
        assert key.retain_on_delete is kept
