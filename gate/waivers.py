"""Waivers as the gate reports them.

The pack applies waivers itself (``policies/_waivers.py``, shared with the gate): a waived violation
reaches the gate as a notice of the pack's advisory ``waivers`` policy, as it reaches ``pulumi up``.
Here the notices become report entries: each waived violation becomes a ``waived`` finding of the
policy it belongs to (never blocking), and each configured waiver gets a status (active, expiring,
expired, unused, undecided) from what the pack said about it.  The config's waivers are checked
before any pack runs, so a bad date is an error naming the config file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from gate.errors import GateError
from gate.model import WAIVED, Diagnostic, PackMeta, WaiverRecord
from policies import _waivers as W

WAIVERS_POLICY = "waivers"
Declared = dict[tuple[str, str], tuple[W.Waiver, ...]]  # (pack, policy) -> its waivers


def today() -> dt.date:
    try:
        return W.today()
    except W.WaiverError as exc:
        raise GateError(str(exc)) from None


def declared(pack: PackMeta, config: dict[str, dict[str, Any]], source: str, on: dt.date) -> Declared:
    """Every policy's waivers in one pack's reconciled config, checked as the pack will check them."""
    out: Declared = {}
    for policy, entry in config.items():
        raw = entry.get("waivers")
        if not raw:
            continue
        if pack.policy(WAIVERS_POLICY) is None:
            raise GateError(f"{source}: policy {policy!r} has waivers, but pack {pack.name!r} does not apply "
                            f"waivers (it has no {WAIVERS_POLICY!r} policy)")
        try:
            out[(pack.name, policy)] = W.parse(policy, raw, guarantee=False, on=on)
        except W.WaiverError as exc:
            raise GateError(f"{source}: {exc}") from None
    return out


PREVIEW_UNUSED = ("matched nothing at preview; a policy that reads ids or ARNs decides at update "
                  "(`--update`, `python -m gate waivers`)")


def resolve(stack: str, diagnostics: list[Diagnostic], waivers: Declared, metas: Iterable[PackMeta],
            levels: dict[tuple[str, str], str], on: dt.date,
            preview: bool = False) -> tuple[list[Diagnostic], list[WaiverRecord]]:
    """(diagnostics with the `waivers` notices turned into waived findings, each waiver's record)."""
    by_name = {m.name: m for m in metas}
    kinds: dict[tuple[str, str, str], set[str]] = {}
    hits: dict[tuple[str, str, str], list[Diagnostic]] = {}
    others: list[Diagnostic] = []
    for d in diagnostics:
        notice = W.read_notice(d.message) if d.policy_name == WAIVERS_POLICY else None
        if notice is None:
            others.append(d)
            continue
        key = (d.policy_pack_name, notice.policy, notice.resource)
        kinds.setdefault(key, set()).add(notice.kind)
        if notice.kind == W.WAIVED:
            hits.setdefault(key, []).append(d)
    records: list[WaiverRecord] = []
    waived: list[Diagnostic] = []
    for (pack, policy), entries in sorted(waivers.items()):
        for waiver in entries:
            key = (pack, policy, waiver.resource)
            found = hits.get(key, [])
            status = _status(waiver, kinds.get(key, set()), bool(found), on)
            record = WaiverRecord(
                stack=stack, pack=pack, policy=policy, resource=waiver.resource, reason=waiver.reason,
                owner=waiver.owner, expires=waiver.expires.isoformat(), ticket=waiver.ticket,
                status=status, days_left=waiver.days_left(on),
                resources=tuple(sorted(d.resource_urn for d in found)),
                note=PREVIEW_UNUSED if preview and status == W.UNUSED else "")
            records.append(record)
            meta = by_name[pack].policy(policy) if pack in by_name else None
            for d in found:
                waived.append(dataclasses.replace(
                    d, policy_name=policy, category=WAIVED, waiver=record,
                    description=meta.description if meta else d.description,
                    severity=meta.severity if meta else "",
                    enforcement_level=levels.get((pack, policy), "advisory"),
                    message=d.message.partition("\nWaived violation: ")[2] or d.message))
    return others + sorted(waived, key=lambda d: (d.policy_name, d.resource_urn)), records


def _status(waiver: W.Waiver, kinds: set[str], used: bool, on: dt.date) -> str:
    if W.EXPIRED in kinds or waiver.status(on) == W.EXPIRED:
        return W.EXPIRED
    if not used:
        # No notice at all: the pack never ran the policy (disabled), so the waiver excused nothing.
        return W.UNDECIDED if W.UNDECIDED in kinds else W.UNUSED
    return waiver.status(on)


# A waiver used in one mode (preview or update) is used: `pulumi preview` and `pulumi up` both read it.
# Unused in a mode that decided beats undecided; a preview's unused (noted) loses to an update's.
_MERGE_ORDER = (W.EXPIRED, W.EXPIRING, W.ACTIVE, W.UNUSED, W.UNDECIDED)


def _rank(record: WaiverRecord) -> tuple[int, bool]:
    return _MERGE_ORDER.index(record.status), bool(record.note)


def merge(runs: Iterable[Iterable[WaiverRecord]]) -> list[WaiverRecord]:
    """One record per (stack, pack, policy, resource) over several runs, the most telling status first."""
    merged: dict[tuple[str, str, str, str], WaiverRecord] = {}
    for records in runs:
        for r in records:
            key = (r.stack, r.pack, r.policy, r.resource)
            old = merged.get(key)
            if old is None or _rank(r) < _rank(old):
                resources = tuple(sorted(set(r.resources) | set(old.resources if old else ())))
                merged[key] = dataclasses.replace(r, resources=resources)
            else:
                merged[key] = dataclasses.replace(old, resources=tuple(sorted(set(r.resources) | set(old.resources))))
    return list(merged.values())
