"""Turn pip-audit's JSON reports (one per pinned requirement set) into a job summary and a verdict.

    python -m supplychain.pip_audit_report [--summary FILE] SET=REPORT [SET=REPORT ...]

SET is the pin file that was audited (e.g. functions/authorizer/requirements.txt), REPORT the file written by
``pip-audit --requirement SET --format json --output REPORT``. The Markdown summary (appended to FILE, e.g.
$GITHUB_STEP_SUMMARY) lists every vulnerable pin with its advisory id, aliases and fixed versions; each one is
also printed as a GitHub ``::error`` annotation on the pin's line.

Exit 0: no known vulnerability and every pinned package audited; 1: a vulnerability, or a package pip-audit
skipped (an unaudited pin is not a clean one); 2: a report is missing or not pip-audit's JSON (the scan did not
run, so there is no verdict to give).

pip-audit's own Markdown output is per run and has no notion of which requirement set (which Lambda archive) a
package belongs to, hence this small formatter.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supplychain.pins import PinFileError, read_pin_file


class ReportError(ValueError):
    """A report that cannot be trusted as pip-audit output; the message names the file."""


@dataclass(frozen=True)
class Vulnerability:
    requirement_set: str
    package: str
    version: str
    advisory: str
    aliases: tuple[str, ...]
    fixed_in: tuple[str, ...]


@dataclass(frozen=True)
class Skipped:
    requirement_set: str
    package: str
    reason: str


@dataclass(frozen=True)
class SetResult:
    requirement_set: str
    audited: int
    vulnerabilities: tuple[Vulnerability, ...]
    skipped: tuple[Skipped, ...]


def read_report(requirement_set: str, report: Path) -> SetResult:
    try:
        document = json.loads(report.read_text())
    except OSError as exc:
        raise ReportError(f"{report} (for {requirement_set}): cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{report} (for {requirement_set}): not JSON: {exc}") from None
    dependencies = document.get("dependencies") if isinstance(document, dict) else None
    if not isinstance(dependencies, list):
        raise ReportError(f"{report} (for {requirement_set}): no `dependencies` list; not pip-audit's JSON format")
    vulnerabilities: list[Vulnerability] = []
    skipped: list[Skipped] = []
    for dependency in dependencies:
        package = _field(dependency, "name", str, report)
        if "skip_reason" in dependency:
            skipped.append(Skipped(requirement_set, package, _field(dependency, "skip_reason", str, report)))
            continue
        version = _field(dependency, "version", str, report)
        for vuln in _field(dependency, "vulns", list, report):
            vulnerabilities.append(Vulnerability(
                requirement_set, package, version,
                advisory=_field(vuln, "id", str, report),
                aliases=tuple(sorted(vuln.get("aliases", []))),
                fixed_in=tuple(_field(vuln, "fix_versions", list, report)),
            ))  # fmt: skip
    audited = len(dependencies) - len(skipped)
    return SetResult(requirement_set, audited, tuple(vulnerabilities), tuple(skipped))


def _field(obj: Any, key: str, kind: type, report: Path) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind):
        raise ReportError(f"{report}: an entry has no {kind.__name__} `{key}`; not pip-audit's JSON format")
    return value


def verdict(results: Sequence[SetResult]) -> int:
    return 1 if any(r.vulnerabilities or r.skipped for r in results) else 0


def markdown(results: Sequence[SetResult]) -> str:
    vulnerabilities = [v for r in results for v in r.vulnerabilities]
    skipped = [s for r in results for s in r.skipped]
    audited = sum(r.audited for r in results)
    lines = ["## pip-audit: known vulnerabilities in the pinned requirement sets", ""]
    if not vulnerabilities and not skipped:
        lines.append(f"No known vulnerability in {len(results)} requirement sets ({audited} pins audited).")
    else:
        affected = len({v.requirement_set for v in vulnerabilities})
        lines.append(
            f"**{len(vulnerabilities)} known vulnerabilit{'y' if len(vulnerabilities) == 1 else 'ies'}** in "
            f"{affected} of {len(results)} requirement sets; {len(skipped)} pins could not be audited."
        )
    if vulnerabilities:
        lines += ["", "| Requirement set | Package | Pinned | Advisory | Aliases | Fixed in |", "|---" * 6 + "|"]
        lines += [
            "| " + " | ".join(_cell(c) for c in (
                f"`{v.requirement_set}`", v.package, v.version, v.advisory,
                ", ".join(v.aliases) or "-", ", ".join(v.fixed_in) or "no fixed release yet",
            )) + " |"
            for v in vulnerabilities
        ]  # fmt: skip
    if skipped:
        lines += ["", "Not audited (this fails the scan too):", ""]
        lines += [f"- `{_cell(s.requirement_set)}`: {_cell(s.package)}: {_cell(s.reason)}" for s in skipped]
    lines += ["", "| Requirement set | Pins audited | Vulnerable pins |", "|---|---|---|"]
    lines += [
        f"| `{_cell(r.requirement_set)}` | {r.audited} | {len({v.package for v in r.vulnerabilities})} |"
        for r in results
    ]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    # Advisory data comes from outside: keep it inside its table cell.
    return " ".join(text.split()).replace("|", "\\|")


def error_annotations(results: Sequence[SetResult], root: Path) -> list[str]:
    """GitHub workflow commands that put each finding on the pin's line in the pull request."""
    commands = []
    for result in results:
        lines = _pin_lines(root, result.requirement_set)
        for v in result.vulnerabilities:
            fixed = f"fixed in {', '.join(v.fixed_in)}" if v.fixed_in else "no fixed release yet"
            aliases = f" ({', '.join(v.aliases)})" if v.aliases else ""
            message = f"{v.package} {v.version}: {v.advisory}{aliases}, {fixed}"
            location = f"file={_property(v.requirement_set)}"
            if v.package in lines:
                location += f",line={lines[v.package]}"
            commands.append(f"::error {location},title=pip-audit {_property(v.advisory)}::{_data(message)}")
        for s in result.skipped:
            message = f"{s.package} not audited: {s.reason}"
            commands.append(f"::error file={_property(s.requirement_set)},title=pip-audit::{_data(message)}")
    return commands


def _pin_lines(root: Path, requirement_set: str) -> dict[str, int]:
    """Canonical package name -> line of its pin (best effort: the annotation works without a line)."""
    try:
        parsed = read_pin_file(requirement_set, root)
    except PinFileError:
        return {}
    return {pin.name: pin.line for pin in parsed.pins}


def _data(text: str) -> str:
    # Workflow command escaping: a newline in advisory data must not start a command of its own.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def parse_pairs(pairs: Sequence[str]) -> list[tuple[str, Path]]:
    parsed = []
    for pair in pairs:
        requirement_set, sep, report = pair.partition("=")
        if not sep or not requirement_set or not report:
            raise ReportError(f"expected SET=REPORT, got {pair!r}")
        parsed.append((requirement_set, Path(report)))
    return parsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m supplychain.pip_audit_report", description=__doc__.splitlines()[0]
    )
    parser.add_argument("reports", nargs="*", metavar="SET=REPORT", help="an audited pin file and its pip-audit JSON")
    parser.add_argument("--summary", type=Path, help="append the Markdown summary here (e.g. $GITHUB_STEP_SUMMARY)")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root, for pin line numbers")
    args = parser.parse_args(argv)
    try:
        pairs = parse_pairs(args.reports)
        if not pairs:
            raise ReportError("no report given: the scan audited no requirement set")
        results = [read_report(requirement_set, report) for requirement_set, report in pairs]
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if args.summary:
            with args.summary.open("a") as summary:
                summary.write(f"## pip-audit\n\nThe scan did not complete: {_cell(str(exc))}\n")
        return 2
    report = markdown(results)
    if args.summary:
        with args.summary.open("a") as summary:
            summary.write(report)
    print(report, end="")
    for command in error_annotations(results, args.root):
        print(command)
    return verdict(results)


if __name__ == "__main__":
    raise SystemExit(main())
