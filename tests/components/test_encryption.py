"""Keys and key policies: what they let which service do."""

from __future__ import annotations

import json
from typing import Any

from components.encryption import data_key_policy, logs_key_policy, secrets_key_policy
from tests.harness import ACCOUNT_ID, Graph, stack_config

REGION = "eu-west-1"


def statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_every_key_policy_keeps_the_account_root_so_kms_accepts_it() -> None:
    for policy in (
        data_key_policy(ACCOUNT_ID, REGION),
        logs_key_policy(ACCOUNT_ID, REGION, "sap-dev-trail"),
        secrets_key_policy(ACCOUNT_ID),
    ):
        root = statements(policy)["AccountRootAdministers"]
        assert root["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
        assert root["Action"] == "kms:*"


def test_logs_key_admits_cloudwatch_logs_only_for_this_accounts_log_groups() -> None:
    st = statements(logs_key_policy(ACCOUNT_ID, REGION, "t"))["CloudWatchLogsEncrypt"]
    assert st["Principal"] == {"Service": f"logs.{REGION}.amazonaws.com"}
    assert st["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == (
        f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:*"
    )


def test_logs_key_has_the_three_cloudtrail_statements_scoped_to_our_trail() -> None:
    st = statements(logs_key_policy(ACCOUNT_ID, REGION, "sap-prod-trail"))
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


def test_logs_key_lets_alarms_and_eventbridge_publish_to_the_encrypted_topic() -> None:
    st = statements(logs_key_policy(ACCOUNT_ID, REGION, "t"))["AlertPublishersUseKey"]
    assert set(st["Principal"]["Service"]) == {"cloudwatch.amazonaws.com", "events.amazonaws.com"}
    assert set(st["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert st["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID


def test_data_key_lets_eventbridge_encrypt_bus_events_of_this_account_only() -> None:
    st = statements(data_key_policy(ACCOUNT_ID, REGION))["EventBridgeUsesKey"]
    assert st["Principal"] == {"Service": "events.amazonaws.com"}
    assert set(st["Action"]) == {"kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"}
    assert st["Condition"]["ArnLike"]["aws:SourceArn"].startswith(f"arn:aws:events:{REGION}:{ACCOUNT_ID}:")


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
    for key in [k for k in _keys(graph) if "-keys-" in k.name]:
        assert any(graph.depends_on(a, key) for a in aliases), key.name
        assert key.protect is production
