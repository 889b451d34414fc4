"""Pin files agree with each other, pin exactly, and each Lambda archive's pins are its whole dependency closure."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from supplychain import pins
from supplychain.pins import PinFileError, find_pin_files, read_all, read_pin_file, requirement_sets

from .conftest import REPO_ROOT

FUNCTIONS = sorted(p.parent.name for p in (REPO_ROOT / "functions").glob("*/requirements.txt"))
# The Lambda runtime the archives target (functions/package.py: python3.12, manylinux x86_64).
LAMBDA_ENVIRONMENT = {
    "python_version": "3.12", "python_full_version": "3.12.0", "implementation_name": "cpython",
    "implementation_version": "3.12.0", "platform_python_implementation": "CPython", "os_name": "posix",
    "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
    "platform_release": "", "platform_version": "",
}  # fmt: skip


def closure(requirements: list[Requirement]) -> dict[str, str]:
    """Installed name -> version of ``requirements`` and everything they need on the Lambda runtime.

    Read from the installed distributions' metadata (the dev environment installs every function's pins)."""
    found: dict[str, str] = {}
    extras_seen: dict[str, set[str]] = {}
    pending = list(requirements)
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        new_extras = set(requirement.extras) - extras_seen.get(name, set())
        if name in found and not new_extras:
            continue
        extras_seen.setdefault(name, set()).update(requirement.extras)
        distribution = importlib.metadata.distribution(name)
        found[name] = distribution.version
        for dependency in map(Requirement, distribution.requires or []):
            wanted = extras_seen[name] or {""}
            if dependency.marker is None or any(
                dependency.marker.evaluate({**LAMBDA_ENVIRONMENT, "extra": extra}) for extra in wanted
            ):
                pending.append(dependency)
    return found


def test_the_repository_has_the_expected_pin_files():
    found = find_pin_files()
    assert {"requirements.txt", "requirements-dev.txt", "requirements-audit.txt", "constraints.txt"} <= set(found)
    assert {f"functions/{name}/requirements.txt" for name in FUNCTIONS} <= set(found)
    assert FUNCTIONS == ["api", "authorizer", "worker"]
    assert not [path for path in found if path.startswith((".venv", "node_modules", "build"))]


def test_every_requirement_is_pinned_to_one_exact_version():
    for path, pin_file in read_all().items():
        for pin in pin_file.pins:
            assert pin.version is not None, f"{path}:{pin.line}: `{pin.requirement}` is not pinned with =="


def test_a_package_pinned_in_several_files_has_one_version_that_constraints_txt_records():
    # A Dependabot pull request that misses one of the files holding a pin fails here (and in `make setup`).
    constraints = read_pin_file("constraints.txt")
    for path, pin_file in read_all().items():
        for pin in pin_file.pins:
            recorded = constraints.pin(pin.name)
            assert recorded is not None, f"{path}:{pin.line}: {pin.name} is missing from constraints.txt"
            where = f"{path}:{pin.line}: {pin.name}=={pin.version}"
            assert recorded.version == pin.version, f"{where}, constraints.txt:{recorded.line} has {recorded.version}"


def test_constraints_txt_is_the_installed_environment():
    for pin in read_pin_file("constraints.txt").pins:
        installed = importlib.metadata.version(pin.name)
        assert installed == pin.version, f"{pin.name}: constraints.txt pins {pin.version}, .venv has {installed}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_lambda_archive_pins_its_whole_dependency_closure(function):
    # functions/package.py installs the function's requirements.txt from PyPI at build time: an unpinned
    # transitive dependency would let a new release change the archive with no change in the repository.
    pin_file = read_pin_file(f"functions/{function}/requirements.txt")
    pinned = {pin.name: pin.version for pin in pin_file.pins}
    needed = closure([pin.requirement for pin in pin_file.pins])
    assert {name: needed[name] for name in sorted(needed)} == {name: pinned.get(name) for name in sorted(needed)}
    assert sorted(set(pinned) - set(needed)) == [], "pins that nothing in the archive needs any more"


def test_requirement_sets_are_the_files_that_pin_something():
    sets = requirement_sets()
    assert "functions/requirements.txt" not in sets  # only includes, no pin of its own
    functions = {f"functions/{name}/requirements.txt" for name in FUNCTIONS}
    assert {"constraints.txt", "requirements-audit.txt", *functions} <= set(sets)
    result = subprocess.run([sys.executable, "-m", "supplychain.pins"], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout.splitlines() == sets


def write(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    return root


def test_a_new_functions_requirements_is_a_new_requirement_set(tmp_path):
    root = write(tmp_path, {
        "requirements.txt": "-r functions/requirements.txt\n",
        "functions/requirements.txt": "-r a/requirements.txt\n",
        "functions/a/requirements.txt": "pkg-a==1.0  # a comment\n",
        "functions/b/requirements.txt": "PKG_B[extra]==2.0\n",
        ".venv/lib/requirements.txt": "ignored==1\n",
        "node_modules/x/requirements.txt": "ignored==1\n",
    })  # fmt: skip
    assert requirement_sets(root) == ["functions/a/requirements.txt", "functions/b/requirements.txt"]
    b = read_pin_file("functions/b/requirements.txt", root)
    assert [(p.name, p.version, p.line) for p in b.pins] == [("pkg-b", "2.0", 1)]
    assert [(i.option, i.path) for i in read_pin_file("requirements.txt", root).includes] == [
        ("-r", "functions/requirements.txt")
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("--hash=sha256:abc\n", "x/requirements.txt:1: unsupported option"),
        ("-e .\n", "unsupported option"),
        ("-r missing.txt\n", "x/requirements.txt:1: included file x/missing.txt does not exist"),
        ("-r ../../outside.txt\n", "is outside the repository"),
        ("ok==1\nnot a requirement!\n", "x/requirements.txt:2: not a requirement"),
        ("pkg==1 \\\n", "line continuations"),
    ],
)
def test_a_pin_file_that_cannot_be_read_faithfully_is_an_error_naming_the_line(tmp_path, text, message):
    root = write(tmp_path / "repo", {"x/requirements.txt": text})
    with pytest.raises(PinFileError, match=message.replace(".", r"\.")):
        read_pin_file("x/requirements.txt", root)
    assert pins.main(["--root", str(root)]) == 2


def test_a_loose_requirement_is_read_as_unpinned(tmp_path):
    root = write(tmp_path, {"requirements.txt": "loose>=1\nexact==2\n"})
    assert [(p.name, p.version) for p in read_pin_file("requirements.txt", root).pins] == [
        ("loose", None), ("exact", "2"),
    ]


def test_no_requirement_set_is_an_error(tmp_path, capsys):
    assert pins.main(["--root", str(write(tmp_path, {"README.md": "no pins\n"}))]) == 2
    assert "no pinned requirement set" in capsys.readouterr().err
