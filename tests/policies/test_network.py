"""Network rules: CIDRs as networks, unions of rules, prefix lists, egress, default groups, NACL order."""

from __future__ import annotations

from typing import Any

import pytest

from policies import _net
from policies import _tokens as T

from .harness import UNKNOWN, Pack, Res, of

SG_INGRESS = "security-group-no-public-ingress"
EGRESS = "security-group-no-unrestricted-egress"
NACL = "nacl-no-public-ingress"
DEFAULT_SG = "vpc-default-security-group-closed"


def _perm(cidr: str, proto: str = "tcp", low: int = 22, high: int = 22, owner: str = "o", allow: bool = True,
          order: int = 0) -> _net.Permission:
    net = _net.network(cidr)
    assert net is not None
    return _net.permission(proto, low, high, net, owner, owner, allow, order)


@pytest.mark.parametrize(("text", "world"), [
    ("0.0.0.0/0", True), ("0::/0", True), ("::/0", True), ("0000:0000::/0", True), ("10.1.2.3/0", True),
    (" 0.0.0.0/0 ", True), ("0.0.0.0/1", False), ("10.0.0.0/8", False), ("pl-12345678", False), ("", False),
])
def test_networks_not_strings(text: str, world: bool) -> None:
    net = _net.network(text)
    assert (net in _net.WORLD) is world


def test_union_of_two_halves_is_the_world_and_names_both() -> None:
    found = _net.exposures([_perm("0.0.0.0/1", owner="a"), _perm("128.0.0.0/1", owner="b")])
    assert [(e.protocol, e.low, e.high, e.world) for e in found] == [("tcp", 22, 22, "0.0.0.0/0")]
    assert found[0].sources_text() == "the union of 0.0.0.0/1 (a), 128.0.0.0/1 (b)"


def test_union_only_on_the_ports_both_halves_cover() -> None:
    found = _net.exposures([_perm("0.0.0.0/1", low=20, high=30), _perm("128.0.0.0/1", low=25, high=40)])
    assert [(e.low, e.high) for e in found] == [(25, 30)]


def test_halves_of_different_protocols_or_families_are_not_the_world() -> None:
    assert _net.exposures([_perm("0.0.0.0/1"), _perm("128.0.0.0/1", proto="udp")]) == []
    assert _net.exposures([_perm("0.0.0.0/1"), _perm("8000::/1")]) == []
    assert _net.exposures([_perm("0.0.0.0/1"), _perm("128.0.0.0/2")]) == []


def test_all_protocols_rule_completes_a_port_rule() -> None:
    found = _net.exposures([_perm("0.0.0.0/1", proto="-1"), _perm("128.0.0.0/1", low=443, high=443)])
    assert [(e.protocol, e.low, e.high) for e in found] == [("tcp", 443, 443)]
    assert [e.protocol for e in _net.exposures([_perm("0::/0", proto="all")])] == ["all"]


def test_redundant_rules_are_left_out_of_the_explanation() -> None:
    found = _net.exposures([_perm("0.0.0.0/0", owner="world"), _perm("10.0.0.0/8", owner="private")])
    assert [p.owner for p in found[0].through] == ["world"]


def test_nacl_first_match_decides() -> None:
    allow_world = _perm("0.0.0.0/0", low=0, high=65535, order=200)
    deny_half = _perm("0.0.0.0/1", low=0, high=65535, allow=False, order=100)
    assert _net.first_match_exposures([deny_half, allow_world]) == []
    later_deny = _perm("0.0.0.0/1", low=0, high=65535, allow=False, order=300)
    assert len(_net.first_match_exposures([later_deny, allow_world])) == 1
    halves = [_perm("0.0.0.0/1", order=100), _perm("128.0.0.0/1", order=110)]
    assert len(_net.first_match_exposures(halves)) == 1
    deny_ssh_first = [_perm("0.0.0.0/0", allow=False, order=10), *halves]
    assert _net.first_match_exposures(deny_ssh_first) == []


# --- security-group-no-public-ingress over the stack ------------------------------------------------------
def _sg(name: str = "web", **props: Any) -> Res:
    return Res(T.SECURITY_GROUP, name, {"vpcId": "vpc-0123", "id": UNKNOWN, **props})


def _rule(name: str, cidr: str, port: int = 22, sg: str | None = "web", **extra: Any) -> Res:
    props = {"type": "ingress", "protocol": "tcp", "fromPort": port, "toPort": port, "cidrBlocks": [cidr],
             "securityGroupId": UNKNOWN if sg else "sg-0abc", **extra}
    return Res(T.SECURITY_GROUP_RULE, name, props, prop_deps={"securityGroupId": [sg]} if sg else {})


def test_rules_of_one_group_are_joined_across_resources() -> None:
    diags = of(Pack().analyze_stack([_sg(), _rule("a", "0.0.0.0/1"), _rule("b", "128.0.0.0/1")]), SG_INGRESS)
    assert sorted(d.urn.rsplit("::", 1)[1] for d in diags) == ["a", "b"]
    assert all(d.level == "mandatory" and "the union of 0.0.0.0/1" in d.message for d in diags)
    other = _sg("other")
    split = [_sg(), other, _rule("a", "0.0.0.0/1"), _rule("b", "128.0.0.0/1", sg="other")]
    assert of(Pack().analyze_stack(split), SG_INGRESS) == []


def test_rules_for_a_group_outside_the_stack_are_joined_by_its_id() -> None:
    graph = [_rule("a", "0.0.0.0/1", sg=None), _rule("b", "128.0.0.0/1", sg=None)]
    assert len(of(Pack().analyze_stack(graph), SG_INGRESS)) == 2
    graph[1].props["securityGroupId"] = "sg-0other"
    assert of(Pack().analyze_stack(graph), SG_INGRESS) == []


def test_vpc_ingress_rule_and_inline_rule_join() -> None:
    sg = _sg(ingress=[{"protocol": "tcp", "fromPort": 3389, "toPort": 3389, "ipv6CidrBlocks": ["::/1"]}])
    v2 = Res(T.SG_INGRESS_RULE, "v2", {"ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "cidrIpv6": "8000::/1",
                                        "securityGroupId": UNKNOWN}, prop_deps={"securityGroupId": ["web"]})
    diags = of(Pack().analyze_stack([sg, v2]), SG_INGRESS)
    assert len(diags) == 2 and "tcp port 3389" in diags[0].message and "(the whole internet)" not in diags[0].message


def test_443_from_the_world_is_allowed_and_config_adds_ports() -> None:
    assert of(Pack().analyze_stack([_sg(), _rule("a", "0::/0", port=443)]), SG_INGRESS) == []
    graph = [_sg(), _rule("a", "0.0.0.0/0", port=80)]
    assert len(of(Pack().analyze_stack(graph), SG_INGRESS)) == 1
    assert of(Pack({SG_INGRESS: {"allowedPorts": [80, 443]}}).analyze_stack(graph), SG_INGRESS) == []


def _prefix_list(entries: list[str], name: str = "pl") -> Res:
    return Res(T.MANAGED_PREFIX_LIST, name, {"addressFamily": "IPv4", "maxEntries": 5, "id": UNKNOWN,
                                             "entries": [{"cidr": c} for c in entries]})


def test_prefix_list_of_the_stack_that_holds_the_world() -> None:
    rule = Res(T.SG_INGRESS_RULE, "via-pl", {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                                             "prefixListId": UNKNOWN, "securityGroupId": UNKNOWN},
               prop_deps={"securityGroupId": ["web"], "prefixListId": ["pl"]})
    world = of(Pack().analyze_stack([_sg(), _prefix_list(["0.0.0.0/1", "128.0.0.0/1"]), rule]), SG_INGRESS)
    assert len(world) == 1 and "via-pl" in world[0].message
    assert of(Pack().analyze_stack([_sg(), _prefix_list(["10.0.0.0/8"]), rule]), SG_INGRESS) == []
    entry = Res(T.MANAGED_PREFIX_LIST_ENTRY, "entry", {"prefixListId": UNKNOWN, "cidr": "0.0.0.0/0"},
                prop_deps={"prefixListId": ["pl"]})
    assert len(of(Pack().analyze_stack([_sg(), _prefix_list([]), entry, rule]), SG_INGRESS)) == 1
    aws_managed = Res(T.SG_INGRESS_RULE, "cloudfront", {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
                                                         "prefixListId": "pl-3b927c52", "securityGroupId": UNKNOWN},
                      prop_deps={"securityGroupId": ["web"]})
    assert of(Pack().analyze_stack([_sg(), aws_managed]), SG_INGRESS) == []


def test_inline_prefix_lists_known_ids_and_ambiguous_unknown_ids() -> None:
    pl = _prefix_list(["0.0.0.0/0"])
    pl.props["id"] = "pl-0world"
    sg = _sg(ingress=[{"protocol": "tcp", "fromPort": 22, "toPort": 22, "prefixListIds": ["pl-0world"]}])
    assert len(of(Pack().analyze_stack([pl, sg]), SG_INGRESS)) == 1
    unknown = _sg(ingress=[{"protocol": "tcp", "fromPort": 22, "toPort": 22, "prefixListIds": [UNKNOWN]}])
    unknown.prop_deps = {"ingress": ["pl"]}
    assert len(of(Pack().analyze_stack([_prefix_list(["0.0.0.0/0"]), unknown]), SG_INGRESS)) == 1
    # Two entries naming prefix lists: which list is whose cannot be told from the property dependencies.
    two = _sg(ingress=[{"protocol": "tcp", "fromPort": 22, "toPort": 22, "prefixListIds": [UNKNOWN]},
                       {"protocol": "tcp", "fromPort": 443, "toPort": 443, "prefixListIds": [UNKNOWN]}])
    two.prop_deps = {"ingress": ["pl"]}
    assert of(Pack().analyze_stack([_prefix_list(["0.0.0.0/0"]), two]), SG_INGRESS) == []


# --- egress ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("type_", "props", "count"), [
    (T.SECURITY_GROUP, {"egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}]}, 1),
    (T.SECURITY_GROUP, {"egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "ipv6CidrBlocks": ["0::/0"]}]}, 1),
    (T.SECURITY_GROUP, {"egress": [{"protocol": "tcp", "fromPort": 443, "toPort": 443,
                                    "cidrBlocks": ["0.0.0.0/0"]}]}, 0),
    (T.SECURITY_GROUP, {"egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["10.0.0.0/16"]}]}, 0),
    (T.SECURITY_GROUP, {"egress": [{"protocol": "-1", "cidrBlocks": ["0.0.0.0/1", "128.0.0.0/1"]}]}, 1),
    (T.SECURITY_GROUP, {}, 0),  # no egress declared: the provider removes AWS's allow-all rule
    (T.SECURITY_GROUP, {"egress": UNKNOWN}, 0),
    (T.SECURITY_GROUP_RULE, {"type": "egress", "protocol": "all", "fromPort": 0, "toPort": 0,
                             "cidrBlocks": ["0.0.0.0/0"]}, 1),
    (T.SECURITY_GROUP_RULE, {"type": "ingress", "protocol": "-1", "fromPort": 0, "toPort": 0,
                             "cidrBlocks": ["10.0.0.0/8"]}, 0),
    (T.SG_EGRESS_RULE, {"ipProtocol": "-1", "cidrIpv4": "0.0.0.0/0"}, 1),
    (T.SG_EGRESS_RULE, {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0"}, 0),
])
def test_unrestricted_egress_is_advisory(type_: str, props: dict[str, Any], count: int) -> None:
    diags = of(Pack().analyze(type_, props), EGRESS)
    assert len(diags) == count and all(d.level == "advisory" for d in diags)


# --- default security group ------------------------------------------------------------------------------------
def test_default_group_of_a_vpc_outside_the_stack_must_stay_empty() -> None:
    ssh = [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["10.0.0.0/8"]}]
    dsg = Res(T.DEFAULT_SECURITY_GROUP, "legacy-default", {"vpcId": "vpc-0legacy", "ingress": ssh, "egress": []})
    diags = of(Pack().analyze_stack([dsg]), DEFAULT_SG)
    assert len(diags) == 1 and "vpc-0legacy" in diags[0].message and diags[0].level == "mandatory"
    closed = Res(T.DEFAULT_SECURITY_GROUP, "legacy-default", {"vpcId": "vpc-0legacy", "ingress": [], "egress": []})
    assert of(Pack().analyze_stack([closed]), DEFAULT_SG) == []


# --- NACLs ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("entries", "exposed"), [
    ([{"ruleNo": 100, "action": "allow", "protocol": "tcp", "fromPort": 22, "toPort": 22,
       "ipv6CidrBlock": "0::/0"}], ["tcp port 22"]),
    ([{"ruleNo": 100, "action": "allow", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlock": "0.0.0.0/1"},
      {"ruleNo": 110, "action": "allow", "protocol": "tcp", "fromPort": 22, "toPort": 22,
       "cidrBlock": "128.0.0.0/1"}], ["tcp port 22"]),
    ([{"ruleNo": 100, "action": "allow", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlock": "0.0.0.0/0"}],
     ["all protocols and ports"]),
    ([{"ruleNo": 90, "action": "deny", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlock": "0.0.0.0/0"},
      {"ruleNo": 100, "action": "allow", "protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlock": "0.0.0.0/0"}],
     ["tcp port 0-21", "tcp port 23-65535", "udp port 0-65535", "every protocol other than"]),
    ([{"ruleNo": 100, "action": "allow", "protocol": "tcp", "fromPort": 443, "toPort": 443,
       "cidrBlock": "0.0.0.0/0"}], []),
    ([{"ruleNo": 100, "action": "allow", "protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlock": UNKNOWN}], []),
])
def test_nacl_entries_as_networks_in_rule_order(entries: list[dict[str, Any]], exposed: list[str]) -> None:
    diags = of(Pack().analyze(T.NETWORK_ACL, {"ingress": entries}), NACL)
    assert len(diags) == len(exposed), [d.message for d in diags]
    for diag, text in zip(diags, exposed, strict=True):
        assert text in diag.message


def test_nacl_rule_resource_with_a_world_network() -> None:
    rule = {"egress": False, "ruleAction": "allow", "protocol": "6", "fromPort": 22, "toPort": 22,
            "ipv6CidrBlock": "0::/0", "ruleNumber": 100}
    assert "tcp port 22" in of(Pack().analyze(T.NETWORK_ACL_RULE, rule), NACL)[0].message
    assert of(Pack().analyze(T.NETWORK_ACL_RULE, {**rule, "egress": True}), NACL) == []
