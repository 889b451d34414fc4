"""What the rendered network means, for every stack file."""

from __future__ import annotations

import ipaddress

from tests.conftest import rendered
from tests.harness import Graph, Res, stack_config

ANY = "0.0.0.0/0"
EPHEMERAL = (1024, 65535)
SG_INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"


def tier_subnets(graph: Graph, tier: str) -> list[Res]:
    return [r for r in graph.of_type("aws:ec2/subnet:Subnet") if r["tags"]["Tier"] == tier]


def route_tables_of(graph: Graph, subnets: list[Res]) -> list[Res]:
    tables = []
    for assoc in graph.of_type("aws:ec2/routeTableAssociation:RouteTableAssociation"):
        if any(graph.depends_on(assoc, sn) for sn in subnets):
            (rt_urn,) = assoc.property_dependencies["routeTableId"]
            tables.append(graph.by_urn(rt_urn))
    return tables


def routes_of(graph: Graph, table: Res) -> list[Res]:
    return [r for r in graph.of_type("aws:ec2/route:Route") if table.urn in r.property_dependencies["routeTableId"]]


def test_vpc_has_dns_for_private_endpoints(graph: Graph) -> None:
    vpc = graph.one("aws:ec2/vpc:Vpc")
    assert vpc["enableDnsSupport"] and vpc["enableDnsHostnames"]


def test_three_tiers_one_subnet_per_az_none_assigns_public_ips(graph: Graph, stack: str) -> None:
    azs = stack_config(stack)["azCount"]
    for tier in ("public", "app", "data"):
        subnets = tier_subnets(graph, tier)
        assert len(subnets) == azs
        assert len({s["availabilityZone"] for s in subnets}) == azs
    assert all(s["mapPublicIpOnLaunch"] is False for s in graph.of_type("aws:ec2/subnet:Subnet"))


def test_isolated_data_tier_has_no_route_out(graph: Graph) -> None:
    data = tier_subnets(graph, "data")
    tables = route_tables_of(graph, data)
    assert len(tables) == len(data)
    for table in tables:
        assert routes_of(graph, table) == [], f"{table.name} routes somewhere"
        assert not table.get("routes")  # no inline routes either


def test_app_tier_leaves_only_through_nat(graph: Graph) -> None:
    nats = graph.of_type("aws:ec2/natGateway:NatGateway")
    for table in route_tables_of(graph, tier_subnets(graph, "app")):
        (route,) = routes_of(graph, table)
        assert route["destinationCidrBlock"] == ANY
        assert any(graph.depends_on(route, nat) for nat in nats)
        assert "gatewayId" not in route.inputs


def test_nat_layout_follows_the_environment(stack: str) -> None:
    graph = rendered(stack)
    cfg = stack_config(stack)
    expected = cfg["azCount"] if cfg["natGateways"] == "per-az" else 1
    nats = graph.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == expected
    public = tier_subnets(graph, "public")
    assert all(any(graph.depends_on(n, sn) for sn in public) for n in nats)
    if stack == "dev":
        assert len(nats) == 1
    if stack == "prod":
        assert len(nats) == 3


def test_default_security_group_and_nacl_are_adopted_with_no_rules(graph: Graph) -> None:
    default_sg = graph.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default_sg["ingress"] == [] and default_sg["egress"] == []
    default_acl = graph.one("aws:ec2/defaultNetworkAcl:DefaultNetworkAcl")
    assert not default_acl.get("ingress") and not default_acl.get("egress")


def _sg(graph: Graph, role: str) -> Res:
    return next(r for r in graph.of_type("aws:ec2/securityGroup:SecurityGroup") if r.name.endswith(f"-{role}-sg"))


def owned_by(rule: Res, group: Res) -> bool:
    return group.urn in rule.property_dependencies["securityGroupId"]


def test_database_port_is_reachable_only_from_the_app_security_group(graph: Graph) -> None:
    app, db = _sg(graph, "app"), _sg(graph, "database")
    for rule in graph.of_type(SG_INGRESS):
        lo, hi = rule.get("fromPort", 0), rule.get("toPort", 65535)
        if lo <= 5432 <= hi:
            assert owned_by(rule, db), "only the database SG admits 5432"
            assert "cidrIpv4" not in rule.inputs and "cidrIpv6" not in rule.inputs
            (src,) = rule.property_dependencies["referencedSecurityGroupId"]
            assert src == app.urn
    db_rules = [r for r in graph.of_type(SG_INGRESS) if owned_by(r, db)]
    assert len(db_rules) == 1
    assert not [r for r in graph.of_type(SG_EGRESS) if owned_by(r, db)], "the database needs no egress"


def test_no_security_group_admits_anything_from_the_internet(graph: Graph) -> None:
    for rule in graph.of_type(SG_INGRESS):
        assert rule.get("cidrIpv4") not in {ANY} and rule.get("cidrIpv6") != "::/0"


def test_app_egress_is_https_database_and_endpoints_only(graph: Graph) -> None:
    app = _sg(graph, "app")
    ports = sorted((r["fromPort"], r["toPort"]) for r in graph.of_type(SG_EGRESS) if owned_by(r, app))
    assert ports == [(443, 443), (443, 443), (5432, 5432)]


def _nacl_rules(graph: Graph, tier: str) -> list[Res]:
    acl = next(r for r in graph.of_type("aws:ec2/networkAcl:NetworkAcl") if r.name.endswith(f"-{tier}-nacl"))
    return [r for r in graph.of_type("aws:ec2/networkAclRule:NetworkAclRule") if graph.depends_on(r, acl)]


def test_no_nacl_admits_ssh_from_anywhere_and_rdp_only_as_return_traffic(graph: Graph) -> None:
    # EC2.21 deviation (README): 3389 is inside the return range NAT gateways and Lambda ENIs use; nothing else
    # opens it to the world, and 22 is never open.
    for rule in graph.of_type("aws:ec2/networkAclRule:NetworkAclRule"):
        if rule["egress"] or rule["ruleAction"] != "allow":
            continue
        if ipaddress.ip_network(rule["cidrBlock"]).prefixlen == 0:
            assert not rule["fromPort"] <= 22 <= rule["toPort"], f"{rule.name} admits SSH"
            if rule["fromPort"] <= 3389 <= rule["toPort"]:
                assert (rule["fromPort"], rule["toPort"]) == EPHEMERAL, f"{rule.name} admits RDP"


def test_data_nacl_admits_only_the_database_port_from_the_app_tier(graph: Graph, stack: str) -> None:
    app_cidrs = {r["cidrBlock"] for r in tier_subnets(graph, "app")}
    inbound = [r for r in _nacl_rules(graph, "data") if not r["egress"]]
    assert inbound
    for rule in inbound:
        assert (rule["fromPort"], rule["toPort"]) == (5432, 5432)
        assert rule["cidrBlock"] in app_cidrs
    outbound = [r for r in _nacl_rules(graph, "data") if r["egress"]]
    assert {r["cidrBlock"] for r in outbound} == app_cidrs
    for cidr in app_cidrs:  # replies to every source port a Lambda ENI may use
        assert covered([r for r in outbound if r["cidrBlock"] == cidr]) == [EPHEMERAL]


def covered(rules: list[Res]) -> list[tuple[int, int]]:
    """The port ranges a set of allow rules covers, merged."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted((r["fromPort"], r["toPort"]) for r in rules):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def test_nacls_admit_return_traffic_on_every_port_nat_and_lambda_use(graph: Graph) -> None:
    # Stateless: NAT gateways and Lambda ENIs use source ports 1024-65535 (VPC guide, "Ephemeral ports"); a port
    # missing here drops the reply of every connection that happened to use it.
    app_cidrs = {r["cidrBlock"] for r in tier_subnets(graph, "app")}
    for tier in ("public", "app"):
        rules = _nacl_rules(graph, tier)
        inbound = [r for r in rules if not r["egress"] and r["cidrBlock"] == ANY and r["fromPort"] >= 1024]
        assert covered(inbound) == [EPHEMERAL], tier
        for cidr in app_cidrs:  # replies (from the NAT, from endpoints) to the functions
            outbound = [r for r in rules if r["egress"] and r["cidrBlock"] == cidr and r["fromPort"] >= 1024]
            assert covered(outbound) == [EPHEMERAL], (tier, cidr)


def test_every_tier_subnet_is_in_its_tier_nacl(graph: Graph) -> None:
    for tier in ("public", "app", "data"):
        acl = next(r for r in graph.of_type("aws:ec2/networkAcl:NetworkAcl") if r.name.endswith(f"-{tier}-nacl"))
        assert sorted(acl["subnetIds"]) == sorted(s.urn and graph_id(s) for s in tier_subnets(graph, tier))


def graph_id(res: Res) -> str:
    # mocks give each resource the id "<name>-<hash>"; NACL inputs carry those ids
    import hashlib

    return f"{res.name}-{hashlib.sha1(res.name.encode()).hexdigest()[:8]}"  # noqa: S324


def test_gateway_endpoints_keep_s3_and_dynamodb_traffic_inside_the_vpc(graph: Graph) -> None:
    # Free (route table entries); the interface endpoints are tests/components/test_endpoints.py.
    gateways = [e for e in graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint") if e["vpcEndpointType"] == "Gateway"]
    assert {e["serviceName"].split(".")[-1] for e in gateways} == {"s3", "dynamodb"}
    app_and_data = route_tables_of(graph, tier_subnets(graph, "app") + tier_subnets(graph, "data"))
    for gw in gateways:
        assert len(gw["routeTableIds"]) == len(app_and_data)
    endpoint_sg = _sg(graph, "endpoints")
    for ep in graph.of_type("aws:ec2/vpcEndpoint:VpcEndpoint"):
        if ep["vpcEndpointType"] == "Interface":
            assert endpoint_sg.urn in ep.property_dependencies["securityGroupIds"]
