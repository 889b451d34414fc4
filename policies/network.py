"""VPC, security group and network ACL policies."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import Severity

from . import _tokens as T
from ._meta import integer, resource_policy, stack_policy, string_list
from ._model import Resource, Stack
from ._values import UNKNOWN, as_bool, as_list, as_number, is_set

WORLD = ("0.0.0.0/0", "::/0")
_PROTOCOLS = {"-1": "all", "all": "all", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp",
              "icmp": "icmp", "1": "icmp", "icmpv6": "icmpv6", "58": "icmpv6"}


@dataclass(frozen=True)
class IngressRule:
    """One ingress permission from the world, normalised across the five ways to write it."""

    where: str
    protocol: str
    from_port: int | None
    to_port: int | None
    source: str

    def ports_text(self) -> str:
        if self.protocol == "all":
            return "all protocols and ports"
        if self.from_port is None or self.to_port is None:
            return f"{self.protocol}"
        port = str(self.from_port) if self.from_port == self.to_port else f"{self.from_port}-{self.to_port}"
        return f"{self.protocol} port {port}"


def _protocol(value: Any) -> str:
    if value is UNKNOWN or value is None:
        return "unknown"
    number = as_number(value)
    key = str(int(number)) if number is not None else str(value).lower()
    return _PROTOCOLS.get(key, key)


def _port(value: Any) -> int | None:
    number = as_number(value)
    return int(number) if number is not None else None


def _world_sources(*cidr_values: Any) -> list[str]:
    """World CIDRs among the given inputs; unknown CIDRs come from outputs (VPC/subnet CIDRs), never /0."""
    found = []
    for value in cidr_values:
        for cidr in as_list(value):
            if isinstance(cidr, str) and cidr.strip() in WORLD:
                found.append(cidr.strip())
    return found


def _rule(where: str, protocol: Any, from_port: Any, to_port: Any, source: str) -> IngressRule:
    proto = _protocol(protocol)
    if proto == "all":
        return IngressRule(where, proto, None, None, source)
    return IngressRule(where, proto, _port(from_port), _port(to_port), source)


def security_group_world_ingress(r: Resource) -> list[IngressRule]:
    """World-open ingress of an SG, an SG rule or a VPC ingress rule resource."""
    rules: list[IngressRule] = []
    if r.type in (T.SECURITY_GROUP, T.DEFAULT_SECURITY_GROUP):
        ingress = r.get("ingress")
        for index, item in enumerate(ingress if isinstance(ingress, list) else []):
            if not isinstance(item, dict):
                continue
            for src in _world_sources(item.get("cidrBlocks"), item.get("ipv6CidrBlocks")):
                rules.append(_rule(f"ingress[{index}]", item.get("protocol"), item.get("fromPort"),
                                   item.get("toPort"), src))
    elif r.type == T.SECURITY_GROUP_RULE and r.get("type") == "ingress":
        for src in _world_sources(r.get("cidrBlocks"), r.get("ipv6CidrBlocks")):
            rules.append(_rule("rule", r.get("protocol"), r.get("fromPort"), r.get("toPort"), src))
    elif r.type == T.SG_INGRESS_RULE:
        for src in _world_sources(r.get("cidrIpv4"), r.get("cidrIpv6")):
            rules.append(_rule("rule", r.get("ipProtocol"), r.get("fromPort"), r.get("toPort"), src))
    return rules


def _within(rule: IngressRule, protocols: Iterable[str], ports: set[int]) -> bool:
    if rule.protocol not in protocols or rule.from_port is None or rule.to_port is None:
        return False
    if rule.to_port < rule.from_port or rule.to_port - rule.from_port + 1 > len(ports):
        return False
    return all(p in ports for p in range(rule.from_port, rule.to_port + 1))


def _parse_ranges(policy: str, ranges: Iterable[str]) -> set[int]:
    ports: set[int] = set()
    for text in ranges:
        lo_text, _, hi_text = text.partition("-")
        try:
            lo, hi = int(lo_text), int(hi_text or lo_text)
        except ValueError as exc:
            raise ValueError(f"policy '{policy}' setting 'allowedPortRanges' has a bad range {text!r} "
                             "(expected 'from-to')") from exc
        ports.update(range(max(lo, 0), min(hi, 65535) + 1))
    return ports


@resource_policy(
    name="security-group-no-public-ingress",
    description="Security groups must not admit 0.0.0.0/0 or ::/0 except TCP on the allowed public ports.",
    severity=Severity.CRITICAL,
    category="exposure",
    controls=("EC2.18", "EC2.19", "EC2.53", "EC2.54", "EC2.13", "EC2.14", "CIS3 5.2", "CIS3 5.3",
              "AwsSolutions-EC23"),
    remediation="Restrict the source to a security group, prefix list or private CIDR, or open only TCP on "
    "an allowed port (default 443).",
    resource_types=(T.SECURITY_GROUP, T.DEFAULT_SECURITY_GROUP, T.SECURITY_GROUP_RULE, T.SG_INGRESS_RULE),
    guarantee=True,
    config={"allowedPorts": {"type": "array", "items": {"type": "integer"},
                             "description": "TCP ports that may be open to the internet.", "default": [443]}},
    preview_note="CIDRs computed from outputs (unknown at preview) are never the world CIDR literals.",
)
def security_group_no_public_ingress(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    allowed = {int(p) for p in cfg["allowedPorts"]}
    for rule in security_group_world_ingress(r):
        if not _within(rule, ("tcp",), allowed):
            where = f" {rule.where}" if rule.where != "rule" else ""
            yield (f"The security group rule {r.label}{where} admits {rule.source} on {rule.ports_text()}; "
                   f"only TCP ports {sorted(allowed)} may be open to the internet.")


def nacl_world_ingress(r: Resource) -> list[IngressRule]:
    rules: list[IngressRule] = []
    if r.type in (T.NETWORK_ACL, T.DEFAULT_NETWORK_ACL):
        ingress = r.get("ingress")
        for index, item in enumerate(ingress if isinstance(ingress, list) else []):
            if not isinstance(item, dict) or str(item.get("action", "")).lower() != "allow":
                continue
            for src in _world_sources(item.get("cidrBlock"), item.get("ipv6CidrBlock")):
                rules.append(_rule(f"ingress[{index}]", item.get("protocol"), item.get("fromPort"),
                                   item.get("toPort"), src))
    elif r.type == T.NETWORK_ACL_RULE:
        if as_bool(r.get("egress")) is True or str(r.get("ruleAction") or "").lower() != "allow":
            return rules
        for src in _world_sources(r.get("cidrBlock"), r.get("ipv6CidrBlock")):
            rules.append(_rule("rule", r.get("protocol"), r.get("fromPort"), r.get("toPort"), src))
    return rules


@resource_policy(
    name="nacl-no-public-ingress",
    description="Network ACLs must not allow 0.0.0.0/0 or ::/0 inbound except on the allowed ports.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("EC2.21", "CIS3 5.1", "AwsSolutions-VPC3"),
    remediation="Allow world ingress only for TCP/UDP on the allowed ports (default 443) and the configured "
    "return-traffic ranges; deny or narrow everything else.",
    resource_types=(T.NETWORK_ACL, T.DEFAULT_NETWORK_ACL, T.NETWORK_ACL_RULE),
    guarantee=True,
    config={
        "allowedPorts": {"type": "array", "items": {"type": "integer"},
                         "description": "Ports that may be open to the internet.", "default": [443]},
        "allowedPortRanges": string_list(
            "Extra 'from-to' ranges allowed from the world: the return traffic of a stateless NACL in front of "
            "NAT gateways and Lambda ENIs. The default is what the platform's network builds (1024-65535, the "
            "ephemeral ports; SSH, 22, stays closed).", ["1024-65535"]),
    },
)
def nacl_no_public_ingress(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    allowed = {int(p) for p in cfg["allowedPorts"]} | _parse_ranges("nacl-no-public-ingress",
                                                                      cfg["allowedPortRanges"])
    for rule in nacl_world_ingress(r):
        if not _within(rule, ("tcp", "udp"), allowed):
            where = f" {rule.where}" if rule.where != "rule" else ""
            yield (f"The network ACL {r.label}{where} allows {rule.source} on {rule.ports_text()}; only the "
                   "allowed ports and ranges may be open to the internet.")


@stack_policy(
    name="vpc-default-security-group-closed",
    description="The default security group of every VPC must allow no traffic.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("EC2.2", "CIS3 5.4"),
    remediation="Adopt it with `aws.ec2.DefaultSecurityGroup(vpc_id=vpc.id)` (no ingress or egress: adoption "
    "removes the existing rules) and add no rule resources to it.",
)
def vpc_default_security_group_closed(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    defaults = stack.of_type(T.DEFAULT_SECURITY_GROUP)
    for vpc in stack.of_type(T.VPC):
        mine = [d for d in defaults if stack.refers_to(d, "vpcId", vpc, ["id"])]
        if not mine:
            yield (f"The VPC {vpc.label} has no DefaultSecurityGroup resource emptying its default security "
                   "group (AWS creates it with allow-all egress and self ingress).", vpc.urn)
        for dsg in mine:
            # Adopting the default SG removes every rule it has and creates only the declared ones, so an
            # absent list means no rules (pulumi-aws DefaultSecurityGroup docs).
            for key in ("ingress", "egress"):
                if isinstance(dsg.get(key), list) and dsg.get(key):
                    yield f"The default security group {dsg.label} must declare no {key} rules.", dsg.urn
    rule_types = [T.SECURITY_GROUP_RULE, T.SG_INGRESS_RULE, T.SG_EGRESS_RULE]
    for dsg in defaults:
        for rule in stack.referrers(dsg, rule_types, "securityGroupId", ["id"]):
            yield f"The rule {rule.label} adds traffic to the default security group {dsg.label}.", rule.urn
    for vpc in stack.of_type(T.VPC):
        for rule in stack.of_type(*rule_types):
            if vpc.urn in rule.prop_deps.get("securityGroupId", set()):
                yield (f"The rule {rule.label} targets the default security group of VPC {vpc.label}.",
                       rule.urn)


@stack_policy(
    name="vpc-flow-logs",
    description="Every VPC must have flow logs capturing rejected (or all) traffic.",
    severity=Severity.MEDIUM,
    category="operations",
    controls=("EC2.6", "CIS3 3.7", "AwsSolutions-VPC7"),
    remediation="Create an `aws.ec2.FlowLog` with `vpc_id=vpc.id` and `traffic_type` ALL or REJECT.",
)
def vpc_flow_logs(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for vpc in stack.of_type(T.VPC):
        logs = [f for f in stack.referrers(vpc, [T.FLOW_LOG], "vpcId", ["id"])
                if f.get("trafficType") in ("ALL", "REJECT", UNKNOWN)]
        if not logs:
            yield f"The VPC {vpc.label} has no flow log with trafficType ALL or REJECT.", vpc.urn


@resource_policy(
    name="subnet-no-auto-public-ip",
    description="Subnets must not auto-assign public IP addresses.",
    severity=Severity.MEDIUM,
    category="exposure",
    controls=("EC2.15",),
    remediation="Leave `map_public_ip_on_launch` and `assign_ipv6_address_on_creation` false; NAT gateways "
    "get their Elastic IP explicitly.",
    resource_types=(T.SUBNET,),
)
def subnet_no_auto_public_ip(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    for key in ("mapPublicIpOnLaunch", "assignIpv6AddressOnCreation"):
        if as_bool(r.get(key)) is True:
            yield f"The subnet {r.label} sets {key}=true; instances launched there get public addresses."


@stack_policy(
    name="nacl-in-use",
    description="Network ACLs should be associated with a subnet.",
    severity=Severity.LOW,
    category="operations",
    controls=("EC2.16",),
    remediation="Set `subnet_ids` on the network ACL or add a NetworkAclAssociation; delete unused ACLs.",
)
def nacl_in_use(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for acl in stack.of_type(T.NETWORK_ACL):
        if is_set(acl.get("subnetIds")):
            continue
        if not stack.referrers(acl, [T.NETWORK_ACL_ASSOCIATION], "networkAclId", ["id"]):
            yield f"The network ACL {acl.label} is not associated with any subnet.", acl.urn


@stack_policy(
    name="eip-in-use",
    description="Elastic IPs should be attached (to a NAT gateway, instance or network interface).",
    severity=Severity.LOW,
    category="resilience",
    controls=("EC2.12",),
    remediation="Reference the EIP from a NAT gateway's `allocation_id` or attach it; release unused EIPs.",
)
def eip_in_use(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    for eip in stack.of_type(T.EIP):
        if is_set(eip.get("instance")) or is_set(eip.get("networkInterface")):
            continue
        if not stack.referrers(eip, [T.NAT_GATEWAY], "allocationId", ["id", "allocationId"]):
            yield f"The Elastic IP {eip.label} is not attached to anything.", eip.urn


@stack_policy(
    name="lambda-vpc-multi-az",
    description="Lambda functions in a VPC must use subnets in at least two Availability Zones.",
    severity=Severity.MEDIUM,
    category="resilience",
    controls=("Lambda.5",),
    remediation="Give `vpc_config.subnet_ids` subnets from two or more AZs.",
    config={"minAvailabilityZones": integer("Minimum distinct AZs among the function's subnets.", 2, 1)},
    preview_note="Subnet ids are unknown at preview: each subnet id is matched to a Subnet through the "
    "property dependencies of vpcConfig; if they cannot be resolved the count is not enforced.",
)
def lambda_vpc_multi_az(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    subnets = stack.of_type(T.SUBNET)
    for fn in stack.of_type(T.LAMBDA_FUNCTION):
        ids = fn.get("vpcConfig.subnetIds")
        if not is_set(ids):
            continue
        linked = [s for s in subnets if s.urn in fn.prop_deps.get("vpcConfig", set())
                  or (isinstance(ids, list) and s.get("id") in ids)]
        if not linked:
            continue  # subnets not created by this stack: not decidable here
        zones = {s.get("availabilityZone") or s.get("availabilityZoneId") for s in linked}
        if UNKNOWN in zones:
            continue
        if len(zones) < cfg["minAvailabilityZones"]:
            yield (f"The Lambda function {fn.label} uses subnets in {len(zones)} Availability Zone(s); "
                   f"at least {cfg['minAvailabilityZones']} are required.", fn.urn)
