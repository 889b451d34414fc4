"""Waivers: one policy excused for one resource, with a reason, an owner and an expiry date.

A waiver sits in the pack config of a stack (``policies/config/<stack>.json``, the file ``pulumi
preview/up --policy-pack-config`` passes), under the policy it excuses::

    "secret-rotation-enabled": {"waivers": [{
        "resource": "platform-backend-oauth-client",       # logical name (``*`` globs) or a full URN
        "reason": "...", "owner": "...", "expires": "2027-03-31",
        "ticket": "https://..."                              # optional
    }]}

The engine validates it against the policy's config schema (``waiver_schema``); the pack checks the
dates and applies it (``policies._meta``): an active waiver turns the policy's violation on that
resource into an advisory notice of the ``waivers`` policy, an expired one is void (the violation
stands, saying the waiver expired). This module is pure (no Pulumi): the pack and the gate share it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# The day waivers are judged on: today (UTC) unless this names another ISO date — tests, and
# `python -m gate waivers --on DATE` ("what will have expired by then?"), set it.
TODAY_ENV = "POLICY_WAIVERS_TODAY"
MAX_DAYS_AHEAD = 366  # "at most one year ahead"; 366 so a date a year ahead is fine in a leap year too
EXPIRING_DAYS = 30
URN_PREFIX = "urn:pulumi:"

ACTIVE, EXPIRING, EXPIRED, UNUSED, UNDECIDED = "active", "expiring", "expired", "unused", "undecided"


class WaiverError(ValueError):
    """A waiver in a pack config is invalid; the message names the policy, the waiver and the field."""


def today(environ: Mapping[str, str] | None = None) -> dt.date:
    value = (os.environ if environ is None else environ).get(TODAY_ENV, "")
    if not value:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise WaiverError(f"{TODAY_ENV}={value!r} is not a date (YYYY-MM-DD)") from None


def waiver_schema(guarantee: bool) -> dict[str, Any]:
    """The JSON schema of a policy's `waivers` setting.  A platform guarantee is waivable only for a
    named resource: its `resource` may not hold a `*`."""
    resource: dict[str, Any] = {"type": "string", "minLength": 1,
                                "description": "Logical name (`*` matches any characters) or full URN."}
    if guarantee:
        resource["pattern"] = r"^[^*]+$"
        resource["description"] = "Logical name or full URN of one resource (a platform guarantee: no globs)."
    return {
        "type": "array",
        "description": "Resources this policy is waived for, each with a reason, an owner and an expiry date.",
        "default": [],
        "items": {
            "type": "object",
            "additionalProperties": False,
            "required": ["resource", "reason", "owner", "expires"],
            "properties": {
                "resource": resource,
                "reason": {"type": "string", "minLength": 10, "description": "Why the deviation is acceptable."},
                "owner": {"type": "string", "minLength": 1, "description": "Who approved it (team or person)."},
                "expires": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$",
                            "description": "Last day it applies (YYYY-MM-DD), at most one year ahead."},
                "ticket": {"type": "string", "pattern": r"^https?://\S+$",
                           "description": "Optional link to the ticket that tracks the deviation."},
            },
        },
    }


@dataclass(frozen=True)
class Waiver:
    policy: str
    resource: str
    reason: str
    owner: str
    expires: dt.date
    ticket: str = ""
    index: int = 0  # position in the policy's list, for messages

    @property
    def is_urn(self) -> bool:
        return self.resource.startswith(URN_PREFIX)

    def matches(self, urn: str, name: str) -> bool:
        if self.is_urn:
            return urn == self.resource
        return _glob(self.resource).fullmatch(name) is not None

    def days_left(self, on: dt.date) -> int:
        """Days the waiver still applies after `on` (0: its last day; negative: expired)."""
        return (self.expires - on).days

    def status(self, on: dt.date) -> str:
        left = self.days_left(on)
        return EXPIRED if left < 0 else EXPIRING if left < EXPIRING_DAYS else ACTIVE

    def describe(self) -> str:
        return f"waiver for {json.dumps(self.resource)} (owner {self.owner}, expires {self.expires.isoformat()})"


_GLOBS: dict[str, re.Pattern[str]] = {}


def _glob(pattern: str) -> re.Pattern[str]:
    # Only `*` is special (fnmatch would also read `?` and `[...]`, which logical names may contain).
    compiled = _GLOBS.get(pattern)
    if compiled is None:
        compiled = re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.S)
        _GLOBS[pattern] = compiled
    return compiled


def parse(policy: str, raw: Any, *, guarantee: bool, on: dt.date) -> tuple[Waiver, ...]:
    """The `waivers` setting of one policy, checked beyond its schema (dates; no glob for a platform
    guarantee; no duplicate resource).  An expiry in the past is not an error: the waiver is void."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise WaiverError(f"policy '{policy}' setting 'waivers' must be a list of waivers, got {raw!r}")
    waivers: list[Waiver] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        where = f"policy '{policy}' waivers[{index}]"
        if not isinstance(entry, Mapping):
            raise WaiverError(f"{where} must be an object with resource, reason, owner and expires")
        unknown = sorted(set(entry) - {"resource", "reason", "owner", "expires", "ticket"})
        if unknown:
            raise WaiverError(f"{where}: unknown field {', '.join(map(repr, unknown))} "
                              "(fields: resource, reason, owner, expires, ticket)")
        values = {}
        for key in ("resource", "reason", "owner", "expires"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise WaiverError(f"{where}: field '{key}' is required (a non-empty string)")
            values[key] = value.strip()
        ticket = entry.get("ticket", "")
        if not isinstance(ticket, str) or (ticket and not re.fullmatch(r"https?://\S+", ticket)):
            raise WaiverError(f"{where}: field 'ticket' must be an http(s) URL, got {ticket!r}")
        if len(values["reason"]) < 10:
            raise WaiverError(f"{where}: field 'reason' must say why (at least 10 characters)")
        resource = values["resource"]
        if guarantee and "*" in resource:
            raise WaiverError(f"{where}: field 'resource' is {resource!r}, but '{policy}' is a platform "
                              "guarantee: it can be waived only for a named resource, never a glob")
        if resource in seen:
            raise WaiverError(f"{where}: field 'resource' {resource!r} is waived twice for this policy")
        seen.add(resource)
        expires = _date(values["expires"], where)
        if (expires - on).days > MAX_DAYS_AHEAD:
            raise WaiverError(f"{where}: field 'expires' is {expires.isoformat()}, more than one year after "
                              f"{on.isoformat()}: a waiver is reviewed at least once a year")
        waivers.append(Waiver(policy=policy, resource=resource, reason=values["reason"], owner=values["owner"],
                              expires=expires, ticket=ticket, index=index))
    return tuple(waivers)


def _date(value: str, where: str) -> dt.date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise WaiverError(f"{where}: field 'expires' must be a date YYYY-MM-DD, got {value!r}") from None


def first_match(waivers: Iterable[Waiver], urn: str, name: str) -> Waiver | None:
    """The waiver that applies to a resource: a URN waiver before a glob, then config order."""
    matching = [w for w in waivers if w.matches(urn, name)]
    return min(matching, key=lambda w: (not w.is_urn, w.index)) if matching else None


def void_note(waiver: Waiver) -> str:
    return (f" (Not waived: the {waiver.describe()} expired on {waiver.expires.isoformat()}; "
            "fix the resource or renew the waiver.)")


# --- the `waivers` policy's notices: sentences for people, with a first line the gate can read -------
NOTICE = re.compile(r'^(?P<status>Waived|Expiring waiver|Expired waiver|Unused waiver|Undecided waiver): '
                    r'policy (?P<policy>"(?:[^"\\]|\\.)*") for (?P<resource>"(?:[^"\\]|\\.)*")')
_STATUS_WORDS = {ACTIVE: "Waived", EXPIRING: "Expiring waiver", EXPIRED: "Expired waiver",
                 UNUSED: "Unused waiver", UNDECIDED: "Undecided waiver"}
WAIVED = "waived"  # the notice for one waived violation


def notice(kind: str, waiver: Waiver, on: dt.date, detail: str = "", preview: bool = False) -> str:
    """`kind`: WAIVED (one waived violation, `detail` = what was waived), or a waiver status."""
    word = "Waived" if kind == WAIVED else _STATUS_WORDS[kind]
    left = waiver.days_left(on)
    when = (f"expired on {waiver.expires.isoformat()}" if left < 0 else
            f"expires {waiver.expires.isoformat()}, {left} day{'' if left == 1 else 's'} left")
    head = (f"{word}: policy {json.dumps(waiver.policy)} for {json.dumps(waiver.resource)} "
            f"({when}; owner {waiver.owner})")
    body = {
        WAIVED: f"Reason: {waiver.reason}" + (f" Ticket: {waiver.ticket}" if waiver.ticket else "")
                + (f"\nWaived violation: {detail}" if detail else ""),
        EXPIRING: "Renew it (with a new review) or fix the resource before it lapses and the violation blocks.",
        EXPIRED: "It no longer applies: the violations it covered are reported again.",
        UNUSED: ("It matches no violation in this preview (a policy that reads ids or ARNs may decide only at "
                 "update); if `pulumi up` finds none either, remove it." if preview else
                 "It matches no violation: remove it (a stale waiver would silently excuse a future one)."),
        UNDECIDED: "The policy could not run on the resources it names during preview (unknown values).",
    }.get(kind, "")
    return f"{head}.\n{body}".rstrip()


@dataclass(frozen=True)
class Notice:
    kind: str  # WAIVED or a status
    policy: str
    resource: str


def read_notice(message: str) -> Notice | None:
    """The notice in a `waivers` policy message (pulumi_policy puts the description first)."""
    for line in message.splitlines():
        match = NOTICE.match(line)
        if match:
            status = match["status"]
            kind = WAIVED if status == "Waived" else next(k for k, w in _STATUS_WORDS.items() if w == status)
            return Notice(kind=kind, policy=json.loads(match["policy"]), resource=json.loads(match["resource"]))
    return None


@dataclass
class Ledger:
    """What the pack process saw of waivers, across the engine's calls: each policy's waivers (recorded
    whenever the policy runs), the resources each waiver excused, the ones it would have excused had
    it not expired, and those a policy could not decide at preview.  Analyze calls arrive on several
    threads, so the caller holds `lock`; AnalyzeStack (where the `waivers` policy reads it) comes after
    every Analyze answered, and the `waivers` policy runs after every other stack policy."""

    declared: dict[str, tuple[Waiver, ...]] = field(default_factory=dict)
    waived: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)  # (policy, resource) -> urn -> msg
    expired_hits: set[tuple[str, str]] = field(default_factory=set)
    undecided: set[tuple[str, str]] = field(default_factory=set)

    def clear(self) -> None:
        self.declared.clear()
        self.waived.clear()
        self.expired_hits.clear()
        self.undecided.clear()

    def notices(self, on: dt.date, preview: bool = False) -> list[tuple[str, str | None]]:
        """(message, urn) for the `waivers` policy, in a stable order."""
        out: list[tuple[str, str | None]] = []
        for policy in sorted(self.declared):
            for waiver in self.declared[policy]:
                key = (policy, waiver.resource)
                hits = self.waived.get(key, {})
                for urn in sorted(hits):
                    out.append((notice(WAIVED, waiver, on, hits[urn]), urn))
                status = waiver.status(on)
                if status == EXPIRED:
                    out.append((notice(EXPIRED, waiver, on), None))
                elif not hits and key in self.undecided:
                    out.append((notice(UNDECIDED, waiver, on), None))
                elif not hits:
                    out.append((notice(UNUSED, waiver, on, preview=preview), None))
                elif status == EXPIRING:
                    out.append((notice(EXPIRING, waiver, on), None))
        return out
