"""The stack's KMS keys: customer managed, enabled, rotating (KMS.4 / CIS 3.6)."""

from __future__ import annotations

from audit.aws import AwsCallError
from audit.checks.context import AuditContext
from audit.model import Check, Result, Severity

KEY_CUSTOMER_MANAGED = Check(
    "kms-key-customer-managed", "Stack KMS key is an enabled customer managed key", Severity.MEDIUM,
    "Export a kms.Key the stack owns (not an alias/aws/* key) and keep it Enabled.",
)
KEY_ROTATION = Check(
    "kms-key-rotation", "Stack KMS key rotates automatically", Severity.MEDIUM,
    "Set enable_key_rotation=True on the kms.Key.", ("KMS.4", "CIS3 3.6"),
)
CHECKS = (KEY_CUSTOMER_MANAGED, KEY_ROTATION)


def run(ctx: AuditContext) -> list[Result]:
    results: list[Result] = []
    for purpose, key_arn in ctx.outputs.keys.model_dump().items():
        results.extend(_key(ctx, purpose, key_arn))
    return results


def _key(ctx: AuditContext, purpose: str, key_arn: str) -> list[Result]:
    try:
        meta = ctx.key_metadata(key_arn)
        managed, why = ctx.customer_managed(key_arn)
    except AwsCallError as exc:
        return [KEY_CUSTOMER_MANAGED.errored(key_arn, str(exc)), KEY_ROTATION.errored(key_arn, str(exc))]
    state = meta.get("KeyState")
    if not managed:
        ownership = KEY_CUSTOMER_MANAGED.failed(key_arn, f"The {purpose} key is not customer managed: {why}.")
    elif state != "Enabled":
        ownership = KEY_CUSTOMER_MANAGED.failed(key_arn, f"The {purpose} key is in state {state}, not Enabled.")
    else:
        ownership = KEY_CUSTOMER_MANAGED.passed(key_arn, f"The {purpose} key is an enabled {why}.")
    try:
        rotating = bool(ctx.aws.call("kms", "get_key_rotation_status", KeyId=key_arn).get("KeyRotationEnabled"))
    except AwsCallError as exc:
        return [ownership, KEY_ROTATION.errored(key_arn, str(exc))]
    rotation = KEY_ROTATION.judge(key_arn, rotating, f"The {purpose} key rotates automatically.",
                                  f"Automatic rotation is off for the {purpose} key.")
    return [ownership, rotation]
