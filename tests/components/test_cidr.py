import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components._cidr import MAX_VPC_PREFIX, CidrPlanError, plan_tiers

PRIVATE_BASES = ["10.0.0.0", "172.16.0.0", "192.168.0.0"]


@st.composite
def vpcs(draw: st.DrawFn) -> tuple[str, int]:
    base = draw(st.sampled_from(PRIVATE_BASES))
    prefix = draw(st.integers(min_value=16, max_value=MAX_VPC_PREFIX))
    net = ipaddress.IPv4Network(f"{base}/{prefix}", strict=False)
    return str(net), draw(st.integers(min_value=2, max_value=6))


@given(vpcs())
def test_subnets_are_inside_the_vpc_and_never_overlap(case: tuple[str, int]) -> None:
    cidr, azs = case
    plan = plan_tiers(cidr, azs)
    vpc = ipaddress.IPv4Network(cidr)
    nets = [ipaddress.IPv4Network(s) for s in plan.all_subnets()]
    assert len(nets) == 3 * azs
    assert all(n.subnet_of(vpc) for n in nets)
    for i, a in enumerate(nets):
        for b in nets[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    # every subnet is a size AWS accepts
    assert all(16 <= n.prefixlen <= 28 for n in nets)


@given(vpcs())
def test_growing_the_az_count_never_renumbers_existing_subnets(case: tuple[str, int]) -> None:
    cidr, azs = case
    small = plan_tiers(cidr, 2)
    large = plan_tiers(cidr, azs)
    assert large.public[:2] == small.public
    assert large.app[:2] == small.app
    assert large.data[:2] == small.data


def test_tiers_are_sized_app_largest_public_smallest() -> None:
    plan = plan_tiers("10.0.0.0/16", 3)
    assert plan.app[0] == "10.0.0.0/20"
    assert plan.data[0] == "10.0.128.0/21"
    assert plan.public[0] == "10.0.192.0/22"
    assert plan_tiers("10.0.0.0/16", 3) == plan  # deterministic


@pytest.mark.parametrize(
    ("cidr", "azs", "fragment"),
    [
        ("10.0.0.0/33", 2, "not a valid IPv4 network"),
        ("10.0.0.1/16", 2, "not a valid IPv4 network"),  # host bits set
        ("not-a-cidr", 2, "not a valid IPv4 network"),
        ("8.8.0.0/16", 2, "not a private"),
        ("10.0.0.0/8", 2, "larger than /16"),
        ("10.0.0.0/23", 2, "too small"),
        ("10.0.0.0/16", 1, "outside 2..6"),
        ("10.0.0.0/16", 7, "outside 2..6"),
    ],
)
def test_bad_plans_are_refused_with_a_reason(cidr: str, azs: int, fragment: str) -> None:
    with pytest.raises(CidrPlanError, match=fragment):
        plan_tiers(cidr, azs)
