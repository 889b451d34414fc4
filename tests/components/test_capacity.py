"""Reserved concurrency carries the stage throttle, and what stacks reserve is what the README tells operators."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.capacity import (
    STACK_RESERVED_FUNCTIONS,
    UNRESERVED_MINIMUM,
    minimum_account_quota,
    reservations,
    reserved_total,
)
from components.settings import Settings, SettingsError, required_concurrency, settings_from_mapping
from tests.conftest import rendered
from tests.harness import ROOT, Graph, stack_config, stacks

FUNCTION = "aws:lambda/function:Function"


def settings(stack: str, **overrides: Any) -> Settings:
    return settings_from_mapping(stack, stack_config(stack, overrides))


@pytest.mark.parametrize(("rate", "ms", "needed"), [
    (1000, 200, 200), (50, 200, 10), (500, 200, 100), (1000, 1500, 1500), (3, 250, 1), (0.5, 100, 1), (7, 333, 3),
])
def test_concurrency_is_rate_times_p99_duration_rounded_up(rate: float, ms: int, needed: int) -> None:
    assert required_concurrency(rate, ms) == needed


@pytest.mark.parametrize("stack", [*stacks(), "new-stack"])
def test_every_stack_reserves_enough_to_carry_its_throttle(stack: str) -> None:
    # A stack with no file of its own gets the Pulumi.yaml defaults, which must be coherent too.
    s = settings("staging", **{"aws:region": "us-east-2"}) if stack == "new-stack" else settings(stack)
    assert s.lambda_reserved_concurrency * 1000 >= s.throttle_rate_limit * s.function_p99_duration_ms


def test_a_reservation_below_rate_times_duration_is_refused_naming_both_settings() -> None:
    # The case: 1,000 requests/s at the stage and 100 executions reserved.
    with pytest.raises(SettingsError) as err:
        settings("prod", lambdaReservedConcurrency=100)
    message = str(err.value)
    assert "lambdaReservedConcurrency: 100 cannot carry throttleRateLimit 1000" in message
    assert "functionP99DurationMs 200 ms" in message and "= 200" in message
    with pytest.raises(SettingsError, match="lambdaReservedConcurrency"):
        settings("prod", functionP99DurationMs=201)  # the same reservation, a slower function


def test_the_limit_itself_and_unreserved_functions_pass() -> None:
    assert settings("prod", lambdaReservedConcurrency=200).lambda_reserved_concurrency == 200
    assert settings("prod", lambdaReservedConcurrency=-1).lambda_reserved_concurrency == -1
    assert reservations(settings("prod", lambdaReservedConcurrency=-1)) == {"bootstrap": 1}


def graph_reservations(graph: Graph) -> dict[str, int]:
    found = {}
    for fn in graph.of_type(FUNCTION):
        value = fn.get("reservedConcurrentExecutions", -1)
        if value >= 0:
            found[fn.name.removesuffix("-function").rsplit("-", 1)[-1]] = value
    return found


def test_the_reservation_report_matches_the_rendered_functions(stack: str) -> None:
    graph = rendered(stack)
    s = settings(stack)
    assert graph_reservations(graph) == reservations(s)
    assert set(STACK_RESERVED_FUNCTIONS) | {"bootstrap"} == {
        f.name.removesuffix("-function").rsplit("-", 1)[-1] for f in graph.of_type(FUNCTION)}


def test_readme_first_deploy_checklist_states_the_current_reservations() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### First deploy checklist"):]
    section = section[:section.index("\n### ", 1)]
    all_stacks = [settings(stack) for stack in stacks()]
    for s in all_stacks:
        assert re.search(rf"`{s.stack}` reserves {reserved_total(s)}\b", section), s.stack
    together = sum(reserved_total(s) for s in all_stacks)
    assert f"together {together}" in section
    assert f"at least {minimum_account_quota(all_stacks)}" in section
    assert f"{UNRESERVED_MINIMUM} unreserved" in section
