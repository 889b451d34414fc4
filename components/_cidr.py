"""Deterministic CIDR plan for the three network tiers (pure; no Pulumi).

The VPC is cut in fixed fractions so that the plan never changes when the AZ count changes: growing from 2 to
3 AZs adds subnets, it never renumbers existing ones (renumbering would replace every subnet).

    first half of the VPC      -> app tier    (8 slots, one per AZ; the largest: Lambda ENIs live here)
    next quarter               -> data tier   (8 slots)
    next eighth                -> public tier (8 slots; NAT gateways and load balancers only)
    last eighth                -> reserved for growth
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

MAX_AZS = 6
_SLOTS = 8  # per tier; > MAX_AZS so that adding AZs never renumbers
_MIN_VPC_PREFIX = 16  # AWS: a VPC is /16 .. /28
_SMALLEST_SUBNET_PREFIX = 28  # AWS: a subnet is at most /28
# public subnets are the smallest: VPC prefix + 1 (eighth) + 2 (quarter) + 3 (8 slots) = prefix + 6
MAX_VPC_PREFIX = _SMALLEST_SUBNET_PREFIX - 6


@dataclass(frozen=True)
class TierPlan:
    """Subnet CIDRs of the three tiers, index i is AZ i."""

    public: tuple[str, ...]
    app: tuple[str, ...]
    data: tuple[str, ...]

    def all_subnets(self) -> tuple[str, ...]:
        return self.public + self.app + self.data


class CidrPlanError(ValueError):
    """The VPC CIDR cannot hold the tiers; the message says why."""


def plan_tiers(vpc_cidr: str, az_count: int) -> TierPlan:
    """Split ``vpc_cidr`` into public/app/data subnets for ``az_count`` AZs.

    Raises CidrPlanError for a malformed CIDR, a non-private range, a prefix AWS rejects, or a CIDR too small
    to give every tier a /28.
    """
    try:
        vpc = ipaddress.IPv4Network(vpc_cidr, strict=True)
    except ValueError as exc:
        raise CidrPlanError(f"'{vpc_cidr}' is not a valid IPv4 network in CIDR notation ({exc})") from exc
    if not vpc.is_private:
        raise CidrPlanError(f"'{vpc_cidr}' is not a private (RFC 1918) range")
    if vpc.prefixlen < _MIN_VPC_PREFIX:
        raise CidrPlanError(f"'{vpc_cidr}' is larger than /{_MIN_VPC_PREFIX}, the largest VPC AWS allows")
    if vpc.prefixlen > MAX_VPC_PREFIX:
        raise CidrPlanError(
            f"'{vpc_cidr}' is too small for three tiers of {_SLOTS} subnets each: "
            f"use a /{MAX_VPC_PREFIX} or larger (a smaller prefix number)"
        )
    if not 2 <= az_count <= MAX_AZS:
        raise CidrPlanError(f"az count {az_count} is outside 2..{MAX_AZS}")

    halves = list(vpc.subnets(prefixlen_diff=1))
    quarters = list(halves[1].subnets(prefixlen_diff=1))
    eighths = list(quarters[1].subnets(prefixlen_diff=1))
    app_block, data_block, public_block = halves[0], quarters[0], eighths[0]

    def slots(block: ipaddress.IPv4Network) -> tuple[str, ...]:
        return tuple(str(s) for s in list(block.subnets(prefixlen_diff=3))[:az_count])

    return TierPlan(public=slots(public_block), app=slots(app_block), data=slots(data_block))
