"""The platform's own stacks, rendered as a first preview, pass the pack with their stack's config.

This drives the real pack process over gRPC through the gate, exactly as `make preview` does: a policy that
misfires on the platform, or one that cannot decide at preview, fails here.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from gate.cli import main
from tests.harness import ROOT, stacks


@functools.cache
def gate_report(tmp: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    out = tmp / "gate.json"
    code = main(["--program", str(ROOT), "--format", "json", "--output", str(out), *extra])
    return code, json.loads(out.read_text())


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any]]:
    return gate_report(tmp_path_factory.mktemp("gate"))


@pytest.fixture(scope="module")
def update_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any]]:
    return gate_report(tmp_path_factory.mktemp("gate-update"), "--update")


def test_gate_passes_every_stack_as_an_update_with_known_values(update_report: tuple[int, dict[str, Any]]) -> None:
    # A policy that lets an unknown value through at preview decides on the real value at `pulumi up`:
    # the same stacks, with every id and ARN known, must pass too.
    code, body = update_report
    assert code == 0, [e["message"] for e in body["policyEvents"] if e["enforcementLevel"] == "mandatory"]


def test_gate_passes_every_stack(report: tuple[int, dict[str, Any]]) -> None:
    code, body = report
    assert code == 0, [e["message"] for e in body["policyEvents"] if e["enforcementLevel"] == "mandatory"]
    assert body["passed"] is True
    assert sorted(s["stack"] for s in body["stacks"]) == stacks()
    # Both modes ran; the program needs no placeholder the gate would report, and every input is of the
    # type the provider's Check expects.
    assert all(e["modes"] == ["preview", "update"] for e in body["policyEvents"])
    assert body["gateDiagnostics"] == []


@pytest.mark.parametrize("stack", stacks())
def test_no_mandatory_violation_and_every_policy_decides_at_preview(
    report: tuple[int, dict[str, Any]], stack: str
) -> None:
    events = [e for e in report[1]["policyEvents"] if e["stack"] == stack]
    mandatory = [e["message"] for e in events if e["enforcementLevel"] == "mandatory"]
    assert mandatory == []
    undecided = [e["message"] for e in events if e["category"] == "preview-unknown"]
    assert undecided == [], "policies that could not run during preview"


def test_every_platform_waiver_is_used_and_unexpired(report: tuple[int, dict[str, Any]],
                                                     update_report: tuple[int, dict[str, Any]]) -> None:
    # What `python -m gate waivers` checks: a waiver used at preview or at update is used (a policy that
    # reads ids or ARNs decides only at update); none expired (this fails on the day one does: renew it).
    from gate.model import WaiverRecord
    from gate.waivers import merge

    update = update_report[1]
    runs = [[WaiverRecord(stack=w["stack"], pack=w["policyPackName"], policy=w["policyName"],
                          resource=w["resource"], reason=w["reason"], owner=w["owner"], expires=w["expires"],
                          ticket=w["ticket"], status=w["status"], days_left=w["daysLeft"],
                          resources=tuple(w["waivedResourceUrns"])) for w in body["waivers"]]
            for body in (report[1], update)]
    merged = merge(runs)
    assert {(w.stack, w.policy, w.resource) for w in merged} >= {
        (stack, "rds-non-default-port", "platform-backend-db-instance") for stack in stacks()}
    assert [(w.stack, w.policy, w.resource, w.status) for w in merged
            if w.status not in ("active", "expiring")] == []
    assert all(w.resources for w in merged)
