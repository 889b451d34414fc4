"""ElastiCache: encryption in transit and authentication (encryption at rest is in data-encrypted-with-cmk)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import resource_policy
from ._model import Resource
from ._values import UNKNOWN, as_bool, is_set


@resource_policy(
    name="elasticache-encryption-in-transit",
    description="ElastiCache replication groups and Memcached clusters must require TLS.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("ElastiCache.5", "CKV_AWS_30"),
    remediation="Set `transit_encryption_enabled=True` (and leave `transit_encryption_mode` at `required`); "
    "serverless caches always use TLS.",
    resource_types=(T.ELASTICACHE_REPLICATION_GROUP, T.ELASTICACHE_CLUSTER),
)
def elasticache_encryption_in_transit(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == T.ELASTICACHE_CLUSTER and (is_set(r.get("replicationGroupId")) or r.get("engine") != "memcached"):
        return  # a member of a replication group (checked there); Redis/Valkey clusters need a replication group
    enabled = r.get("transitEncryptionEnabled")
    if enabled is not UNKNOWN and as_bool(enabled) is not True:
        yield f"The {r.label} does not encrypt traffic (transitEncryptionEnabled is {enabled or 'absent: false'})."
    elif r.get("transitEncryptionMode") == "preferred":
        yield f"The {r.label} still accepts plaintext clients (transitEncryptionMode preferred)."


def _no_password_user(r: Resource) -> bool:
    return as_bool(r.get("noPasswordRequired")) is True or r.get("authenticationMode.type") == "no-password-required"


@resource_policy(
    name="elasticache-authentication",
    description="ElastiCache (Redis OSS / Valkey) must authenticate clients: an AUTH token or RBAC user group, and "
    "no user without a password.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("ElastiCache.6", "CKV_AWS_31"),
    remediation="Give the replication group `auth_token` (or `auth_token_wo`) or `user_group_ids` (serverless: "
    "`user_group_id`); ElastiCache users must use passwords or IAM authentication.",
    resource_types=(T.ELASTICACHE_REPLICATION_GROUP, T.ELASTICACHE_SERVERLESS, T.ELASTICACHE_USER),
)
def elasticache_authentication(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == T.ELASTICACHE_USER:
        if _no_password_user(r):
            yield f"The ElastiCache user {r.label} needs no password: anyone who reaches the cache is that user."
        return
    if r.type == T.ELASTICACHE_SERVERLESS:
        if r.get("engine") != "memcached" and not is_set(r.get("userGroupId")):
            yield f"The serverless cache {r.label} has no user group: every client is the default user."
        return
    if is_set(r.get("globalReplicationGroupId")):
        return  # a member of a global datastore takes the primary's authentication
    if not any(is_set(r.get(k)) for k in ("authToken", "authTokenWo", "userGroupIds")):
        yield f"The {r.label} accepts clients without authentication (no authToken or userGroupIds)."
