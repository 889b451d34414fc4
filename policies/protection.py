"""Protection of stateful resources against deletion (required where the stack config asks: prod)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import NotApplicable, boolean, integer, resource_policy, string_list
from ._model import Resource
from ._values import UNKNOWN, as_bool, as_number, is_set

_STATEFUL = [T.RDS_INSTANCE, T.RDS_CLUSTER, T.DYNAMODB_TABLE, T.KMS_KEY, T.SECRET, T.S3_BUCKET, T.S3_BUCKET_V2]


@resource_policy(
    name="stateful-resource-protection",
    description="Stateful resources must be protected against deletion where the environment requires it.",
    severity=Severity.HIGH,
    category="resilience",
    controls=("RDS.7", "RDS.8", "DynamoDB.6", "KMS.3", "AwsSolutions-RDS10"),
    remediation="Set the resource option `protect=True`; RDS `deletion_protection=True`, "
    "`skip_final_snapshot=False` with `final_snapshot_identifier`; KMS `deletion_window_in_days` >= the "
    "minimum; Secrets Manager `recovery_window_in_days` >= the minimum; DynamoDB "
    "`deletion_protection_enabled=True`.",
    resource_types=tuple(_STATEFUL),
    guarantee=True,
    config={
        "requireProtection": boolean("Whether this environment requires protection (true in prod).", False),
        "protectedTypes": string_list("Type tokens that must carry the `protect` resource option.", _STATEFUL),
        "minKmsDeletionWindowDays": integer("Minimum KMS key deletion window (7-30).", 30, 7),
        "minSecretRecoveryWindowDays": integer("Minimum Secrets Manager recovery window (7-30).", 7, 7),
    },
    preview_note="KMS.3 (key pending deletion) is runtime state; `protect` and the deletion window are its "
    "preview-time proxy. In environments with requireProtection=false the policy reports not-applicable.",
)
def stateful_resource_protection(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if not cfg["requireProtection"]:
        raise NotApplicable("this environment does not require deletion protection (requireProtection=false)")
    if r.type in cfg["protectedTypes"] and not r.protect:
        yield f"The {r.label} must have the resource option protect=True in this environment."
    if r.type in (T.RDS_INSTANCE, T.RDS_CLUSTER):
        if r.get("deletionProtection") is not UNKNOWN and as_bool(r.get("deletionProtection")) is not True:
            yield f"The {r.label} must set deletionProtection=true."
        if as_bool(r.get("skipFinalSnapshot")) is True:
            yield f"The {r.label} must not skip the final snapshot (skipFinalSnapshot=true)."
        elif not is_set(r.get("finalSnapshotIdentifier")):
            yield f"The {r.label} must set finalSnapshotIdentifier so deletion keeps a final snapshot."
    elif r.type == T.KMS_KEY:
        window = r.get("deletionWindowInDays")
        days = as_number(window) if window is not None else 30.0
        if window is not UNKNOWN and (days is None or days < cfg["minKmsDeletionWindowDays"]):
            yield (f"The KMS key {r.label} has deletionWindowInDays {window}; at least "
                   f"{cfg['minKmsDeletionWindowDays']} are required.")
    elif r.type == T.SECRET:
        window = r.get("recoveryWindowInDays")
        days = as_number(window) if window is not None else 30.0
        if window is not UNKNOWN and (days is None or days < cfg["minSecretRecoveryWindowDays"]):
            yield (f"The secret {r.label} has recoveryWindowInDays {window} (0 deletes immediately); at least "
                   f"{cfg['minSecretRecoveryWindowDays']} are required.")
    elif r.type == T.DYNAMODB_TABLE:
        value = r.get("deletionProtectionEnabled")
        if value is not UNKNOWN and as_bool(value) is not True:
            yield f"The DynamoDB table {r.label} must set deletionProtectionEnabled=true."
