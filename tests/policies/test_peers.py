"""bench/peers/checkov_aws.yaml names real policies that claim the check, and every entry says why if not."""

from __future__ import annotations

from pathlib import Path

import yaml

from policies.registry import BY_NAME

MAPPING = Path(__file__).resolve().parents[2] / "bench" / "peers" / "checkov_aws.yaml"


def test_every_peer_check_is_judged_and_names_a_policy_of_the_pack() -> None:
    entries = yaml.safe_load(MAPPING.read_text())
    assert len({e["id"] for e in entries}) == len(entries) > 100
    for e in entries:
        if e.get("policy"):
            assert e["policy"] in BY_NAME, e
        else:
            assert e.get("reason"), e
