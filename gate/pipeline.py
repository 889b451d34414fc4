"""One stack's policy check, overlapped with rendering.

The engine calls Analyze for each resource as its step runs and AnalyzeStack once the whole graph is
known; the gate does the same in time: `StackCheck.on_resource` (the render's callback) queues each
resource as soon as it is registered, and a driver thread handshakes and configures the stack's
packs and sends the Analyze requests while the program is still rendering, so the pack processes
(other cores) work in parallel with the program.  `finish` then waits for those answers, sends
AnalyzeStack with the complete graph and builds the report; the caller runs it on a thread of its
own so that the next stack renders meanwhile.  Results are collected in resource order and packs in
the given order, so the report does not depend on timing.

What a pack receives is unchanged: the same requests, each resource's Analyze after its provider's
(providers register before their users), AnalyzeStack after every Analyze of that pack answered.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gate import report, waivers
from gate.analyzer import PolicyPackProcess
from gate.errors import GateError
from gate.model import PREVIEW, Component, Diagnostic, GateDiagnostic, PackMeta, StackReport
from gate.policy_config import read_config_file, reconcile
from gate.render import PROVIDER_PREFIX, SECRET_SIG, CapturedResource, RenderResult, iter_secret_strings
from gate.source import SourceLocation

_SECRET_SIG_BYTES = SECRET_SIG.encode()
_END = None  # queued after the last resource
# Analyze calls outstanding per pack.  Enough to keep the pack busy; bounded because a gRPC server
# holds calls its application has not picked up yet in a pending queue that, past ~1,000 calls,
# cancels some of them at random (seen as CANCELLED at 2,000 resources sent at once).
IN_FLIGHT = 64


def pack_configs(stack: str, metas: list[PackMeta], packs: list[Path],
                 explicit: list[tuple[Path, dict[str, Any]]]) -> list[tuple[int, str, dict[str, dict[str, Any]]]]:
    """(pack index, config source, reconciled policy config) per pack, as sent with Configure: the
    given `--policy-pack-config` file(s), else `<pack>/config/<stack>.json` when it exists."""
    all_names = frozenset(p.name for m in metas for p in m.policies)
    out = []
    for index, meta in enumerate(metas):
        if explicit:
            source_path, user = explicit[0] if len(explicit) == 1 else explicit[index]
            source = str(source_path)
        else:
            default = packs[index] / "config" / f"{stack}.json"
            source, user = (str(default), read_config_file(default)) if default.is_file() else ("(none)", {})
        others = all_names - {p.name for p in meta.policies}
        out.append((index, source, reconcile(meta, user, f"policy pack config {source}", others)))
    return out


def _in_stable_order(diagnostics: list[Diagnostic], meta: PackMeta) -> list[Diagnostic]:
    """One pack's Analyze (or AnalyzeStack) results by policy, then resource URN.  The SDK registers
    resources from several threads, so registration order (and with it the order the pack answers
    in) can differ from one run to the next; the report should not."""
    position = {p.name: i for i, p in enumerate(meta.policies)}
    return sorted(diagnostics, key=lambda d: (position.get(d.policy_name, len(position)), d.policy_name,
                                              d.resource_urn))


class StackCheck:
    """Feeds one stack's resources to its pack processes while it renders; `finish` completes it."""

    def __init__(self, stack: str, procs: list[PolicyPackProcess], packs: list[Path],
                 explicit: list[tuple[Path, dict[str, Any]]], log: Callable[[str], None],
                 mode: str = PREVIEW) -> None:
        self.stack = stack
        self.mode = mode
        self.procs = procs
        self.packs = packs
        self.explicit = explicit
        self.metas: list[PackMeta] = []
        self.policies_run = 0
        self.today = waivers.today()
        self.waivers: waivers.Declared = {}
        self.levels: dict[tuple[str, str], str] = {}
        self._log = log
        self._queue: queue.SimpleQueue[CapturedResource | None] = queue.SimpleQueue()
        # Per pack, in resource order: (resource, Analyze future or None if sent at the end).
        self._pending: list[list[tuple[CapturedResource, Any]]] = [[] for _ in procs]
        self._providers: dict[str, CapturedResource] = {}
        self._in_flight: list[collections.deque[Any]] = [collections.deque() for _ in procs]
        self._error: BaseException | None = None
        self._driver = threading.Thread(target=self._drive, name=f"gate-analyze-{stack}", daemon=True)
        self._driver.start()

    # --- while rendering (render's worker threads + the driver thread) -----------------------------
    def on_resource(self, res: CapturedResource) -> None:
        self._queue.put(res)

    def _drive(self) -> None:
        try:
            self._configure()
            while (res := self._queue.get()) is not _END:
                self._submit(res)
        except BaseException as exc:  # re-raised by finish(), after any render error
            self._error = exc

    def _configure(self) -> None:
        self.metas = [proc.handshake() for proc in self.procs]
        for index, source, config in pack_configs(self.stack, self.metas, self.packs, self.explicit):
            meta = self.metas[index]
            self.waivers.update(waivers.declared(meta, config, f"policy pack config {source}", self.today))
            self.levels.update({(meta.name, policy): entry["enforcementLevel"] for policy, entry in config.items()})
            self.procs[index].configure(config)
            self.policies_run += sum(entry["enforcementLevel"] != "disabled" for entry in config.values())
            if source != "(none)":
                self._log(f"[{self.stack}] {self.mode}: {self.metas[index].name}@{self.metas[index].version}: "
                          f"config {source}")

    def _submit(self, res: CapturedResource) -> None:
        if res.type.startswith(PROVIDER_PREFIX):
            self._providers[res.urn] = res
        # Providers register before the resources that use them; should one not have, its users wait
        # for the end, when every provider is known (the request is then the same as the engine's).
        ready = not res.provider or res.provider_urn() in self._providers
        for index, proc in enumerate(self.procs):
            future = proc.submit_analyze(res, self._providers) if ready else None
            self._pending[index].append((res, future))
            if future is not None:
                window = self._in_flight[index]
                window.append(future)
                if len(window) > IN_FLIGHT:
                    with contextlib.suppress(Exception):  # read (and reported) by finish(), in order
                        window.popleft().result()

    # --- after rendering (a thread per stack, so the next stack renders meanwhile) ----------------
    def abandon(self) -> None:
        """The render failed: stop the driver (answers still in flight are dropped with the packs)."""
        self._queue.put(_END)
        self._driver.join()

    def finish(self, result: RenderResult, locate: Callable[[CapturedResource], tuple[str, int]],
               place: Callable[[SourceLocation | None], tuple[str, int]] | None = None) -> StackReport:
        started = time.perf_counter()
        self._queue.put(_END)
        self._driver.join()
        if self._error is not None:
            raise self._error
        resources = result.resources
        providers = {r.urn: r for r in resources if r.type.startswith(PROVIDER_PREFIX)}
        # Per pack: its Analyze answers, then (like the engine, once every resource was analyzed) its
        # AnalyzeStack, which runs while the next pack's answers are collected.  A failure is raised
        # in pack order, Analyze before AnalyzeStack, as if the packs had been driven one by one.
        steps: list[tuple[list[Diagnostic], Any] | GateError] = []
        for index, proc in enumerate(self.procs):
            try:
                analyzed = [d for res, future in self._pending[index]
                            for d in proc.analyze_result(res, future or proc.submit_analyze(res, providers),
                                                         locate)]
            except GateError as exc:
                steps.append(exc)
                break
            steps.append((analyzed, proc.submit_analyze_stack(resources, providers)))
        diagnostics: list[Diagnostic] = []
        for proc, meta, step in zip(self.procs, self.metas, steps, strict=False):
            if isinstance(step, GateError):
                raise step
            diagnostics += _in_stable_order(step[0], meta)
            diagnostics += _in_stable_order(proc.analyze_stack_result(resources, step[1], locate), meta)
        secrets = set(result.secret_values)
        for res in resources:
            # Only a resource with a secret in its inputs has anything to redact (cheap check first).
            if _SECRET_SIG_BYTES in res.properties.SerializeToString():
                secrets.update(iter_secret_strings(res.wire_inputs))
        diagnostics, records = waivers.resolve(self.stack, diagnostics, self.waivers, self.metas, self.levels,
                                               self.today, preview=self.mode == PREVIEW)
        elapsed = time.perf_counter() - started
        self._log(f"[{self.stack}] {self.mode}: analyzed by {len(self.procs)} pack(s), {elapsed:.2f} s after "
                  f"rendering: {len(diagnostics)} diagnostic(s)")
        modes = (self.mode,)
        gate_diagnostics = [
            GateDiagnostic(stack=self.stack, kind=n.kind, level=n.level, message=n.message, subject=n.subject,
                           file=where[0], line=where[1], modes=modes)
            for n in result.notices for where in [place(n.location) if place else ("", 0)]]
        return StackReport(
            stack=self.stack,
            project=result.project,
            resource_count=len(resources),
            resource_types=dict(Counter(r.type for r in resources)),
            render_seconds=result.seconds,
            analyze_seconds=elapsed,
            diagnostics=[dataclasses.replace(report.redact(d, secrets), modes=modes) for d in diagnostics],
            warnings=result.warnings,
            policies_run=self.policies_run,
            gate_diagnostics=gate_diagnostics,
            waivers=records,
            **component_tree(resources),
        )


def component_tree(resources: list[CapturedResource]) -> dict[str, Any]:
    """The stack's components (non-custom resources, the root stack included) and, for every
    resource, the URN of the nearest component it sits in (itself when it is one)."""
    by_urn = {r.urn: r for r in resources}
    components = [Component(urn=r.urn, type=r.type, name=r.name, parent=r.parent)
                  for r in resources if not r.custom]
    owner: dict[str, str] = {}
    for res in resources:
        current: CapturedResource | None = res
        while current is not None and current.custom:
            current = by_urn.get(current.parent)
        if current is not None:
            owner[res.urn] = current.urn
    return {"components": components, "owner": owner}


def merge_modes(reports: list[StackReport]) -> StackReport:
    """One stack's reports from several modes (preview, then update) as one: each finding once, with
    the modes it appeared in; counts from the first mode, times summed."""
    first = reports[0]
    if len(reports) == 1:
        return first
    diagnostics: dict[tuple[Any, ...], Diagnostic] = {}
    gate_diagnostics: dict[tuple[Any, ...], GateDiagnostic] = {}
    for stack_report in reports:
        for d in stack_report.diagnostics:
            key = (d.policy_pack_name, d.policy_name, d.resource_urn, d.category, d.message)
            seen = diagnostics.get(key)
            diagnostics[key] = d if seen is None else dataclasses.replace(seen, modes=seen.modes + d.modes)
        for g in stack_report.gate_diagnostics:
            gkey = (g.kind, g.level, g.message, g.subject, g.file, g.line)
            gseen = gate_diagnostics.get(gkey)
            gate_diagnostics[gkey] = g if gseen is None else dataclasses.replace(gseen, modes=gseen.modes + g.modes)
    return dataclasses.replace(
        first,
        render_seconds=sum(r.render_seconds for r in reports),
        analyze_seconds=sum(r.analyze_seconds for r in reports),
        diagnostics=list(diagnostics.values()),
        warnings=list(dict.fromkeys(w for r in reports for w in r.warnings)),
        gate_diagnostics=list(gate_diagnostics.values()),
        waivers=waivers.merge(r.waivers for r in reports),
    )
