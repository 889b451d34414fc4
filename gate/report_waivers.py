"""`python -m gate waivers`: every waiver of every stack with its status (text or JSON)."""

from __future__ import annotations

import json
from collections import Counter

from gate.model import WaiverRecord


def render(records: list[WaiverRecord], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"waivers": [
            {"stack": w.stack, "policyPackName": w.pack, "policyName": w.policy, "resource": w.resource,
             "status": w.status, "daysLeft": w.days_left, "expires": w.expires, "owner": w.owner,
             "reason": w.reason, "ticket": w.ticket, "waivedResourceUrns": list(w.resources)}
            for w in records]}, indent=2) + "\n"
    counts = Counter(w.status for w in records)
    lines = [f"{len(records)} waiver{'' if len(records) == 1 else 's'}: "
             + ", ".join(f"{counts[s]} {s}" for s in ("active", "expiring", "expired", "unused", "undecided")
                         if counts[s])]
    for w in records:
        left = f"expired on {w.expires}" if w.days_left < 0 else f"{w.days_left} days left (expires {w.expires})"
        lines.append(f"  {w.status.upper():9} {w.stack}  {w.policy}  {w.resource}  {left}  owner {w.owner}")
        lines.append(f"            reason: {w.reason}" + (f"  ticket: {w.ticket}" if w.ticket else ""))
        lines += [f"            waived: {urn}" for urn in w.resources]
    return "\n".join(lines) + "\n"
