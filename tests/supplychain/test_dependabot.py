""".github/dependabot.yml reaches every pin file and groups each Lambda archive's pins into one pull request."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from supplychain import dependabot
from supplychain.dependabot import DependabotConfigError, coverage_problems, group_of, pip_files_reached
from supplychain.pins import find_pin_files, read_all

from .conftest import REPO_ROOT

CONFIG = dependabot.load()
(PIP,) = dependabot.entries(CONFIG, "pip")
FUNCTION_FILES = sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / "functions").glob("*/requirements.txt"))


def archive_packages() -> set[str]:
    pin_files = read_all()
    return {pin.name for path in FUNCTION_FILES for pin in pin_files[path].pins}


def test_every_pin_file_in_the_repository_is_reached():
    assert coverage_problems(CONFIG) == []
    assert set(find_pin_files()) <= pip_files_reached("")
    assert {"npm", "github-actions"} <= {entry["package-ecosystem"] for entry in CONFIG["updates"]}


def test_every_lambda_archive_pin_is_in_the_archive_group_for_versions_and_security_fixes():
    assert archive_packages() >= {"pyjwt", "cryptography", "boto3", "botocore", "pg8000", "requests", "urllib3"}
    for package in sorted(archive_packages()):
        assert group_of(PIP, package, "version-updates") == "lambda-archives", package
        assert group_of(PIP, package, "security-updates") == "lambda-archives-security", package


def test_the_archive_groups_name_no_stale_package():
    groups = PIP["groups"]
    assert groups["lambda-archives"]["patterns"] == groups["lambda-archives-security"]["patterns"]
    packages = archive_packages()
    stale = [p for p in groups["lambda-archives"]["patterns"] if not any(matches(p, name) for name in packages)]
    assert stale == [], "patterns that match no pin of any function"


def matches(pattern: str, package: str) -> bool:
    return group_of({"groups": {"g": {"patterns": [pattern]}}}, package) == "g"


def test_every_pinned_package_gets_a_version_update_group():
    for path, pin_file in read_all().items():
        for pin in pin_file.pins:
            assert group_of(PIP, pin.name) is not None, f"{path}: {pin.name} would get a pull request of its own"
    assert group_of(PIP, "pulumi-aws") == group_of(PIP, "pulumi") == "pulumi"
    assert group_of(PIP, "pytest") == "tooling"


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


PIP_ROOT = "version: 2\nupdates:\n  - package-ecosystem: pip\n    directory: /\n"


def test_a_new_functions_requirements_that_nothing_includes_is_reported(tmp_path):
    root = write(tmp_path, {
        ".github/dependabot.yml": PIP_ROOT,
        "requirements.txt": "-c constraints.txt\n-r functions/requirements.txt\n",
        "constraints.txt": "a==1\n",
        "functions/requirements.txt": "-r a/requirements.txt\n",
        "functions/a/requirements.txt": "a==1\n",
        "functions/b/requirements.txt": "b==1\n",
    })  # fmt: skip
    problems = coverage_problems(dependabot.load(root), root)
    assert len(problems) == 1 and problems[0].startswith("functions/b/requirements.txt pins Python packages")
    # Including it, or listing its directory, covers it.
    (root / "functions/requirements.txt").write_text("-r a/requirements.txt\n-r b/requirements.txt\n")
    assert coverage_problems(dependabot.load(root), root) == []


def test_a_constraints_file_counts_only_when_included(tmp_path):
    root = write(tmp_path, {
        ".github/dependabot.yml": PIP_ROOT,
        "requirements.txt": "a==1\n",
        "constraints.txt": "a==1\n",
    })  # fmt: skip
    assert [p.split(" ")[0] for p in coverage_problems(dependabot.load(root), root)] == ["constraints.txt"]


def test_directories_npm_and_actions_are_checked_too(tmp_path):
    config = (
        "version: 2\nupdates:\n  - package-ecosystem: pip\n    directories: [/, /tools]\n"
    )
    root = write(tmp_path, {
        ".github/dependabot.yml": config,
        ".github/workflows/ci.yml": "on: push\n",
        "requirements.txt": "a==1\n",
        "tools/requirements-lint.txt": "b==1\n",
        "web/package.json": "{}\n",
        "node_modules/x/package.json": "{}\n",
    })  # fmt: skip
    problems = coverage_problems(dependabot.load(root), root)
    assert problems == [
        "web/package.json pins npm packages but no npm entry covers /web",
        "workflows use actions but no github-actions entry in .github/dependabot.yml covers / (.github/workflows)",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("updates: []\n", "needs `version: 2`"),
        ("version: 2\nupdates:\n  - package-ecosystem: pip\n", "names no directory"),
        ("version: 2\nupdates:\n  - package-ecosystem: pip\n    directories: ['/functions/*']\n", "is not modelled"),
    ],
)
def test_a_config_outside_the_model_is_an_error(tmp_path, text, message):
    root = write(tmp_path, {".github/dependabot.yml": text, "requirements.txt": "a==1\n"})
    with pytest.raises(DependabotConfigError, match=message):
        coverage_problems(dependabot.load(root), root)


def test_the_first_matching_group_wins_and_exclusions_apply():
    entry = yaml.safe_load("""
groups:
  security-only: {applies-to: security-updates, patterns: ["*"]}
  aws: {patterns: ["boto*"], exclude-patterns: [botocore]}
  rest: {patterns: ["*"]}
""")
    assert group_of(entry, "boto3") == "aws"
    assert group_of(entry, "BotoCore") == "rest"
    assert group_of(entry, "boto3", "security-updates") == "security-only"
    with pytest.raises(ValueError, match="scope"):
        group_of(entry, "boto3", "all")
