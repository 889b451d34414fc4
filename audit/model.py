"""Result model shared by the audit and the probe: one result per (check, resource)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field


class Status(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"
    ERROR = "error"


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Check:
    """What a check verifies; the same metadata goes into every report format."""

    id: str
    title: str
    severity: Severity
    remediation: str
    controls: tuple[str, ...] = ()

    def passed(self, resource: str, message: str) -> Result:
        return Result(self, resource, Status.PASS, message)

    def failed(self, resource: str, message: str) -> Result:
        return Result(self, resource, Status.FAIL, message)

    def errored(self, resource: str, message: str) -> Result:
        return Result(self, resource, Status.ERROR, message)

    def judge(self, resource: str, ok: bool, pass_message: str, fail_message: str) -> Result:
        return self.passed(resource, pass_message) if ok else self.failed(resource, fail_message)


@dataclass(frozen=True)
class Result:
    check: Check
    resource: str
    status: Status
    message: str

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.check.id,
            "title": self.check.title,
            "severity": self.check.severity.value,
            "controls": list(self.check.controls),
            "resource": self.resource,
            "status": self.status.value,
            "message": self.message,
            "remediation": self.check.remediation,
        }


@dataclass
class Report:
    """All results of one run; the exit code follows the gate: 0 clean, 1 finding, 2 error."""

    tool: str
    target: str
    results: list[Result] = field(default_factory=list)

    def extend(self, results: Iterable[Result]) -> None:
        self.results.extend(results)

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        for result in self.results:
            counts[result.status.value] += 1
        return counts

    def exit_code(self) -> int:
        counts = self.counts()
        if counts[Status.ERROR.value]:
            return 2
        if counts[Status.FAIL.value]:
            return 1
        return 0

    def checks(self) -> list[Check]:
        """Distinct checks in first-seen order (SARIF rules, Markdown headings)."""
        seen: dict[str, Check] = {}
        for result in self.results:
            seen.setdefault(result.check.id, result.check)
        return list(seen.values())
