"""What every check needs: the AWS facade, the stack outputs and the run options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit.aws import Aws
from audit.outputs import StackOutputs

# GuardDuty protections this workload relies on (Lambda, RDS, S3, EBS malware; GuardDuty.6/.9/.10/.8).
DEFAULT_GUARDDUTY_FEATURES = ("S3_DATA_EVENTS", "RDS_LOGIN_EVENTS", "LAMBDA_NETWORK_LOGS", "EBS_MALWARE_PROTECTION")


@dataclass
class AuditContext:
    aws: Aws
    outputs: StackOutputs
    production: bool
    allow_unauthenticated: frozenset[str] = frozenset()
    guardduty_features: tuple[str, ...] = DEFAULT_GUARDDUTY_FEATURES
    _keys: dict[str, dict[str, Any]] = field(default_factory=dict)

    def key_metadata(self, key_id: str) -> dict[str, Any]:
        """kms:DescribeKey, cached: several resources usually share one key."""
        if key_id not in self._keys:
            self._keys[key_id] = self.aws.call("kms", "describe_key", KeyId=key_id)["KeyMetadata"]
        return self._keys[key_id]

    def customer_managed(self, key_id: str | None) -> tuple[bool, str]:
        """(is a customer managed key, why not). `alias/aws/*` names are reserved for AWS managed keys."""
        if not key_id:
            return False, "no KMS key is configured"
        if key_id.startswith("alias/aws/") or ":alias/aws/" in key_id:
            return False, f"{key_id} is an AWS managed key"
        meta = self.key_metadata(key_id)
        if meta.get("KeyManager") != "CUSTOMER":
            return False, f"{key_id} is managed by {meta.get('KeyManager')}, not the customer"
        return True, f"customer managed key {meta.get('Arn', key_id)}"
