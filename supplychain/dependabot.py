"""What `.github/dependabot.yml` reaches, modelled conservatively on Dependabot's own file discovery.

For ``pip``, Dependabot reads, in each configured directory, the ``*requirements*.txt`` files and follows their
``-r`` and ``-c`` includes (dependabot-core, python/lib/dependabot/python/file_fetcher.rb). It also picks up
other ``.txt`` files that happen to parse as requirements; this model does not count on that, so a pin file is
"covered" only when an entry's directory holds it by name or includes it. A bump then rewrites the package's pin
in every reached file that holds it, in one pull request.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from supplychain.pins import REPO_ROOT, PinFileError, find_pin_files, read_pin_file, walk_files

CONFIG = Path(".github") / "dependabot.yml"
GROUP_SCOPES = ("version-updates", "security-updates")


class DependabotConfigError(ValueError):
    """dependabot.yml is not in a shape this model understands; the message names the entry."""


def load(root: Path = REPO_ROOT) -> dict[str, Any]:
    path = root / CONFIG
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise DependabotConfigError(f"{CONFIG}: cannot read: {exc.strerror or exc}") from None
    if not isinstance(config, dict) or config.get("version") != 2 or not isinstance(config.get("updates"), list):
        raise DependabotConfigError(f"{CONFIG}: needs `version: 2` and a list of `updates`")
    return config


def entries(config: Mapping[str, Any], ecosystem: str) -> list[dict[str, Any]]:
    return [entry for entry in config["updates"] if entry.get("package-ecosystem") == ecosystem]


def directories(entry: Mapping[str, Any]) -> list[str]:
    """The entry's directories as repository-relative POSIX paths ("" for the root)."""
    raw = entry.get("directories", [entry["directory"]] if "directory" in entry else [])
    if not raw:
        raise DependabotConfigError(f"{CONFIG}: the {entry.get('package-ecosystem')} entry names no directory")
    found = []
    for directory in raw:
        if any(char in directory for char in "*?["):
            raise DependabotConfigError(f"{CONFIG}: glob {directory!r} is not modelled; list directories literally")
        found.append(directory.strip("/"))
    return found


def pip_files_reached(directory: str, root: Path = REPO_ROOT) -> set[str]:
    """The pin files a pip entry for ``directory`` reads: its ``*requirements*.txt`` and their includes."""
    base = root / directory
    pending = [
        path.relative_to(root).as_posix()
        for path in sorted(base.glob("*.txt"))
        if "requirements" in path.name and path.is_file()
    ]
    reached: set[str] = set()
    while pending:
        relative = pending.pop()
        if relative in reached:
            continue
        reached.add(relative)
        pending.extend(include.path for include in read_pin_file(relative, root).includes)
    return reached


def coverage_problems(config: Mapping[str, Any], root: Path = REPO_ROOT) -> list[str]:
    """One sentence per pinned thing in the repository that no update entry reaches."""
    problems = []
    reached: set[str] = set()
    for entry in entries(config, "pip"):
        for directory in directories(entry):
            try:
                reached |= pip_files_reached(directory, root)
            except PinFileError as exc:
                problems.append(f"pip entry for /{directory}: {exc}")
    problems += [
        f"{relative} pins Python packages but no pip entry in {CONFIG} reaches it (by name in its directory, "
        "or through -r/-c from a file there)"
        for relative in find_pin_files(root)
        if relative not in reached
    ]
    npm_dirs = {d for entry in entries(config, "npm") for d in directories(entry)}
    for manifest in (path for path in walk_files(root) if path.name == "package.json"):
        directory = manifest.parent.relative_to(root).as_posix().removeprefix(".")
        if directory not in npm_dirs:
            problems.append(f"{manifest.relative_to(root)} pins npm packages but no npm entry covers /{directory}")
    workflows = sorted((root / ".github" / "workflows").glob("*.y*ml"))
    action_dirs = {d for entry in entries(config, "github-actions") for d in directories(entry)}
    if workflows and not action_dirs & {"", ".github/workflows"}:
        problems.append(f"workflows use actions but no github-actions entry in {CONFIG} covers / (.github/workflows)")
    return problems


def group_of(entry: Mapping[str, Any], dependency: str, scope: str = "version-updates") -> str | None:
    """The group Dependabot puts ``dependency`` in for ``scope``: the first group whose patterns match and whose
    exclude-patterns do not (Dependabot's rule for a dependency that several groups match)."""
    if scope not in GROUP_SCOPES:
        raise ValueError(f"scope must be one of {GROUP_SCOPES}, got {scope!r}")
    for name, group in (entry.get("groups") or {}).items():
        if group.get("applies-to", "version-updates") != scope:
            continue
        excluded = _matches(dependency, group.get("exclude-patterns", []))
        if _matches(dependency, group.get("patterns", [])) and not excluded:
            return str(name)
    return None


def _matches(dependency: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(dependency.lower(), pattern.lower()) for pattern in patterns)
