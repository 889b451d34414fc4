"""supplychain.pip_audit_report on recorded pip-audit output: the summary, the annotations and the verdict.

Fixtures (tests/supplychain/fixtures/):
- pip-audit-pyjwt-2.3.0.json: the authorizer's requirement set with PyJWT at 2.3.0, in the JSON pip-audit writes
  for a real advisory (PYSEC-2022-202 = CVE-2022-29217 = GHSA-ffqj-6fqr-9h24, fixed in 2.4.0; pypa/advisory-database
  vulns/pyjwt/PYSEC-2022-202.yaml). Written by pip-audit's own JSON formatter (recorded_advisory_report below), since
  its vulnerability service cannot be reached offline; a test re-renders it with the pinned pip-audit.
- pip-audit-not-on-pypi.json: a real run of the pinned pip-audit on this machine, where PyPI's JSON API is not
  reachable: every package is skipped and pip-audit itself exits 0 with "No known vulnerabilities found".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from packaging.version import Version
from pip_audit._format import JsonFormat
from pip_audit._service import ResolvedDependency, VulnerabilityResult

from supplychain import pip_audit_report
from supplychain.pip_audit_report import ReportError, read_report

from .conftest import FIXTURES

VULNERABLE = FIXTURES / "pip-audit-pyjwt-2.3.0.json"
NOT_ON_PYPI = FIXTURES / "pip-audit-not-on-pypi.json"
AUTHORIZER_PINS = "PyJWT[crypto]==2.3.0\ncryptography==48.0.0\ncffi==2.1.1\npycparser==3.12\n"
AUTHORIZER = "functions/authorizer/requirements.txt"


def recorded_advisory_report() -> str:
    """What ``pip-audit --format json --aliases on --desc off`` writes for the authorizer pins with PyJWT 2.3.0."""
    advisory = VulnerabilityResult(
        id="PYSEC-2022-202",
        description="",
        fix_versions=[Version("2.4.0")],
        aliases={"CVE-2022-29217", "GHSA-ffqj-6fqr-9h24"},
    )
    result = {
        ResolvedDependency(name="pyjwt", version=Version("2.3.0")): [advisory],
        ResolvedDependency(name="cryptography", version=Version("48.0.0")): [],
        ResolvedDependency(name="cffi", version=Version("2.1.1")): [],
        ResolvedDependency(name="pycparser", version=Version("3.12")): [],
    }
    return JsonFormat(output_desc=False, output_aliases=True).format(result, [])


def _sorted_aliases(document: dict) -> dict:
    for dependency in document["dependencies"]:
        for vuln in dependency.get("vulns", []):
            vuln["aliases"] = sorted(vuln["aliases"])  # a set in pip-audit: its order is not stable
    return document


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout whose authorizer pins PyJWT 2.3.0 on line 1 (for the annotation's line number)."""
    pins = tmp_path / AUTHORIZER
    pins.parent.mkdir(parents=True)
    pins.write_text(AUTHORIZER_PINS)
    return tmp_path


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *pairs: str, root: Path | None = None):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    code = pip_audit_report.main(["--summary", str(summary), "--root", str(root or tmp_path), *pairs])
    out, err = capsys.readouterr()
    return code, summary.read_text(), out, err


def test_fixture_is_what_the_pinned_pip_audit_writes() -> None:
    # A pip-audit upgrade that changes its JSON fails here before it silently breaks the CI summary.
    rendered = json.loads(recorded_advisory_report())
    assert _sorted_aliases(json.loads(VULNERABLE.read_text())) == _sorted_aliases(rendered)


def test_a_vulnerable_pin_fails_with_advisory_and_fixed_version(repo, tmp_path, capsys) -> None:
    code, summary, out, _ = run(tmp_path, capsys, f"{AUTHORIZER}={VULNERABLE}", root=repo)
    assert code == 1
    assert summary.startswith("earlier step\n")  # appended, never overwritten
    row = next(line for line in summary.splitlines() if "PYSEC-2022-202" in line)
    assert row == (
        f"| `{AUTHORIZER}` | pyjwt | 2.3.0 | PYSEC-2022-202 | CVE-2022-29217, GHSA-ffqj-6fqr-9h24 | 2.4.0 |"
    )
    assert "**1 known vulnerability** in 1 of 1 requirement sets" in summary
    assert f"| `{AUTHORIZER}` | 4 | 1 |" in summary
    # The annotation lands on the pin's line in the pull request.
    assert (
        f"::error file={AUTHORIZER},line=1,title=pip-audit PYSEC-2022-202::"
        "pyjwt 2.3.0: PYSEC-2022-202 (CVE-2022-29217, GHSA-ffqj-6fqr-9h24), fixed in 2.4.0"
    ) in out.splitlines()


def test_clean_sets_pass_and_say_how_much_was_audited(tmp_path, capsys) -> None:
    clean = tmp_path / "clean.json"
    document = json.loads(VULNERABLE.read_text())
    for dependency in document["dependencies"]:
        dependency["vulns"] = []
    clean.write_text(json.dumps(document))
    code, summary, out, _ = run(tmp_path, capsys, f"{AUTHORIZER}={clean}", f"requirements.txt={clean}")
    assert code == 0
    assert "No known vulnerability in 2 requirement sets (8 pins audited)." in summary
    assert "::error" not in out


def test_one_vulnerable_set_among_clean_ones_fails_the_whole_scan(repo, tmp_path, capsys) -> None:
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps({"dependencies": [{"name": "pulumi", "version": "3.272.0", "vulns": []}], "fixes": []}))
    code, summary, _, _ = run(tmp_path, capsys, f"requirements.txt={clean}", f"{AUTHORIZER}={VULNERABLE}", root=repo)
    assert code == 1
    assert "in 1 of 2 requirement sets" in summary
    assert "| `requirements.txt` | 1 | 0 |" in summary


def test_packages_pip_audit_could_not_audit_fail_the_scan(tmp_path, capsys) -> None:
    # pip-audit itself exits 0 on this report: a scan that audited nothing must not pass.
    code, summary, out, _ = run(tmp_path, capsys, f"{AUTHORIZER}={NOT_ON_PYPI}")
    assert code == 1
    assert "2 pins could not be audited" in summary
    assert f"- `{AUTHORIZER}`: pyjwt: Dependency not found on PyPI and could not be audited: pyjwt (2.3.0)" in summary
    assert f"::error file={AUTHORIZER},title=pip-audit::pyjwt not audited: " in out


def test_a_vulnerability_without_a_fixed_release_says_so(tmp_path, capsys) -> None:
    report = tmp_path / "nofix.json"
    document = json.loads(VULNERABLE.read_text())
    document["dependencies"][0]["vulns"][0]["fix_versions"] = []
    report.write_text(json.dumps(document))
    code, summary, _, _ = run(tmp_path, capsys, f"{AUTHORIZER}={report}")
    assert code == 1
    assert "| no fixed release yet |" in summary


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("not json", "not JSON"),
        ('{"results": []}', "not pip-audit's JSON format"),
        ('{"dependencies": [{"name": "x", "version": "1"}]}', "no list `vulns`"),
    ],
)
def test_a_missing_or_foreign_report_is_no_verdict(tmp_path, capsys, content, message) -> None:
    report = tmp_path / "report.json"
    if content is not None:
        report.write_text(content)
    code, summary, _, err = run(tmp_path, capsys, f"{AUTHORIZER}={report}")
    assert code == 2
    assert message in err and str(report) in err
    assert "The scan did not complete" in summary


def test_no_report_at_all_is_no_verdict(tmp_path, capsys) -> None:
    code, _, _, err = run(tmp_path, capsys)
    assert code == 2
    assert "audited no requirement set" in err
    with pytest.raises(ReportError, match="expected SET=REPORT"):
        pip_audit_report.parse_pairs(["functions/authorizer/requirements.txt"])


def test_advisory_data_cannot_break_out_of_the_table_or_the_annotation(repo, tmp_path, capsys) -> None:
    report = tmp_path / "hostile.json"
    document = json.loads(VULNERABLE.read_text())
    document["dependencies"][0]["vulns"][0]["id"] = "X-1|injected\n::warning::forged"
    report.write_text(json.dumps(document))
    code, summary, out, _ = run(tmp_path, capsys, f"{AUTHORIZER}={report}", root=repo)
    assert code == 1
    assert "X-1\\|injected ::warning::forged" in summary  # one cell, one line
    assert not [line for line in out.splitlines() if line.startswith("::warning")]
    assert "X-1|injected%0A::warning::forged" in out


def test_read_report_counts_audited_and_vulnerable_pins() -> None:
    result = read_report(AUTHORIZER, VULNERABLE)
    assert result.audited == 4
    assert [(v.package, v.version, v.advisory, v.fixed_in) for v in result.vulnerabilities] == [
        ("pyjwt", "2.3.0", "PYSEC-2022-202", ("2.4.0",))
    ]
    assert read_report(AUTHORIZER, NOT_ON_PYPI).audited == 0


def test_the_cli_runs_as_a_module(tmp_path: Path) -> None:
    import subprocess
    import sys

    # The workflow runs it with the audit environment's python from the repository root.
    repo_root = Path(__file__).resolve().parents[2]
    copy = tmp_path / "report.json"
    shutil.copy(VULNERABLE, copy)
    result = subprocess.run(
        [sys.executable, "-m", "supplychain.pip_audit_report", f"{AUTHORIZER}={copy}"],
        cwd=repo_root, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "PYSEC-2022-202" in result.stdout
