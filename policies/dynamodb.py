"""DynamoDB table policies."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import resource_policy, stack_policy
from ._model import Resource, Stack
from ._values import UNKNOWN, as_bool


@resource_policy(
    name="dynamodb-point-in-time-recovery",
    description="DynamoDB tables must have point-in-time recovery.",
    severity=Severity.MEDIUM,
    category="resilience",
    controls=("DynamoDB.2", "AwsSolutions-DDB3"),
    remediation="Set `point_in_time_recovery={'enabled': True}`.",
    resource_types=(T.DYNAMODB_TABLE,),
)
def dynamodb_point_in_time_recovery(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    value = r.get("pointInTimeRecovery.enabled")
    if value is not UNKNOWN and as_bool(value) is not True:
        yield f"The DynamoDB table {r.label} must enable pointInTimeRecovery."


@stack_policy(
    name="dynamodb-scales-with-demand",
    description="DynamoDB tables must be on-demand or have read and write auto scaling.",
    severity=Severity.MEDIUM,
    category="resilience",
    controls=("DynamoDB.1",),
    remediation="Use `billing_mode='PAY_PER_REQUEST'` or add appautoscaling targets for "
    "ReadCapacityUnits and WriteCapacityUnits of the table.",
)
def dynamodb_scales_with_demand(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for table in stack.of_type(T.DYNAMODB_TABLE):
        if table.get("billingMode") in ("PAY_PER_REQUEST", UNKNOWN):
            continue
        dims = set()
        for target in stack.referrers(table, [T.APPAUTOSCALING_TARGET], "resourceId"):
            dims.add(target.get("scalableDimension"))
        name = table.get("name")
        for target in stack.of_type(T.APPAUTOSCALING_TARGET):
            if isinstance(name, str) and target.get("resourceId") == f"table/{name}":
                dims.add(target.get("scalableDimension"))
        needed = {"dynamodb:table:ReadCapacityUnits", "dynamodb:table:WriteCapacityUnits"}
        if UNKNOWN not in dims and not needed <= dims:
            yield (f"The DynamoDB table {table.label} is PROVISIONED without read and write auto scaling "
                   "targets.", table.urn)
