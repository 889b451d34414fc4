"""account-switch-protected: a destroy can never turn an account-wide switch off, in any stack."""

from __future__ import annotations

import pytest

from policies import _tokens as T
from policies.lifecycle import ACCOUNT_SWITCHES

from .harness import Pack, of

POLICY = "account-switch-protected"


@pytest.mark.parametrize("switch", ACCOUNT_SWITCHES)
def test_an_unprotected_switch_fails_in_every_stack(switch: str) -> None:
    for config in ({}, {"stateful-resource-protection": {"requireProtection": False}}):
        (diag,) = of(Pack(config).analyze(switch, {}, name="switch"), POLICY)
        assert diag.level == "mandatory"
        assert "'switch'" in diag.message and "protect=True" in diag.message and "retain_on_delete" in diag.message


@pytest.mark.parametrize("switch", ACCOUNT_SWITCHES)
def test_a_protected_switch_passes(switch: str) -> None:
    assert of(Pack().analyze(switch, {}, protect=True), POLICY) == []


def test_resources_whose_deletion_turns_nothing_off_are_not_switches() -> None:
    # Deleting a DetectorFeature does not disable the feature; a bucket or a rule is judged by other policies.
    for other in (T.GUARDDUTY_FEATURE, T.S3_BUCKET, T.SNS_TOPIC):
        assert of(Pack().analyze(other, {}), POLICY) == []


def test_the_switch_list_is_configurable() -> None:
    pack = Pack({POLICY: {"switchTypes": [T.GUARDDUTY_DETECTOR]}})
    assert of(pack.analyze(T.TRAIL, {}), POLICY) == []
    assert len(of(pack.analyze(T.GUARDDUTY_DETECTOR, {}), POLICY)) == 1
