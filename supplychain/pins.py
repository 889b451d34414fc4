"""The repository's pin files: every requirements/constraints file, what it pins and what it includes.

    python -m supplychain.pins        # the requirement sets (pin files with at least one pin), one per line

CI's vulnerability scan audits each requirement set this prints, and tests check that Dependabot reaches every
pin file, so a new function's requirements.txt is scanned and updated without anyone listing it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parent.parent
# Environments, caches and build output hold other projects' files, never ours.
SKIPPED_DIRS = frozenset({
    ".git", ".venv", "node_modules", "build", "reports", "__pycache__",
    ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".benchmarks",
})  # fmt: skip
INCLUDE_OPTIONS = {"-r": "-r", "--requirement": "-r", "-c": "-c", "--constraint": "-c"}


class PinFileError(ValueError):
    """A pin file this module cannot read faithfully; the message names the file and line."""


@dataclass(frozen=True)
class Pin:
    name: str  # canonical (PEP 503) name
    version: str | None  # the exact version of a `==` pin; None when the requirement is not pinned exactly
    line: int
    requirement: Requirement


@dataclass(frozen=True)
class Include:
    option: str  # "-r" (requirements) or "-c" (constraints)
    path: str  # repository-relative, POSIX
    line: int


@dataclass(frozen=True)
class PinFile:
    path: str  # repository-relative, POSIX
    pins: tuple[Pin, ...]
    includes: tuple[Include, ...]

    def pin(self, name: str) -> Pin | None:
        canonical = canonicalize_name(name)
        return next((p for p in self.pins if p.name == canonical), None)


def is_pin_file_name(name: str) -> bool:
    return name.endswith(".txt") and ("requirements" in name or name.startswith("constraints"))


def find_pin_files(root: Path = REPO_ROOT) -> list[str]:
    """Every pin file under ``root`` (repository-relative POSIX paths, sorted)."""
    return sorted(path.relative_to(root).as_posix() for path in walk_files(root) if is_pin_file_name(path.name))


def walk_files(directory: Path) -> Iterator[Path]:
    """Regular files under ``directory``, sorted, outside SKIPPED_DIRS and symlinked directories."""
    for entry in sorted(directory.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            if entry.name not in SKIPPED_DIRS:
                yield from walk_files(entry)
        elif entry.is_file():
            yield entry


def read_pin_file(relative: str, root: Path = REPO_ROOT) -> PinFile:
    path = root / relative
    try:
        text = path.read_text()
    except OSError as exc:
        raise PinFileError(f"{relative}: cannot read: {exc.strerror or exc}") from None
    pins: list[Pin] = []
    includes: list[Include] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        where = f"{relative}:{number}"
        if line.endswith("\\"):
            raise PinFileError(f"{where}: line continuations are not supported in pin files")
        if line.startswith("-"):
            includes.append(_include(line, relative, number, root))
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement as exc:
            raise PinFileError(f"{where}: not a requirement: {exc}") from None
        specifiers = list(requirement.specifier)
        exact = specifiers[0].version if len(specifiers) == 1 and specifiers[0].operator == "==" else None
        pins.append(Pin(canonicalize_name(requirement.name), exact, number, requirement))
    return PinFile(relative, tuple(pins), tuple(includes))


def _include(line: str, relative: str, number: int, root: Path) -> Include:
    option, _, target = line.partition(" ")
    if "=" in option:  # --requirement=path
        option, _, target = option.partition("=")
    kind = INCLUDE_OPTIONS.get(option)
    if kind is None or not target.strip():
        # Hashes, editable installs or index options would change what a pin means; none is used here.
        raise PinFileError(f"{relative}:{number}: unsupported option {line!r} (only -r and -c are understood)")
    included = (root / relative).parent / target.strip()
    try:
        resolved = included.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise PinFileError(f"{relative}:{number}: {target.strip()} is outside the repository") from None
    if not (root / resolved).is_file():
        raise PinFileError(f"{relative}:{number}: included file {resolved} does not exist")
    return Include(kind, resolved, number)


def read_all(root: Path = REPO_ROOT) -> dict[str, PinFile]:
    return {relative: read_pin_file(relative, root) for relative in find_pin_files(root)}


def requirement_sets(root: Path = REPO_ROOT) -> list[str]:
    """Pin files that pin at least one package (a file of includes only adds no set of its own)."""
    return [relative for relative, pin_file in read_all(root).items() if pin_file.pins]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supplychain.pins", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        sets = requirement_sets(args.root)
    except PinFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not sets:
        print(f"error: no pinned requirement set under {args.root}", file=sys.stderr)
        return 2
    print("\n".join(sets))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
