"""Addresses compared as networks, not strings: which permissions open a port to the whole internet.

``0::/0`` is ``::/0`` and ``10.0.0.0/0`` is ``0.0.0.0/0`` (host bits are ignored, as AWS does); two rules for
``0.0.0.0/1`` and ``128.0.0.0/1`` together admit the world as surely as one ``0.0.0.0/0``.  A security group
allows the union of its rules (any rule admitting a packet suffices), so ``exposures`` works on the union per
protocol and port range.  A network ACL takes the first matching rule by number, so ``first_match_exposures``
evaluates its entries in that order (a lower-numbered deny shadows a later allow).  Addresses unknown at
preview come from outputs (VPC, subnet CIDRs) and are never the world.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ._values import as_number

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
WORLD: tuple[Network, ...] = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
_PROTOCOLS = {"-1": "all", "all": "all", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp",
              "icmp": "icmp", "1": "icmp", "icmpv6": "icmpv6", "58": "icmpv6"}
_PORTED = ("tcp", "udp")
MAX_PORT = 65535


def network(value: Any) -> Network | None:
    """A CIDR as a network (host bits ignored); None if not a CIDR (unknown, empty, a prefix list id)."""
    if not isinstance(value, str) or "/" not in value:
        return None
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


def protocol(value: Any) -> str:
    """'all', 'tcp', 'udp', 'icmp', 'icmpv6', another protocol number, or 'unknown'."""
    if value is None or not isinstance(value, str | int | float):
        return "unknown"
    number = as_number(value)
    key = str(int(number)) if number is not None else str(value).lower()
    return _PROTOCOLS.get(key, key)


@dataclass(frozen=True)
class Permission:
    """One source network allowed (or denied) for a protocol and port range, and where it was written."""

    protocol: str
    low: int  # port range, 0..65535 for protocols without ports
    high: int
    source: Network
    where: str  # e.g. "'web' (ec2 SecurityGroup) ingress[0]"
    owner: str  # URN of the resource that wrote it
    allow: bool = True
    order: float = 0  # NACL rule number


def permission(protocol_value: Any, from_port: Any, to_port: Any, source: Network, where: str, owner: str,
               allow: bool = True, order: float = 0) -> Permission:
    proto = protocol(protocol_value)
    low, high = 0, MAX_PORT
    if proto in _PORTED:
        lo, hi = as_number(from_port), as_number(to_port)
        if lo is not None and hi is not None and 0 <= lo <= hi:
            low, high = int(lo), int(min(hi, MAX_PORT))
    return Permission(proto, low, high, source, where, owner, allow, order)


@dataclass(frozen=True)
class Exposure:
    """A protocol and port range the whole internet (of one address family) can reach, and through what."""

    protocol: str
    low: int
    high: int
    world: str
    through: tuple[Permission, ...]

    def ports_text(self) -> str:
        if self.protocol == "all":
            return "all protocols and ports"
        if self.protocol == "other":
            return "every protocol other than those with their own rules"
        if self.protocol not in _PORTED:
            return f"protocol {self.protocol}"
        port = str(self.low) if self.low == self.high else f"{self.low}-{self.high}"
        return f"{self.protocol} port {port}"

    def sources_text(self) -> str:
        """'0.0.0.0/0' or 'the union of 0.0.0.0/1 (a), 128.0.0.0/1 (b)'."""
        if len(self.through) == 1:
            return str(self.through[0].source)
        return "the union of " + ", ".join(f"{p.source} ({p.where})" for p in self.through)


def _covers_world(nets: Iterable[Network], world: Network) -> bool:
    same_family = [n for n in nets if n.version == world.version]
    return list(ipaddress.collapse_addresses(same_family)) == [world]  # type: ignore[type-var]


def _segments(perms: Sequence[Permission]) -> list[tuple[int, int]]:
    """Elementary port ranges on which the set of applicable permissions is constant."""
    cuts = sorted({0, MAX_PORT + 1} | {p.low for p in perms} | {p.high + 1 for p in perms})
    return [(a, b - 1) for a, b in itertools.pairwise(cuts) if a <= MAX_PORT]


def _minimal(perms: Sequence[Permission], world: Network) -> tuple[Permission, ...]:
    """The permissions whose union makes the world (dropping ones not needed), for the message."""
    chosen = list(perms)
    for p in sorted(perms, key=lambda p: p.source.prefixlen, reverse=True):
        rest = [q for q in chosen if q is not p]
        if rest and _covers_world((q.source for q in rest), world):
            chosen = rest
    return tuple(sorted(chosen, key=lambda p: (p.source.prefixlen, str(p.source))))


def exposures(perms: Sequence[Permission]) -> list[Exposure]:
    """World-reachable protocol/port ranges of a set of allow permissions combined by union (security group)."""
    found: list[Exposure] = []
    for world in WORLD:
        family = [p for p in perms if p.source.version == world.version and p.allow]
        every = [p for p in family if p.protocol == "all"]
        if _covers_world((p.source for p in every), world):
            found.append(Exposure("all", 0, MAX_PORT, str(world), _minimal(every, world)))
            continue  # every protocol and port is open: nothing narrower to add
        for proto in sorted({p.protocol for p in family if p.protocol != "all"}):
            relevant = [p for p in family if p.protocol in (proto, "all")]
            spans = []
            for low, high in _segments(relevant) if proto in _PORTED else [(0, MAX_PORT)]:
                on = [p for p in relevant if p.low <= low and high <= p.high]
                if _covers_world((p.source for p in on), world):
                    spans.append((low, high, _minimal(on, world)))
            found += _merged(proto, world, spans)
    return found


def _merged(proto: str, world: Network, spans: list[tuple[int, int, tuple[Permission, ...]]]) -> list[Exposure]:
    """Adjacent world-open port spans reached through the same permissions, as one exposure each."""
    out: list[Exposure] = []
    for low, high, through in spans:
        last = out[-1] if out else None
        if last is not None and last.high + 1 == low and last.through == through:
            out[-1] = Exposure(proto, last.low, high, str(world), through)
        else:
            out.append(Exposure(proto, low, high, str(world), through))
    return out


def _subtract(remaining: list[Network], net: Network) -> tuple[list[Network], list[Network]]:
    """(remaining minus net, the part of remaining inside net).  CIDR blocks are nested or disjoint."""
    kept: list[Network] = []
    matched: list[Network] = []
    for block in remaining:
        if block.version != net.version or not block.overlaps(net):
            kept.append(block)
        elif block.subnet_of(net):  # type: ignore[arg-type]
            matched.append(block)
        else:  # net is inside block
            kept += list(block.address_exclude(net))  # type: ignore[arg-type]
            matched.append(net)
    return kept, matched


def first_match_exposures(entries: Sequence[Permission]) -> list[Exposure]:
    """World-reachable ranges of ordered allow/deny entries where the lowest-numbered match decides (NACL).

    Each protocol a packet can have is evaluated with the entries that match it: TCP and UDP per port range
    (their own entries and "all" ones), protocols an entry names, and "all" for any other protocol (only
    "all" entries match those).  A world-open "all" is reported as all protocols when TCP and UDP are open
    on every port too, else as the other protocols.
    """
    found: list[Exposure] = []
    ordered = sorted(entries, key=lambda e: e.order)
    for world in WORLD:
        family = [e for e in ordered if e.source.version == world.version]
        named = {e.protocol for e in family if e.allow and e.protocol != "all"}
        any_all = any(e.allow and e.protocol == "all" for e in family)
        protocols = sorted(named | ({"tcp", "udp"} if any_all else set()))
        per_protocol = {proto: _first_match(proto, world, [e for e in family if e.protocol in (proto, "all")])
                        for proto in protocols}
        rest = _first_match("all", world, [e for e in family if e.protocol == "all"]) if any_all else []
        if rest and all([(x.low, x.high) for x in per_protocol.get(p, [])] == [(0, MAX_PORT)] for p in _PORTED):
            found += rest  # everything is open: one finding says it
            continue
        for proto in protocols:
            found += per_protocol[proto]
        found += [Exposure("other", x.low, x.high, x.world, x.through) for x in rest]
    return found


def _first_match(proto: str, world: Network, relevant: list[Permission]) -> list[Exposure]:
    spans = []
    for low, high in _segments(relevant) if proto in _PORTED else [(0, MAX_PORT)]:
        remaining: list[Network] = [world]
        allowed: list[Network] = []
        through: list[Permission] = []
        for entry in (e for e in relevant if e.low <= low and high <= e.high):
            remaining, matched = _subtract(remaining, entry.source)
            if entry.allow and matched:
                allowed += matched
                through.append(entry)
        if _covers_world(allowed, world):
            spans.append((low, high, tuple(through)))
    return _merged(proto, world, spans)
