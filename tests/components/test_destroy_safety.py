"""Destroying any stack (dev included) leaves the account's switches on, and everything they need to keep working."""

from __future__ import annotations

import functools
import runpy

import pytest

from components.ownership import CLAIM_NAME
from policies.lifecycle import ACCOUNT_SWITCHES
from tests.conftest import rendered
from tests.harness import ROOT, Graph, Res, render


def dependencies(graph: Graph, res: Res) -> set[str]:
    urns = set(res.dependencies)
    for deps in res.property_dependencies.values():
        urns.update(deps)
    return urns


def closure(graph: Graph, roots: list[Res]) -> list[Res]:
    """The custom resources ``roots`` depend on, transitively (what a switch needs to keep working)."""
    seen: dict[str, Res] = {}
    todo = [r.urn for r in roots]
    while todo:
        urn = todo.pop()
        if urn in seen:
            continue
        res = graph.by_urn(urn)
        seen[urn] = res
        todo.extend(u for u in dependencies(graph, res) if u not in seen)
    return [r for r in seen.values() if r.custom and not r.type.startswith("pulumi:providers:")]


@functools.cache
def new_stack() -> Graph:
    # A stack with no file of its own: defaults from Pulumi.yaml.
    return render(lambda: runpy.run_path(str(ROOT / "__main__.py")), "staging", config={"aws:region": "us-east-2"})


@pytest.fixture(params=["stack-file", "new-stack"])
def owner(request: pytest.FixtureRequest, graph: Graph) -> Graph:
    return graph if request.param == "stack-file" else new_stack()


def test_every_account_switch_is_protected_and_retained(owner: Graph) -> None:
    switches = [r for r in owner if r.type in ACCOUNT_SWITCHES]
    assert {r.type for r in switches} == set(ACCOUNT_SWITCHES)  # the stacks own the baseline by default
    for switch in switches:
        assert switch.protect, switch.name
        assert switch.retain_on_delete, switch.name


def test_what_the_switches_depend_on_is_retained_too(owner: Graph) -> None:
    # A retained trail whose bucket, role or key is deleted stops logging all the same.
    switches = [r for r in owner if r.type in ACCOUNT_SWITCHES]
    needed = closure(owner, switches)
    # The trail, its bucket, roles, log group and key, Config's role and delivery, the API Gateway role...
    assert {"aws:s3/bucket:Bucket", "aws:kms/key:Key", "aws:iam/role:Role", "aws:cloudwatch/logGroup:LogGroup"} <= {
        r.type for r in needed}
    for res in needed:
        if res.type == "aws:ssm/parameter:Parameter" and res["name"] == CLAIM_NAME:
            # The claim is released by a destroy on purpose: the next owner then finds the retained switches.
            assert res.protect and not res.retain_on_delete
            continue
        assert res.retain_on_delete and res.protect, res.name


def test_only_the_baseline_is_kept_the_application_is_not(stack: str) -> None:
    graph = rendered(stack)
    baseline = graph.one("platform:monitoring:AccountBaseline")
    needed = {r.urn for r in closure(graph, [r for r in graph if r.type in ACCOUNT_SWITCHES])}
    for res in (r for r in graph if r.retain_on_delete):
        # The baseline's own resources (bucket configuration, Config rules, detector features...) and what the
        # switches need elsewhere (the logs key, the API Gateway account role).
        assert res.parent == baseline.urn or res.urn in needed, res.name
    for kind in ("aws:lambda/function:Function", "aws:rds/instance:Instance", "aws:apigateway/restApi:RestApi",
                 "aws:sqs/queue:Queue", "aws:sns/topic:Topic", "aws:ec2/vpc:Vpc"):
        assert not [r for r in graph.of_type(kind) if r.retain_on_delete], kind
    # The CIS alarms notify this stack's topic; kept, they would alarm into nothing.
    assert not [r for r in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm") if r.retain_on_delete]
