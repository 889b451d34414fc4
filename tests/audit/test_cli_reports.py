"""The command line and the report formats: bad input names the field, SARIF validates against the
OASIS 2.1.0 schema, every format carries the same results, exit codes follow the gate."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from audit.cli import audit_main
from audit.model import Check, Report, Severity
from audit.report import render
from tests.audit.conftest import Run, fake_session, fsbp_subscription

# One moto server per worker is seeded once; keep every test that uses it on the same xdist worker.
pytestmark = pytest.mark.xdist_group("audit-moto")

ROOT = Path(__file__).resolve().parents[2]
SARIF_SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "sarif-schema-2.1.0.json"  # OASIS SARIF 2.1.0

CHECK = Check("demo-check", "Demo", Severity.HIGH, "Fix it.", ("X.1",))


def sample_report() -> Report:
    report = Report("audit", "demo")
    report.extend([CHECK.passed("r1", "fine"), CHECK.failed("r2", "broken | badly"),
                   CHECK.errored("r3", "access denied: needs x:Y")])
    return report


@pytest.mark.parametrize(("outputs", "field"), [
    ("not json", "not JSON"),
    ("[]", "expected a JSON object"),
    (json.dumps({"environment": "dev", "region": "eu-west-1"}), "api"),
])
def test_bad_outputs_exit_2_naming_the_problem(outputs: str, field: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit_main([], stdin=io.StringIO(outputs)) == 2
    assert field in capsys.readouterr().err


def test_missing_nested_field_is_named(capsys: pytest.CaptureFixture[str], compliant_outputs: dict[str, Any]) -> None:
    outputs = json.loads(json.dumps(compliant_outputs))
    del outputs["api"]["stage_arn"]
    assert audit_main([], stdin=io.StringIO(json.dumps(outputs))) == 2
    assert "api.stage_arn" in capsys.readouterr().err


def test_outputs_file_that_does_not_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert audit_main(["--outputs", str(tmp_path / "nope.json")]) == 2
    assert "--outputs" in capsys.readouterr().err


def test_sarif_validates_against_the_2_1_0_schema(broken_run: Run) -> None:
    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.validate(json.loads(render(sample_report(), "sarif")), schema)
    # A real audit with failures and a Stubber-answered finding validates too.
    broken = Report("audit", "broken")
    from audit.checks import ALL_CHECKS

    by_id = {c.id: c for c in ALL_CHECKS}
    broken.extend(by_id[r["id"]].failed(r["resource"], r["message"]) if r["status"] == "fail"
                  else by_id[r["id"]].passed(r["resource"], r["message"]) for r in broken_run.report["results"])
    jsonschema.validate(json.loads(render(broken, "sarif")), schema)
    sarif = json.loads(render(sample_report(), "sarif"))
    run = sarif["runs"][0]
    assert [r["kind"] for r in run["results"]] == ["open", "fail", "pass"]
    assert run["results"][1]["level"] == "error" and run["results"][2]["level"] == "none"
    assert run["invocations"][0]["executionSuccessful"] is False


def test_sarif_of_a_real_audit_validates(moto_endpoint: str, compliant_outputs: dict[str, Any],
                                         tmp_path: Path) -> None:
    target = tmp_path / "reports" / "audit.sarif"
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    code = _sarif_via_cli(moto_endpoint, compliant_outputs, target, summary)
    # The Markdown summary is appended, not overwritten (GITHUB_STEP_SUMMARY is shared by steps).
    assert summary.read_text().startswith("# earlier step\n## audit: all checks passed")
    sarif = json.loads(target.read_text())
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    assert code == 0 and {r["kind"] for r in sarif["runs"][0]["results"]} == {"pass"}


def _sarif_via_cli(endpoint: str, outputs: dict[str, Any], target: Path, summary: Path) -> int:
    # The real CLI path with the documented Stubber stand-in for Security Hub (see conftest.run_audit).
    from botocore.stub import Stubber

    from audit.aws import Aws

    def make_aws(region: str, endpoint_url: str | None, profile: str | None) -> Aws:
        aws = Aws(fake_session(), region, endpoint_url)
        stubber = Stubber(aws.client("securityhub"))
        stubber.add_response("get_enabled_standards", {"StandardsSubscriptions": [fsbp_subscription(region)]})
        stubber.activate()
        return aws

    return audit_main(["--endpoint-url", endpoint, "--format", "sarif", "--output", str(target),
                       "--summary", str(summary)],
                      make_aws=make_aws, stdin=io.StringIO(json.dumps(outputs)))


def test_text_and_markdown_show_findings_with_remediation() -> None:
    text = render(sample_report(), "text")
    assert "FAIL  high     demo-check  r2: broken | badly" in text
    assert "remediation: Fix it." in text
    assert text.strip().endswith("1 passed, 1 failed, 1 errors")
    markdown = render(sample_report(), "markdown")
    assert "## audit: errors" in markdown
    assert "broken \\| badly" in markdown  # table cells are escaped
    assert "| 1 | 1 | 1 |" in markdown


def test_exit_codes_follow_the_gate() -> None:
    report = Report("audit", "demo", [CHECK.passed("r", "ok")])
    assert report.exit_code() == 0
    report.extend([CHECK.failed("r", "bad")])
    assert report.exit_code() == 1
    report.extend([CHECK.errored("r", "denied")])
    assert report.exit_code() == 2


def test_no_credentials_is_an_error_naming_the_call(moto_endpoint: str, compliant_outputs: dict[str, Any],
                                                    tmp_path: Path) -> None:
    """`python -m audit` as a process, with no credentials at all: exit 2, every check an error."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "audit", "--endpoint-url", moto_endpoint, "--format", "json"],
                          input=json.dumps(compliant_outputs), capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    report = json.loads(proc.stdout)
    assert report["summary"]["error"] == report["summary"]["total"]
    assert any("NoCredentialsError" in r["message"] for r in report["results"])
