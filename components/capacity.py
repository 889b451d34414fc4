"""Lambda concurrency a stack reserves, against the account's quota (pure; no Pulumi).

Reserved concurrency is carved out of the account's regional concurrency quota, and Lambda keeps at least 100
executions unreserved (Lambda guide, "Configuring reserved concurrency"): a stack whose reservations do not fit is
rejected at deploy time. ``functionP99DurationMs`` and ``throttleRateLimit`` size the reservation (settings.py,
``required_concurrency``); this module adds up what a stack, or several stacks in one account, need.
"""

from __future__ import annotations

from collections.abc import Iterable

from components.settings import Settings

# Functions created at the stack's lambdaReservedConcurrency (backend: api, reconcile, worker; api: authorizer).
STACK_RESERVED_FUNCTIONS = ("api", "reconcile", "worker", "authorizer")
# The deploy-time bootstrap runs one at a time (it holds the migration lock and a master connection).
BOOTSTRAP_RESERVATION = 1
# Lambda refuses a reservation that leaves fewer unreserved executions than this in the account and region.
UNRESERVED_MINIMUM = 100


def reservations(s: Settings) -> dict[str, int]:
    """Function -> reserved concurrent executions (functions left unreserved are absent)."""
    reserved = {"bootstrap": BOOTSTRAP_RESERVATION}
    if s.lambda_reserved_concurrency >= 0:
        reserved |= dict.fromkeys(STACK_RESERVED_FUNCTIONS, s.lambda_reserved_concurrency)
    return reserved


def reserved_total(s: Settings) -> int:
    return sum(reservations(s).values())


def minimum_account_quota(stacks: Iterable[Settings]) -> int:
    """The smallest regional concurrency quota that accepts every reservation of ``stacks`` in one account."""
    return sum(reserved_total(s) for s in stacks) + UNRESERVED_MINIMUM
