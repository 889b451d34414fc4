"""Policy config reconciliation: precedence and validation like the engine."""

import pytest

from gate.errors import GateError
from gate.model import PackMeta, PolicyMeta
from gate.policy_config import reconcile

PACK = PackMeta(
    name="p", version="1.0.0", directory="/x",
    policies=(
        PolicyMeta(name="a", description="", enforcement_level="mandatory",
                   config_schema={"limit": {"type": "integer", "minimum": 1, "default": 5}}, required=("limit",)),
        PolicyMeta(name="b", description="", enforcement_level="advisory"),
    ),
    initial_config={"a": {"limit": 10}, "b": {"enforcementLevel": "disabled"}},
)


def test_precedence_defaults_then_initial_config_then_file():
    assert reconcile(PACK, {}, "f") == {"a": {"enforcementLevel": "mandatory", "limit": 10},
                                        "b": {"enforcementLevel": "disabled"}}
    merged = reconcile(PACK, {"all": "advisory", "a": {"limit": 2}, "b": "mandatory"}, "f")
    assert merged == {"a": {"enforcementLevel": "advisory", "limit": 2}, "b": {"enforcementLevel": "mandatory"}}


def test_schema_violations_name_the_policy_and_property():
    with pytest.raises(GateError, match=r"policy 'a' of pack p@1.0.0: limit: 0 is less than the minimum of 1"):
        reconcile(PACK, {"a": {"limit": 0}}, "f")


def test_names_known_to_another_pack_are_accepted():
    assert "c" not in reconcile(PACK, {"c": "advisory"}, "f", frozenset({"c"}))
    with pytest.raises(GateError, match="unknown policy 'c'"):
        reconcile(PACK, {"c": "advisory"}, "f")
