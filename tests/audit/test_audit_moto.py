"""The audit against a real moto server: a compliant stack passes every check, and each kind of
violation makes its check fail on the right resource."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from audit.checks import ALL_CHECKS
from tests.audit.account import VIOLATIONS
from tests.audit.conftest import Run, fsbp_subscription, run_audit

# One moto server per worker is seeded once; keep every test that uses it on the same xdist worker.
pytestmark = pytest.mark.xdist_group("audit-moto")

POLICY = Path(__file__).resolve().parents[2] / "audit" / "iam-policy.json"
ALL_IDS = [check.id for check in ALL_CHECKS]


def test_every_violation_targets_a_known_check() -> None:
    # Only securityhub-fsbp-enabled is violated through the Stubber instead of a seeded resource.
    assert set(VIOLATIONS.values()) | {"securityhub-fsbp-enabled"} == set(ALL_IDS)


def test_compliant_stack_passes_every_check(compliant_run: Run) -> None:
    statuses = {(r["id"], r["status"]) for r in compliant_run.report["results"]}
    assert {status for _, status in statuses} == {"pass"}, compliant_run.report["results"]
    assert {check_id for check_id, _ in statuses} == set(ALL_IDS)
    assert compliant_run.code == 0
    assert compliant_run.report["summary"]["exit_code"] == 0


@pytest.mark.parametrize("check_id", ALL_IDS)
def test_each_check_fires_on_its_violation(broken_run: Run, check_id: str) -> None:
    assert broken_run.results(check_id, "fail"), broken_run.results(check_id)


EXPECTED_FAILING_RESOURCE = {
    "s3-bucket-public-access-block": "-config",   # only the config bucket lost its public access block
    "s3-bucket-tls-only": "-trail",               # only the trail bucket lost its TLS-only statement
    "sqs-queue-cmk": "orders_dlq",
    "logs-group-kms": "API-Gateway-Execution-Logs_",
    "logs-group-retention": "-worker",
    "secretsmanager-secret-cmk": "oauth_client",
    "ec2-sg-public-ingress": "-app",
}


@pytest.mark.parametrize(("check_id", "marker"), EXPECTED_FAILING_RESOURCE.items())
def test_violation_is_reported_on_the_broken_resource_only(broken_run: Run, check_id: str, marker: str) -> None:
    failing = [r["resource"] for r in broken_run.results(check_id, "fail")]
    passing = [r["resource"] for r in broken_run.results(check_id, "pass")]
    assert len(failing) == 1 and marker in failing[0], failing
    assert passing and all(marker not in resource for resource in passing)


def test_broken_stack_exits_1_and_names_the_problem(broken_run: Run) -> None:
    assert broken_run.code == 1
    messages = {r["id"]: r["message"] for r in broken_run.report["results"] if r["status"] == "fail"}
    assert "GET /health" in messages["apigw-method-authorization"]
    assert "tcp 22-22 from 0.0.0.0/0" in messages["ec2-sg-public-ingress"]
    assert "rule 90" in messages["ec2-nacl-public-ingress"]
    assert "RDS_LOGIN_EVENTS" in messages["guardduty-features"]
    assert "Disabled" in messages["kms-key-customer-managed"]
    assert "not enabled" in messages["securityhub-fsbp-enabled"]
    for result in broken_run.report["results"]:
        assert result["remediation"] and result["severity"] in {"critical", "high", "medium", "low"}


def test_not_owning_stack_verifies_the_account_services(not_owning_run: Run) -> None:
    ids = {r["id"] for r in not_owning_run.report["results"]}
    # The baseline checks still run (another stack owns the services; the workload relies on them) ...
    assert {"cloudtrail-logging", "config-recorder-recording", "guardduty-features",
            "securityhub-fsbp-enabled"} <= ids
    # ... but on whatever the account has, not on names this stack exports (it exports none).
    trail = not_owning_run.results("cloudtrail-logging")[0]
    assert trail["status"] == "pass" and trail["resource"].startswith("arn:aws:cloudtrail:")
    # dev: no production-only check; no bucket named in the outputs, so no bucket checks.
    assert "rds-deletion-protection" not in ids and "s3-bucket-tls-only" not in ids
    assert not_owning_run.code == 0


def test_not_owning_stack_fails_when_the_account_has_no_baseline(moto_endpoint: str,
                                                                 compliant_outputs: dict[str, Any]) -> None:
    outputs = json.loads(json.dumps(compliant_outputs))
    outputs["monitoring"].update(owns_account_baseline=False, trail_name=None, trail_bucket=None,
                                 config_recorder_name=None, guardduty_detector_id=None)
    outputs["region"] = "ap-southeast-2"  # an empty Region of the same moto account
    run = run_audit(moto_endpoint, outputs, "--region", "ap-southeast-2", securityhub=[])
    for check_id in ("config-recorder-recording", "guardduty-enabled", "securityhub-fsbp-enabled"):
        assert run.results(check_id, "fail"), check_id
    assert run.code in {1, 2}


def test_owning_stack_with_missing_baseline_outputs_fails_naming_the_field(
        moto_endpoint: str, compliant_outputs: dict[str, Any]) -> None:
    outputs = json.loads(json.dumps(compliant_outputs))
    outputs["monitoring"]["guardduty_detector_id"] = None
    run = run_audit(moto_endpoint, outputs, securityhub=[fsbp_subscription("eu-west-1")])
    [result] = run.results("guardduty-enabled")
    assert result["status"] == "fail" and "guardduty_detector_id" in result["message"]


def test_iam_policy_is_exactly_the_calls_the_audit_makes(compliant_run: Run, not_owning_run: Run) -> None:
    """The documented policy grants every action the audit uses and nothing else."""
    policy = json.loads(POLICY.read_text())
    granted: set[str] = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        granted |= set(statement["Action"])
    used = compliant_run.actions | not_owning_run.actions
    assert used == granted
    # Read-only: no action that could change anything (API Gateway authorizes reads as GET).
    read_prefixes = ("Describe", "Get", "List")
    for action in granted:
        service, name = action.split(":")
        assert name == "GET" if service == "apigateway" else name.startswith(read_prefixes), action
