"""Every audit check, grouped by service. `ALL_CHECKS` is the catalogue the docs and tests enumerate."""

from __future__ import annotations

from collections.abc import Callable

from audit.checks import apigateway, baseline, data, encryption, kms, network
from audit.checks.context import AuditContext
from audit.model import Check, Result

_MODULES = (apigateway, kms, baseline, network, data, encryption)
ALL_CHECKS: tuple[Check, ...] = tuple(check for module in _MODULES for check in module.CHECKS)
RUNNERS: tuple[Callable[[AuditContext], list[Result]], ...] = tuple(module.run for module in _MODULES)


def run_all(ctx: AuditContext) -> list[Result]:
    results: list[Result] = []
    for runner in RUNNERS:
        results.extend(runner(ctx))
    return results
