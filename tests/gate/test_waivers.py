"""Waivers end to end: the platform's pack process over gRPC (Analyze per resource, then AnalyzeStack) applies
a stack's waivers, and the gate shows what the pack said in every format; `python -m gate waivers`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gate.cli import main
from gate.report_sarif import for_code_scanning
from policies._waivers import TODAY_ENV

from .browser import markdown_to_html
from .conftest import REPO_ROOT

SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "sarif-schema-2.1.0.json"
PACK = REPO_ROOT / "policies"
TODAY = "2026-06-01"


def _waiver(resource: str, expires: str, reason: str = "Accepted in review for a stated reason.") -> dict[str, Any]:
    return {"resource": resource, "reason": reason, "owner": "queue-team", "expires": expires}


CONFIG = {
    "required-tags": "disabled",
    "ssm-parameter-secure-string": "disabled",  # the fixture's plain-text parameter is another test's subject
    # A platform guarantee (mandatory), resource policy, named resource: waived.
    "data-encrypted-with-cmk": {"waivers": [_waiver("plain", "2026-12-31", "Holds public job ids only; tracked.")]},
    # A stack policy, glob: one queue waived (expiring within 30 days), one waiver matching nothing.
    "sqs-dead-letter-queue": {"waivers": [_waiver("app-*", "2026-06-20"), _waiver("ghost", "2026-12-31")]},
    # Expired: the violation blocks again.
    "sqs-ssl-only": {"enforcementLevel": "mandatory", "waivers": [_waiver("plain", "2026-05-15")]},
}


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(TODAY_ENV, TODAY)  # the gate and the pack processes it starts judge this day
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(CONFIG))
    return path


def _gate(capsys: pytest.CaptureFixture[str], program: Path, config: Path, *extra: str) -> tuple[int, str, str]:
    code = main(["--program", str(program), "--policy-pack", str(PACK), "--stack", "dev",
                 "--policy-pack-config", str(config), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_waivers_through_the_pack_in_every_format(capsys, insecure_program, config):
    code, out, _ = _gate(capsys, insecure_program, config, "--format", "json")
    doc = json.loads(out)
    assert code == 1  # the expired waiver no longer excuses sqs-ssl-only on `plain`
    statuses = {(w["policyName"], w["resource"]): (w["status"], w["daysLeft"]) for w in doc["waivers"]}
    assert statuses == {
        ("data-encrypted-with-cmk", "plain"): ("active", 213),
        ("sqs-dead-letter-queue", "app-*"): ("expiring", 19),
        ("sqs-dead-letter-queue", "ghost"): ("unused", 213),
        ("sqs-ssl-only", "plain"): ("expired", -17),
    }
    events = doc["policyEvents"]
    waived = sorted((e["policyName"], e["resourceName"], e["enforcementLevel"]) for e in events
                    if e["outcome"] == "waived")
    assert waived == [("data-encrypted-with-cmk", "plain", "mandatory"),
                      ("sqs-dead-letter-queue", "app-jobs", "advisory")]
    assert not [e for e in events if e["outcome"] == "blocking" and e["policyName"] == "data-encrypted-with-cmk"]
    blocking = {(e["policyName"], e["resourceName"]): e["message"] for e in events if e["outcome"] == "blocking"}
    assert set(blocking) == {("sqs-ssl-only", "plain"), ("sqs-ssl-only", "app-jobs")}
    assert "expired on 2026-05-15" in blocking[("sqs-ssl-only", "plain")]
    assert "(advisory)" not in json.dumps(events) and not [e for e in events if e["policyName"] == "waivers"]
    event = next(e for e in events if e["outcome"] == "waived" and e["resourceName"] == "plain")
    assert event["waiver"]["reason"] == "Holds public job ids only; tracked."
    assert event["waiver"]["owner"] == "queue-team"
    assert "encrypted" in event["message"]  # the violation that was waived, in the policy's words

    _, text, _ = _gate(capsys, insecure_program, config)
    section = text.split("WAIVERS (4)", 1)[1]
    assert text.splitlines()[0].startswith("gate: FAILED - 2 blocking, 1 advisory, 2 waived")
    assert "sqs-ssl-only · plain · expired, expired on 2026-05-15 · owner queue-team" in section
    assert "sqs-dead-letter-queue · app-* · expiring, 19 days left (expires 2026-06-20)" in section
    assert "    reason: Holds public job ids only; tracked." in section
    assert "    waived: aws:sqs/queue:Queue app-jobs  tests/gate/fixtures/programs/insecure/components/queues.py" \
        in section

    _, markdown, _ = _gate(capsys, insecure_program, config, "--format", "markdown")
    html = markdown_to_html(markdown)
    assert "🛂 Waivers (4)</h4>" in html
    assert "<strong>data-encrypted-with-cmk</strong> for <code>plain</code> · ✅ active · 213 days left" in html
    assert "Reason: Holds public job ids only; tracked." in html


def test_sarif_marks_waived_results_as_external_suppressions(capsys, insecure_program, config, tmp_path):
    target = tmp_path / "gate.sarif"
    _gate(capsys, insecure_program, config, "--format", "sarif", "--output", str(target))
    sarif = json.loads(target.read_text())
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    results = sarif["runs"][0]["results"]
    assert all("suppressions" in r for r in results)  # SARIF 2.1.0 §3.27.23: all or none in a run
    suppressed = [r for r in results if r["suppressions"]]
    assert sorted(r["ruleId"] for r in suppressed) == ["data-encrypted-with-cmk", "sqs-dead-letter-queue"]
    plain = next(r for r in suppressed if r["ruleId"] == "data-encrypted-with-cmk")
    assert plain["suppressions"] == [{"kind": "external", "status": "accepted",
                                      "justification": "Holds public job ids only; tracked.",
                                      "properties": {"owner": "queue-team", "expires": "2026-12-31",
                                                     "resource": "plain"}}]
    # What CI uploads to code scanning: the same SARIF without them (it would open alerts for them).
    uploaded = for_code_scanning(sarif)
    jsonschema.validate(uploaded, json.loads(SARIF_SCHEMA.read_text()))
    assert len(uploaded["runs"][0]["results"]) == len(results) - 2
    assert not any(r["suppressions"] for r in uploaded["runs"][0]["results"])


@pytest.mark.parametrize(("change", "expected"), [
    ({"data-encrypted-with-cmk": {"waivers": [_waiver("pl*", "2026-12-31")]}},
     "policy 'data-encrypted-with-cmk' of pack secure-api-platform@0.0.1: waivers.0.resource: 'pl*' does not match"),
    ({"sqs-ssl-only": {"waivers": [{"resource": "plain", "owner": "x", "expires": "2026-12-31"}]}},
     "policy 'sqs-ssl-only' of pack secure-api-platform@0.0.1: waivers.0: 'reason' is a required property"),
    ({"sqs-ssl-only": {"waivers": [_waiver("plain", "2027-07-01")]}},
     "policy 'sqs-ssl-only' waivers[0]: field 'expires' is 2027-07-01, more than one year after 2026-06-01"),
])
def test_bad_waivers_are_config_errors_naming_the_field(capsys, insecure_program, config, change, expected):
    config.write_text(json.dumps({**CONFIG, **change}))
    code, out, err = _gate(capsys, insecure_program, config)
    assert code == 2 and out == ""
    assert expected in err and str(config) in err


def test_gate_waivers_lists_every_waiver_and_fails_on_expired_or_unused(capsys, insecure_program, config):
    code = main(["waivers", "--program", str(insecure_program), "--policy-pack", str(PACK), "--stack", "dev",
                 "--policy-pack-config", str(config)])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[0] == "4 waivers: 1 active, 1 expiring, 1 expired, 1 unused"
    assert "  EXPIRED   dev  sqs-ssl-only  plain  expired on 2026-05-15  owner queue-team" in out
    assert "  UNUSED    dev  sqs-dead-letter-queue  ghost  213 days left (expires 2026-12-31)" in out
    assert "waived: urn:pulumi:dev::gate-fixture::fixture:queues:EncryptedQueues$aws:sqs/queue:Queue::app-jobs" in out
    # On another day the same waivers read differently: two weeks before its expiry, one is expiring (a
    # warning, not a failure).
    config.write_text(json.dumps({k: v for k, v in CONFIG.items() if k != "sqs-dead-letter-queue"}))
    code = main(["waivers", "--program", str(insecure_program), "--policy-pack", str(PACK), "--stack", "dev",
                 "--policy-pack-config", str(config), "--on", "2026-05-01", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {(w["policyName"], w["status"]) for w in doc["waivers"]} == {
        ("data-encrypted-with-cmk", "active"), ("sqs-ssl-only", "expiring")}
