"""The `waivers` policy: what the stack's waivers did, reported at advisory level.

A waiver is applied by the policy it excuses (``_meta``): that policy reports nothing for the waived
resource, and this policy — advisory, so a waived violation never blocks — says so, naming the waiver.
It also reports waivers that are expiring (within 30 days), expired (void: the violation is reported
again by its policy) or unused.  It runs last in AnalyzeStack, after every Analyze call and every
other stack policy, when the pack's ledger of waivers is complete.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import Severity

from ._meta import stack_policy, waiver_notices
from ._model import Stack


@stack_policy(
    name="waivers",
    description="Waivers excuse one policy for one resource, with a reason, an owner and an expiry date.",
    severity=Severity.LOW,
    category="operations",
    controls=("Waivers",),
    remediation="Fix the resource or renew an expiring waiver (with a new review); remove an unused waiver. "
                "See RULES.md, Waivers.",
    waivable=False,
)
def waivers(stack: Stack, cfg: Mapping[str, Any]) -> Iterator[tuple[str, str | None]]:
    yield from waiver_notices(preview=os.environ.get("PULUMI_DRY_RUN") == "true")
