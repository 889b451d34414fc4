"""What a stack's pack config may change: the environment rule ("dev may be cheaper, never more exposed").

Each policy has a category in its metadata (``PolicyDef.category``). A stack config
(``policies/config/<stack>.json``) may lower the level of, or change the settings of, *resilience* policies
only (durability, availability, retention, cost). Every other policy may only be raised: exposure policies are
mandatory by default, so a stack with no config at all gets them; operations policies may be made mandatory
where a stack wants it. ``stack_config_problems`` says where a config breaks that rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .registry import BY_NAME

_RANK = {"disabled": 0, "advisory": 1, "remediate": 2, "mandatory": 2}


def stack_config_problems(config: Mapping[str, Any], source: str = "the stack config") -> list[str]:
    """Entries of ``config`` that relax a policy that may not relax per stack (empty when it keeps the rule).

    Entries naming no policy are left to the schema checks (the gate and the pack reject them).
    """
    problems = []
    for name, value in config.items():
        policy = BY_NAME.get(name)
        if policy is None or policy.relaxable:
            continue
        level = value if isinstance(value, str) else value.get("enforcementLevel") if isinstance(value, dict) else None
        default = policy.default_level.value
        if level is not None and _RANK.get(level, -1) < _RANK[default]:
            problems.append(f"{source}: policy '{name}' is a {policy.category} policy and may not be lowered from "
                            f"{default} to {level} in one stack.")
        # A waiver (one resource, a reason, an owner, an expiry) is not a relaxed setting: any policy takes it.
        settings = sorted(k for k in value if k not in ("enforcementLevel", "waivers")) \
            if isinstance(value, dict) else []
        if settings:
            problems.append(f"{source}: policy '{name}' is a {policy.category} policy; its settings "
                            f"({', '.join(settings)}) are the same in every stack and may only change in the "
                            "pack defaults.")
    return problems
