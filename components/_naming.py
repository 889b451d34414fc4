"""Explicit physical names (pure; no Pulumi).

Most resources are autonamed. Where AWS needs a name we must know in advance (a CloudTrail trail whose ARN is in
the key and bucket policies, KMS aliases, the WAF log group that must start with ``aws-waf-logs-``) the name is
derived here, so that dev and prod in one account never collide and the limits AWS puts on length hold.
"""

from __future__ import annotations

import hashlib
import re

_ALLOWED = re.compile(r"[^a-zA-Z0-9-]")


def physical_name(prefix: str, purpose: str, max_len: int = 64) -> str:
    """``<prefix>-<purpose>``, shortened with a stable hash suffix when longer than ``max_len``."""
    if max_len < 16:
        raise ValueError("max_len must leave room for a hash suffix (>= 16)")
    name = _ALLOWED.sub("-", f"{prefix}-{purpose}").strip("-")
    if len(name) <= max_len:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: max_len - 9].rstrip('-')}-{digest}"


def trail_name(prefix: str) -> str:
    return physical_name(prefix, "trail", 128)


def alert_topic_name(prefix: str) -> str:
    # Named, not autonamed: the logs key policy scopes EventBridge to this topic's ARN (SNS encryption context)
    # before the topic exists.
    return physical_name(prefix, "alerts", 256)


def order_bus_name(prefix: str) -> str:
    # Named: the data key policy scopes EventBridge's bus encryption to this bus's ARN before the bus exists.
    return physical_name(prefix, "orders", 256)


def waf_log_group_name(prefix: str) -> str:
    # AWS requires this prefix for a log group that receives WAF logs.
    return f"aws-waf-logs-{physical_name(prefix, 'api', 400)}"


def kms_alias(prefix: str, purpose: str) -> str:
    return f"alias/{physical_name(prefix, purpose, 200)}"
