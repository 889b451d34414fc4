"""OpenSearch and Elasticsearch domains, and OpenSearch Serverless: transport encryption, network placement,
fine-grained access control (encryption at rest is in data-encrypted-with-cmk)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import resource_policy
from ._model import Resource
from ._values import UNKNOWN, as_bool, is_set

_TLS12 = "Policy-Min-TLS-1-2"


@resource_policy(
    name="opensearch-encryption-in-transit",
    description="OpenSearch/Elasticsearch domains must encrypt node-to-node traffic and require HTTPS with TLS 1.2+.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("Opensearch.3", "Opensearch.8", "ES.3", "ES.8", "CKV_AWS_6", "CKV_AWS_83", "CKV_AWS_228"),
    remediation="Set `node_to_node_encryption={'enabled': True}` and `domain_endpoint_options={'enforce_https': "
    "True, 'tls_security_policy': 'Policy-Min-TLS-1-2-PFS-2023-10'}`.",
    resource_types=T.SEARCH_DOMAINS,
)
def opensearch_encryption_in_transit(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    node = r.get("nodeToNodeEncryption.enabled")
    if node is not UNKNOWN and as_bool(node) is not True:
        yield f"The search domain {r.label} does not encrypt node-to-node traffic."
    https = r.get("domainEndpointOptions.enforceHttps")
    if https is not UNKNOWN and as_bool(https) is not True:
        yield f"The search domain {r.label} accepts plain HTTP (domainEndpointOptions.enforceHttps not true)."
    policy = r.get("domainEndpointOptions.tlsSecurityPolicy")
    if policy is not UNKNOWN and not (isinstance(policy, str) and policy.startswith(_TLS12)):
        yield f"The search domain {r.label} allows TLS 1.0/1.1 (tlsSecurityPolicy {policy or 'absent'})."


def _serverless_network_public(r: Resource) -> bool:
    try:
        document = json.loads(r.get("policy")) if isinstance(r.get("policy"), str) else None
    except json.JSONDecodeError:
        return False
    rules = document if isinstance(document, list) else [document]
    return any(isinstance(rule, dict) and as_bool(rule.get("AllowFromPublic")) is True for rule in rules)


@resource_policy(
    name="opensearch-in-vpc",
    description="OpenSearch/Elasticsearch domains must be in a VPC, and OpenSearch Serverless collections must not "
    "allow access from the public internet.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("Opensearch.2", "ES.2", "CKV_AWS_137"),
    remediation="Set `vpc_options` with private `subnet_ids` and `security_group_ids`; for Serverless, a network "
    "security policy with `AllowFromPublic: false` and `SourceVPCEs`.",
    resource_types=(*T.SEARCH_DOMAINS, T.OPENSEARCH_SERVERLESS_SECURITY_POLICY),
)
def opensearch_in_vpc(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    if r.type == T.OPENSEARCH_SERVERLESS_SECURITY_POLICY:
        if r.get("type") == "network" and _serverless_network_public(r):
            yield f"The OpenSearch Serverless network policy {r.label} allows access from the public internet."
        return
    if not is_set(r.get("vpcOptions.subnetIds")):
        yield f"The search domain {r.label} has a public endpoint (no vpcOptions.subnetIds)."


@resource_policy(
    name="opensearch-fine-grained-access",
    description="OpenSearch/Elasticsearch domains must enable fine-grained access control without anonymous access.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("Opensearch.7", "CKV2_AWS_52"),
    remediation="Set `advanced_security_options={'enabled': True, 'anonymous_auth_enabled': False, ...}` with a "
    "master user ARN or the internal user database.",
    resource_types=T.SEARCH_DOMAINS,
)
def opensearch_fine_grained_access(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    enabled = r.get("advancedSecurityOptions.enabled")
    if enabled is not UNKNOWN and as_bool(enabled) is not True:
        yield f"The search domain {r.label} has no fine-grained access control (advancedSecurityOptions.enabled)."
    elif as_bool(r.get("advancedSecurityOptions.anonymousAuthEnabled")) is True:
        yield f"The search domain {r.label} lets anonymous users in (anonymousAuthEnabled)."
