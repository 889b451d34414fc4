"""CloudWatch Logs and alarm policies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import integer, resource_policy
from ._model import Resource
from ._values import UNKNOWN, as_bool, as_number, is_set


@resource_policy(
    name="log-group-retention",
    description="Log groups must have a bounded retention of at least the configured minimum.",
    severity=Severity.MEDIUM,
    category="resilience",
    controls=("CloudWatch.16",),
    remediation="Set `retention_in_days` to a CloudWatch-supported value >= `minRetentionDays`.",
    resource_types=(T.LOG_GROUP,),
    guarantee=True,
    config={"minRetentionDays": integer("Minimum retention in days (dev 30, prod 365).", 365, 1)},
    preview_note="Absent or 0 (never expire) fails: the platform requires a bounded retention so logs are "
    "kept long enough for investigations and not forever (cost, data minimisation). CloudWatch.16 itself "
    "accepts 0.",
)
def log_group_retention(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    value = r.get("retentionInDays")
    if value is UNKNOWN:
        return
    days = as_number(value)
    minimum = cfg["minRetentionDays"]
    if days is None or days <= 0:
        yield (f"The log group {r.label} never expires its logs (retentionInDays absent or 0); set a bounded "
               f"retention of at least {minimum} days.")
    elif days < minimum:
        yield f"The log group {r.label} keeps logs {days:g} days; at least {minimum} days are required."


@resource_policy(
    name="alarm-has-actions",
    description="CloudWatch alarms must notify someone when they fire.",
    severity=Severity.HIGH,
    category="operations",
    controls=("CloudWatch.15", "CloudWatch.17"),
    remediation="Set `alarm_actions` (e.g. the platform's alert SNS topic) and leave `actions_enabled` true.",
    resource_types=(T.METRIC_ALARM,),
)
def alarm_has_actions(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if not is_set(r.get("alarmActions")):
        yield f"The CloudWatch alarm {r.label} has no alarmActions."
    if as_bool(r.get("actionsEnabled")) is False:
        yield f"The CloudWatch alarm {r.label} sets actionsEnabled=false."
