"""Run every audit check for one stack and collect a Report."""

from __future__ import annotations

from audit.checks import run_all
from audit.checks.context import AuditContext
from audit.model import Report


def audit_report(ctx: AuditContext) -> Report:
    outputs = ctx.outputs
    account = outputs.account_id or "unknown account"
    report = Report("audit", f"{outputs.environment} stack, account {account}, {ctx.aws.region}")
    report.extend(run_all(ctx))
    return report
