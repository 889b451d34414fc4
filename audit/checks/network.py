"""Security groups and network ACLs of the stack's VPC: nothing open to the world beyond the allowed ports
(EC2.18, EC2.19, EC2.53/54, EC2.21 / CIS 5.1-5.3)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from audit.aws import AwsCallError
from audit.checks.context import AuditContext
from audit.model import Check, Result, Severity

SG_PUBLIC_INGRESS = Check(
    "ec2-sg-public-ingress", "Security group allows the internet only on the allowed public ports",
    Severity.HIGH,
    "Remove ingress from 0.0.0.0/0 and ::/0 except TCP on allowed_public_ports; reference security groups "
    "instead of CIDRs inside the VPC.", ("EC2.18", "EC2.19", "EC2.53", "EC2.54"),
)
NACL_PUBLIC_INGRESS = Check(
    "ec2-nacl-public-ingress", "Network ACL allows the internet only on allowed or ephemeral ports",
    Severity.MEDIUM,
    "Replace allow-all or low-port ingress entries from 0.0.0.0/0 or ::/0 by entries for allowed_public_ports "
    "and the ephemeral range 1024-65535.", ("EC2.21", "CIS3 5.1"),
)
CHECKS = (SG_PUBLIC_INGRESS, NACL_PUBLIC_INGRESS)

WORLD = frozenset({"0.0.0.0/0", "::/0"})
# NACLs are stateless: return traffic of outbound connections (NAT, VPC endpoints) arrives on the ephemeral
# range, so a /0 allow for 1024-65535 is required and is not counted as exposure. Stateful SGs still
# guard those ports.
EPHEMERAL = (1024, 65535)
_TCP, _UDP = {"tcp", "6"}, {"udp", "17"}


def run(ctx: AuditContext) -> list[Result]:
    return [*_security_groups(ctx), *_nacls(ctx)]


def _vpc_filter(ctx: AuditContext) -> list[dict[str, Any]]:
    return [{"Name": "vpc-id", "Values": [ctx.outputs.network.vpc_id]}]


def _security_groups(ctx: AuditContext) -> list[Result]:
    allowed = set(ctx.outputs.allowed_public_ports)
    try:
        groups = [g for page in ctx.aws.pages("ec2", "describe_security_groups", Filters=_vpc_filter(ctx))
                  for g in page["SecurityGroups"]]
    except AwsCallError as exc:
        return [SG_PUBLIC_INGRESS.errored(ctx.outputs.network.vpc_id, str(exc))]
    results = []
    for group in groups:
        problems = [p for perm in group.get("IpPermissions", []) for p in _sg_problems(perm, allowed)]
        resource = f"{group['GroupId']} ({group.get('GroupName', '')})"
        results.append(SG_PUBLIC_INGRESS.judge(
            resource, not problems, "No ingress from the internet beyond the allowed ports.",
            "Open to the internet: " + "; ".join(problems) + "."))
    if not results:
        results.append(SG_PUBLIC_INGRESS.failed(ctx.outputs.network.vpc_id,
                                                "No security groups found: the VPC id in the outputs is wrong."))
    return results


def _sg_problems(perm: dict[str, Any], allowed: set[int]) -> Iterable[str]:
    sources = [r.get("CidrIp") for r in perm.get("IpRanges", [])]
    sources += [r.get("CidrIpv6") for r in perm.get("Ipv6Ranges", [])]
    world = sorted(s for s in sources if s in WORLD)
    if not world:
        return []
    protocol = str(perm.get("IpProtocol", "-1")).lower()
    low, high = perm.get("FromPort", 0), perm.get("ToPort", 65535)
    if protocol in _TCP and _within(low, high, allowed):
        return []
    return [f"{protocol} {low}-{high} from {', '.join(world)}"]


def _nacls(ctx: AuditContext) -> list[Result]:
    allowed = set(ctx.outputs.allowed_public_ports)
    try:
        acls = [a for page in ctx.aws.pages("ec2", "describe_network_acls", Filters=_vpc_filter(ctx))
                for a in page["NetworkAcls"]]
    except AwsCallError as exc:
        return [NACL_PUBLIC_INGRESS.errored(ctx.outputs.network.vpc_id, str(exc))]
    results = []
    for acl in acls:
        if not acl.get("Associations"):
            continue  # filters no subnet (e.g. the replaced default NACL), so it exposes nothing
        problems = _nacl_problems(acl.get("Entries", []), allowed)
        results.append(NACL_PUBLIC_INGRESS.judge(
            acl["NetworkAclId"], not problems, "Internet ingress is limited to allowed and ephemeral ports.",
            "Open to the internet: " + "; ".join(problems) + "."))
    return results


def _nacl_problems(entries: list[dict[str, Any]], allowed: set[int]) -> list[str]:
    problems = []
    # Entries are evaluated in rule-number order; a lower-numbered deny shadows a later allow, but a
    # world-wide allow is still flagged because reordering rules silently re-opens it.
    for entry in sorted(entries, key=lambda e: e.get("RuleNumber", 0)):
        source = entry.get("CidrBlock") or entry.get("Ipv6CidrBlock")
        if entry.get("Egress") or entry.get("RuleAction") != "allow" or source not in WORLD:
            continue
        protocol = str(entry.get("Protocol", "-1")).lower()
        rule = entry.get("RuleNumber")
        if protocol in {"-1", "all"}:
            problems.append(f"rule {rule} allows all traffic from {source}")
            continue
        if protocol not in _TCP | _UDP:
            continue  # ICMP and friends carry no ports (path MTU discovery needs ICMP)
        ports = entry.get("PortRange") or {}
        low, high = int(ports.get("From", 0)), int(ports.get("To", 65535))
        within_allowed = _within(low, high, allowed)
        within_ephemeral = EPHEMERAL[0] <= low and high <= EPHEMERAL[1]
        if not (within_allowed or within_ephemeral):
            name = "tcp" if protocol in _TCP else "udp"
            problems.append(f"rule {rule} allows {name} {low}-{high} from {source}")
    return problems


def _within(low: int, high: int, allowed: set[int]) -> bool:
    """Every port of the range is an allowed public port (ranges are at most 65536 wide)."""
    return low <= high and set(range(low, high + 1)) <= allowed
