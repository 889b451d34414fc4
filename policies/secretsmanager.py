"""Secrets Manager policies."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import integer, resource_policy, stack_policy, string_list
from ._model import Resource, Stack
from ._values import UNKNOWN, as_bool, as_number


@stack_policy(
    name="secret-rotation-enabled",
    description="Secrets Manager secrets should rotate automatically.",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("SecretsManager.1", "AwsSolutions-SMG4"),
    remediation="Create an `aws.secretsmanager.SecretRotation` for the secret, or list the secret in "
    "`exemptSecretNames` when its value is issued by a third party and cannot be rotated by a Lambda.",
    config={"exemptSecretNames": string_list(
        "Secret resource names or secret names without rotation. The default names the platform's OAuth client "
        "secret, which its third-party issuer rotates.", ["platform-backend-oauth-client"])},
)
def secret_rotation_enabled(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for secret in stack.of_type(T.SECRET):
        if secret.name in cfg["exemptSecretNames"] or secret.get("name") in cfg["exemptSecretNames"]:
            continue
        rotations = [r for r in stack.referrers(secret, [T.SECRET_ROTATION], "secretId", ["arn", "id", "name"])
                     if as_bool(r.get("rotationEnabled")) is not False]
        if not rotations:
            yield f"The secret {secret.label} has no enabled SecretRotation.", secret.urn


_RATE = re.compile(r"rate\((\d+)\s+days?\)")


@resource_policy(
    name="secret-rotation-interval",
    description="Secret rotation must happen at least every configured number of days.",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("SecretsManager.4",),
    remediation="Set `rotation_rules.automatically_after_days` (or a rate(N days) schedule) <= maxDays.",
    resource_types=(T.SECRET_ROTATION,),
    config={"maxDays": integer("Longest allowed rotation interval (days).", 90, 1)},
    preview_note="Whether rotation succeeds (SecretsManager.2/.4 at runtime) cannot be known at preview.",
)
def secret_rotation_interval(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    days = r.get("rotationRules.automaticallyAfterDays")
    schedule = r.get("rotationRules.scheduleExpression")
    if days is UNKNOWN or schedule is UNKNOWN:
        return
    number = as_number(days)
    if number is None and isinstance(schedule, str):
        match = _RATE.fullmatch(schedule.strip())
        if match is None:
            return  # cron schedules rotate at least monthly in practice; not decidable simply
        number = float(match.group(1))
    if number is None or number > cfg["maxDays"]:
        yield f"The secret rotation {r.label} must rotate at least every {cfg['maxDays']} days."
