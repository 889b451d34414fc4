"""VPC, security group and network ACL policies."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from . import _net
from . import _tokens as T
from ._meta import integer, resource_policy, stack_policy, string_list
from ._model import Resource, Stack
from ._values import UNKNOWN, as_bool, as_list, as_number, is_set

Finding = tuple[str, str | None]
SG_TYPES = (T.SECURITY_GROUP, T.DEFAULT_SECURITY_GROUP)
SG_RULE_TYPES = (T.SECURITY_GROUP_RULE, T.SG_INGRESS_RULE, T.SG_EGRESS_RULE)


def _networks(*values: Any) -> list[_net.Network]:
    return [n for value in values for item in as_list(value) if (n := _net.network(item)) is not None]


def _prefix_list_networks(stack: Stack, holder: Resource, field: str, ids: Any) -> list[_net.Network]:
    """CIDRs of the stack's managed prefix lists that ``ids`` (an input of ``holder``) names.

    The input is linked to a list through its property dependencies (``field``): the id is unknown at preview,
    and a list's id is no input the pack could compare with.  Lists the stack does not declare (AWS-managed,
    shared) are not the world as far as this stack can tell.
    """
    if not [i for i in as_list(ids) if i is not None]:
        return []
    found: list[_net.Network] = []
    for pl in stack.of_type(T.MANAGED_PREFIX_LIST):
        if pl.urn not in holder.prop_deps.get(field, set()) and pl.get("id") not in as_list(ids):
            continue
        entries = pl.get("entries")
        found += _networks(*[e.get("cidr") for e in entries if isinstance(e, dict)] if isinstance(entries, list)
                           else [])
        found += _networks(*[e.get("cidr") for e in stack.referrers(pl, [T.MANAGED_PREFIX_LIST_ENTRY],
                                                                   "prefixListId", ["id"])])
    return found


def _ambiguous_prefix_lists(entries: list[Any]) -> bool:
    """Inline rules share one property dependency set: with several entries naming prefix lists, which list
    belongs to which entry cannot be told (the lists' ids are outputs, not inputs the pack sees)."""
    return sum(1 for e in entries if isinstance(e, dict) and as_list(e.get("prefixListIds"))) > 1


def rule_permissions(stack: Stack, r: Resource, direction: str) -> list[_net.Permission]:
    """The CIDR permissions (``direction`` 'ingress' or 'egress') an SG, SG rule or VPC rule resource writes."""
    perms: list[_net.Permission] = []
    if r.type in SG_TYPES:
        entries = r.get(direction)
        entries = entries if isinstance(entries, list) else []
        ambiguous = _ambiguous_prefix_lists(entries)
        for index, item in enumerate(entries):
            if not isinstance(item, dict):
                continue
            sources = _networks(item.get("cidrBlocks"), item.get("ipv6CidrBlocks"))
            if not ambiguous:
                sources += _prefix_list_networks(stack, r, direction, item.get("prefixListIds"))
            perms += [_net.permission(item.get("protocol"), item.get("fromPort"), item.get("toPort"), src,
                                      f"{r.label} {direction}[{index}]", r.urn) for src in sources]
    elif r.type == T.SECURITY_GROUP_RULE and r.get("type") == direction:
        sources = _networks(r.get("cidrBlocks"), r.get("ipv6CidrBlocks"))
        sources += _prefix_list_networks(stack, r, "prefixListIds", r.get("prefixListIds"))
        perms += [_net.permission(r.get("protocol"), r.get("fromPort"), r.get("toPort"), src, r.label, r.urn)
                  for src in sources]
    elif r.type == (T.SG_INGRESS_RULE if direction == "ingress" else T.SG_EGRESS_RULE):
        sources = _networks(r.get("cidrIpv4"), r.get("cidrIpv6"))
        sources += _prefix_list_networks(stack, r, "prefixListId", r.get("prefixListId"))
        perms += [_net.permission(r.get("ipProtocol"), r.get("fromPort"), r.get("toPort"), src, r.label, r.urn)
                  for src in sources]
    return perms


def security_groups_with_rules(stack: Stack) -> list[list[Resource]]:
    """Each security group of the stack with the rule resources that add to it; rule resources for a group the
    stack does not declare are grouped by its literal id, or stand alone when it is unknown."""
    groups: list[list[Resource]] = []
    claimed: set[str] = set()
    for sg in stack.of_type(*SG_TYPES):
        rules = stack.referrers(sg, SG_RULE_TYPES, "securityGroupId", ["id"])
        claimed |= {rule.urn for rule in rules}
        groups.append([sg, *rules])
    by_id: dict[str, list[Resource]] = {}
    for rule in stack.of_type(*SG_RULE_TYPES):
        if rule.urn in claimed:
            continue
        target = rule.get("securityGroupId")
        if isinstance(target, str) and target:
            by_id.setdefault(target, []).append(rule)
        else:
            groups.append([rule])
    return groups + list(by_id.values())


def _ports_allowed(exposure: _net.Exposure, protocols: Iterable[str], ports: set[int]) -> bool:
    if exposure.protocol not in protocols:
        return False
    return all(p in ports for p in range(exposure.low, exposure.high + 1))


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


def _exposure_message(kind: str, exposure: _net.Exposure, rule: str) -> str:
    first = exposure.through[0]
    if len(exposure.through) == 1:
        return f"The {kind} {first.where} admits {first.source} (the whole internet) on {exposure.ports_text()}; {rule}"
    return (f"The {kind}s admit the whole internet ({exposure.world}) on {exposure.ports_text()} through "
            f"{exposure.sources_text()}; {rule}")


@stack_policy(
    name="security-group-no-public-ingress",
    description="Security groups must not admit the whole internet (0.0.0.0/0, ::/0, or rules whose union is "
    "it, directly or through a managed prefix list) except TCP on the allowed public ports.",
    severity=Severity.CRITICAL,
    category="exposure",
    controls=("EC2.18", "EC2.19", "EC2.53", "EC2.54", "EC2.13", "EC2.14", "CIS3 5.2", "CIS3 5.3",
              "AwsSolutions-EC23", "CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_260", "CKV_AWS_277"),
    remediation="Restrict the source to a security group, prefix list or private CIDR, or open only TCP on "
    "an allowed port (default 443). CIDRs are compared as networks: `0::/0` is `::/0`, and `0.0.0.0/1` plus "
    "`128.0.0.0/1` is the world.",
    guarantee=True,
    config={"allowedPorts": {"type": "array", "items": {"type": "integer"},
                             "description": "TCP ports that may be open to the internet.", "default": [443]}},
    preview_note="CIDRs computed from outputs (unknown at preview) are never the world; rules of one group are "
    "joined through the property dependencies of securityGroupId, prefix lists through those of their ids.",
)
def security_group_no_public_ingress(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[Finding]:
    allowed = {int(p) for p in cfg["allowedPorts"]}
    rule = f"only TCP ports {sorted(allowed)} may be open to the internet."
    for group in security_groups_with_rules(stack):
        perms = [p for member in group for p in rule_permissions(stack, member, "ingress")]
        for exposure in _net.exposures(perms):
            if _ports_allowed(exposure, ("tcp",), allowed):
                continue
            message = _exposure_message("security group rule", exposure, rule)
            for owner in dict.fromkeys(p.owner for p in exposure.through):
                yield message, owner


@resource_policy(
    name="security-group-no-unrestricted-egress",
    description="Security groups should not allow all traffic to the whole internet.",
    severity=Severity.LOW,
    category="operations",
    controls=("CKV_AWS_382",),
    remediation="Allow egress only to the destinations and ports the workload needs (e.g. TCP 443 to a VPC "
    "endpoint's security group or a prefix list); the provider removes AWS's default allow-all egress rule "
    "when the group declares none.",
    resource_types=(*SG_TYPES, T.SECURITY_GROUP_RULE, T.SG_EGRESS_RULE),
)
def security_group_no_unrestricted_egress(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    perms = rule_permissions(Stack([r]), r, "egress")
    for exposure in _net.exposures(perms):
        if exposure.protocol == "all":
            yield (f"The security group rule {exposure.through[0].where} allows all traffic to "
                   f"{exposure.sources_text()} (the whole internet).")


def nacl_permissions(r: Resource) -> list[_net.Permission]:
    """Ingress entries of a network ACL (inline) or one NetworkAclRule, in rule-number order."""
    perms: list[_net.Permission] = []
    if r.type in (T.NETWORK_ACL, T.DEFAULT_NETWORK_ACL):
        ingress = r.get("ingress")
        for index, item in enumerate(ingress if isinstance(ingress, list) else []):
            if not isinstance(item, dict):
                continue
            allow = str(item.get("action", "")).lower() == "allow"
            order = as_number(item.get("ruleNo")) or 0
            perms += [_net.permission(item.get("protocol"), item.get("fromPort"), item.get("toPort"), src,
                                      f"{r.label} ingress[{index}]", r.urn, allow, order)
                      for src in _networks(item.get("cidrBlock"), item.get("ipv6CidrBlock"))]
    elif r.type == T.NETWORK_ACL_RULE and as_bool(r.get("egress")) is not True:
        allow = str(r.get("ruleAction") or "").lower() == "allow"
        perms += [_net.permission(r.get("protocol"), r.get("fromPort"), r.get("toPort"), src, r.label, r.urn,
                                  allow, as_number(r.get("ruleNumber")) or 0)
                  for src in _networks(r.get("cidrBlock"), r.get("ipv6CidrBlock"))]
    return perms


@resource_policy(
    name="nacl-no-public-ingress",
    description="Network ACLs must not allow the whole internet inbound except on the allowed ports.",
    severity=Severity.HIGH,
    category="exposure",
    controls=("EC2.21", "CIS3 5.1", "AwsSolutions-VPC3", "CKV_AWS_229", "CKV_AWS_230", "CKV_AWS_231",
              "CKV_AWS_232"),
    remediation="Allow world ingress only for TCP/UDP on the allowed ports (default 443) and the configured "
    "return-traffic ranges; deny or narrow everything else. Entries are evaluated as AWS does: by rule number, "
    "the first match deciding, CIDRs compared as networks.",
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
    preview_note="Separate NetworkAclRule resources are judged one by one (a union across them is not seen).",
)
def nacl_no_public_ingress(r: Resource, cfg: Mapping[str, Any]) -> Iterator[str]:
    allowed = {int(p) for p in cfg["allowedPorts"]} | _parse_ranges("nacl-no-public-ingress",
                                                                      cfg["allowedPortRanges"])
    for exposure in _net.first_match_exposures(nacl_permissions(r)):
        if not _ports_allowed(exposure, ("tcp", "udp"), allowed):
            yield _exposure_message("network ACL entry", exposure,
                                    "only the allowed ports and ranges may be open to the internet.")


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
    vpcs = stack.of_type(T.VPC)
    in_stack = {d.urn for d in defaults if any(stack.refers_to(d, "vpcId", vpc, ["id"]) for vpc in vpcs)}
    for dsg in defaults:
        if dsg.urn in in_stack:
            continue
        # The default group of a VPC this stack does not own (vpc_id a literal, a stack reference, a lookup):
        # adopting it with rules opens that VPC's default group.
        for key in ("ingress", "egress"):
            if isinstance(dsg.get(key), list) and dsg.get(key):
                yield (f"The default security group {dsg.label} (VPC {dsg.get('vpcId')}) is given {key} rules; "
                       "the default group must allow no traffic.", dsg.urn)
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
