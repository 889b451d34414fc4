"""One owner of the account baseline per account and region: the preview-time check and the claim it relies on."""

from __future__ import annotations

import functools
import json
import runpy
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from components.ownership import CLAIM_NAME, CLAIM_PATH, Claim, Found, OwnershipError, decide, parse_claim
from components.settings import PROJECT
from policies.lifecycle import ACCOUNT_SWITCHES
from tests.harness import ROOT, Graph, InvokeFailure, render

PARAMS = "aws:ssm/getParametersByPath:getParametersByPath"
DETECTOR = "aws:guardduty/getDetector:getDetector"
HUB = "aws:securityhub/getEnabledStandards:getEnabledStandards"
PARAMETER = "aws:ssm/parameter:Parameter"
WHERE = "account 123456789012, region eu-west-1"

# ---- the decision (pure) -------------------------------------------------------------------------------------

MINE = Claim(PROJECT, "dev", "dev")
OTHER = Claim(PROJECT, "prod", "prod")
NOTHING = Found(None, None, False)


def test_first_owner_of_an_empty_account_goes_ahead() -> None:
    decide(True, PROJECT, "dev", WHERE, NOTHING)


def test_the_owner_itself_goes_ahead_on_every_later_preview() -> None:
    decide(True, PROJECT, "dev", WHERE, Found(MINE, None, False))


def test_a_second_owner_fails_naming_the_first_and_the_setting() -> None:
    with pytest.raises(OwnershipError) as err:
        decide(True, PROJECT, "dev", WHERE, Found(OTHER, None, False))
    message = str(err.value)
    assert message.startswith("ownsAccountBaseline:") and "'prod'" in message and WHERE in message
    assert "Set ownsAccountBaseline: false" in message


def test_a_non_owner_goes_ahead_when_someone_owns_the_baseline() -> None:
    decide(False, PROJECT, "dev", WHERE, Found(OTHER, None, False))


def test_a_non_owner_fails_when_nobody_owns_the_baseline_stage_logging_would_fail() -> None:
    with pytest.raises(OwnershipError, match="no stack owns the account baseline") as err:
        decide(False, PROJECT, "dev", WHERE, NOTHING)
    assert "CloudWatch role" in str(err.value)


def test_the_owner_cannot_silently_stop_owning() -> None:
    with pytest.raises(OwnershipError, match="this stack owns the account baseline"):
        decide(False, PROJECT, "dev", WHERE, Found(MINE, None, False))


@pytest.mark.parametrize(("found", "named"), [
    (Found(None, "d-123", False), "GuardDuty detector d-123"),
    (Found(None, None, True), "Security Hub"),
    (Found(None, "d-123", True), "GuardDuty detector d-123 and Security Hub"),
])
def test_unclaimed_singletons_fail_an_owner_and_ask_for_an_import(found: Found, named: str) -> None:
    with pytest.raises(OwnershipError) as err:
        decide(True, PROJECT, "dev", WHERE, found)
    assert named in str(err.value) and "pulumi import" in str(err.value)


def test_the_same_stack_name_of_another_project_is_another_owner() -> None:
    with pytest.raises(OwnershipError, match="already owns"):
        decide(True, PROJECT, "dev", WHERE, Found(Claim("other-project", "dev", "dev"), None, False))


def test_claims_are_read_only_from_the_claim_parameter() -> None:
    assert parse_claim([f"{CLAIM_PATH}/notes"], ["hello"]) is None
    assert parse_claim([CLAIM_NAME], [MINE.json()]) == MINE
    assert parse_claim(None, None) is None
    with pytest.raises(OwnershipError, match="is not a baseline claim"):
        parse_claim([CLAIM_NAME], ["not json"])


# ---- the whole program with the account answered explicitly -----------------------------------------------------

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def params(*claims: Claim) -> Answer:
    def answer(args: dict[str, Any]) -> dict[str, Any]:
        assert args["path"] == CLAIM_PATH
        return {"path": CLAIM_PATH, "names": [CLAIM_NAME] * len(claims), "values": [c.json() for c in claims],
                "arns": [], "types": ["String"] * len(claims), "id": CLAIM_PATH}
    return answer


def fails(message: str) -> Answer:
    def answer(_args: dict[str, Any]) -> dict[str, Any]:
        raise InvokeFailure(message)
    return answer


ABSENT = {DETECTOR: fails("reading this account's single GuardDuty Detector: empty result"),
          HUB: fails("InvalidAccessException: Account 123456789012 is not subscribed to AWS Security Hub")}


def program(stack: str, owns: bool, invokes: Mapping[str, Answer]) -> Graph:
    return render(lambda: runpy.run_path(str(ROOT / "__main__.py")), stack,
                  config={"ownsAccountBaseline": owns}, invokes=invokes)


@functools.cache
def first_owner() -> Graph:
    return program("dev", True, {PARAMS: params(), **ABSENT})


def test_the_first_owner_writes_its_claim_and_every_switch_waits_for_it() -> None:
    graph = first_owner()
    (claim,) = [p for p in graph.of_type(PARAMETER) if p["name"] == CLAIM_NAME]
    assert json.loads(claim["insecureValue"]) == {"project": PROJECT, "stack": "dev", "environment": "dev"}
    assert claim["type"] == "String"
    assert claim.protect and not claim.retain_on_delete  # released by a destroy, so the next owner sees orphans
    switches = [r for r in graph if r.type in ACCOUNT_SWITCHES]
    assert {r.type for r in switches} == set(ACCOUNT_SWITCHES)
    for switch in switches:
        assert graph.depends_on(switch, claim), switch.name


def test_a_second_owner_fails_before_registering_anything() -> None:
    with pytest.raises(OwnershipError, match="stack 'prod' of project 'secure-api-platform' already owns"):
        program("dev", True, {PARAMS: params(OTHER)})


def test_an_orphaned_detector_fails_the_owner_with_its_id() -> None:
    answers = {PARAMS: params(), DETECTOR: lambda _a: {"id": "6ab7", "tags": {"Environment": "dev"}},
               HUB: ABSENT[HUB]}
    with pytest.raises(OwnershipError, match="GuardDuty detector 6ab7 already exist"):
        program("dev", True, answers)


def test_an_enabled_security_hub_fails_the_owner() -> None:
    answers = {PARAMS: params(), DETECTOR: ABSENT[DETECTOR],
               HUB: lambda _a: {"standardsSubscriptionArns": [], "standardsSubscriptions": []}}
    with pytest.raises(OwnershipError, match="Security Hub"):
        program("dev", True, answers)


def test_a_lookup_that_fails_for_another_reason_stops_the_preview() -> None:
    answers = {PARAMS: params(), DETECTOR: fails("AccessDeniedException: not authorized to perform ListDetectors"),
               HUB: ABSENT[HUB]}
    with pytest.raises(OwnershipError, match=r"could not look up the GuardDuty detector.*AccessDenied"):
        program("dev", True, answers)


def test_a_stack_sharing_the_account_with_the_owner_creates_no_singleton_and_no_claim() -> None:
    graph = program("prod", False, {PARAMS: params(Claim(PROJECT, "dev", "dev"))})
    assert [r for r in graph if r.type in ACCOUNT_SWITCHES] == []
    assert [p for p in graph.of_type(PARAMETER) if p.get("name") == CLAIM_NAME] == []
    assert graph.of_type("aws:apigateway/stage:Stage")  # its stages log through the owner's account role


def test_a_stack_sharing_the_account_fails_when_nobody_owns_it() -> None:
    with pytest.raises(OwnershipError, match="no stack owns"):
        program("prod", False, {PARAMS: params()})
