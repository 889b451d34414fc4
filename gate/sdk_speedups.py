"""Linear-time stand-ins for three costs of running a large program under the Python SDK.

They change how fast a render runs, never what it registers; `sdk_speedups()` installs them for
the duration of one render (renders are serialized by `gate.render._RENDER_LOCK`) and restores
the SDK's own functions afterwards.

- `stack_trace`: the SDK captures each registration's call stack with
  `traceback.extract_stack()`, which also loads every frame's source line through `linecache`
  (a stat per frame) and builds a `file://` URI per frame.  This walks the frames directly and
  caches the URI per file; the `StackTrace` message is the same (same frames, same cut after the
  third `__init__`, same positions).
- `wait_for_rpcs`: after the program body the SDK waits for outstanding outputs with
  `asyncio.wait(all_pending, FIRST_COMPLETED)` in a loop; each round re-registers a callback on
  every pending task, so the wait is quadratic in the number of outputs (about a third of the
  render of a 2,000-resource program).  This version registers one callback per task and awaits
  tasks in the order they complete: the same tasks are awaited, and the first failure (in
  completion order) is raised, as before.
- The cyclic garbage collector is paused: a render allocates hundreds of thousands of long-lived
  objects (outputs, tasks, futures) on top of the imported provider SDK, so the collector's full
  passes re-scan an ever larger heap (22 full collections, 6.4 s, for a 2,000-resource program).
  Memory is reclaimed once the collector is re-enabled after the render.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import stack as sdk_stack
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.settings import SETTINGS

_URIS: dict[str, str | None] = {}


def _uri(filename: str) -> str | None:
    """`Path(filename).as_uri()` as the SDK computes it, None where the SDK gives no position."""
    try:
        return _URIS[filename]
    except KeyError:
        pass
    try:
        uri: str | None = pathlib.Path(filename).as_uri()
    except ValueError:  # a relative name ("<frozen runpy>"): the SDK gives no position either
        uri = None
    _URIS[filename] = uri
    return uri


def stack_trace() -> source_pb2.StackTrace:
    """Same result as `pulumi.runtime.resource._get_stack_trace` (see the module docstring)."""
    frames: list[Any] = []  # innermost first
    frame: Any = sys._getframe(0)  # stands where the SDK's own `_get_stack_trace` frame would be
    seen_inits = 0
    cut = -1
    while frame is not None:
        code = frame.f_code
        if cut < 0 and code.co_name == "__init__":
            seen_inits += 1
            if seen_inits == 3:
                cut = len(frames)
        frames.append(frame)
        frame = frame.f_back
    if cut < 0:
        return source_pb2.StackTrace()
    out = []
    for outer in frames[cut + 1:]:
        filename, line = outer.f_code.co_filename, outer.f_lineno
        uri = _uri(filename) if filename and line is not None else None
        pos = source_pb2.SourcePosition(uri=uri, line=line) if uri is not None else None
        out.append(source_pb2.StackFrame(pc=pos))
    return source_pb2.StackTrace(frames=out)


async def wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
    """`pulumi.runtime.stack.wait_for_rpcs` in linear time (see the module docstring)."""
    rpc_manager = sdk_stack._get_rpc_manager()
    while True:
        while len(rpc_manager.rpcs) > 0:
            await asyncio.sleep(0)
            try:
                await rpc_manager.rpcs.pop()
            except Exception as exn:
                if rpc_manager.unhandled_exception is not None:
                    cause = rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
                    raise exn from cause
                raise
        if rpc_manager.unhandled_exception is not None:
            raise rpc_manager.unhandled_exception.with_traceback(rpc_manager.exception_traceback)
        if await_all_outstanding_tasks:
            await _await_outputs()
        if len(rpc_manager.rpcs) == 0:
            break


async def _await_outputs() -> None:
    loop = asyncio.get_running_loop()
    completed: collections.deque[asyncio.Task[Any]] = collections.deque()
    tracked: set[asyncio.Task[Any]] = set()
    wakeup: list[asyncio.Future[None]] = []

    def on_done(task: asyncio.Task[Any]) -> None:
        completed.append(task)
        if wakeup and not wakeup[0].done():
            wakeup[0].set_result(None)

    while True:
        # Outputs created while we wait are picked up on the next round, as the SDK does.
        with SETTINGS.lock:
            fresh = list(SETTINGS.outputs)
            SETTINGS.outputs.clear()
        for task in fresh:
            if task not in tracked:
                tracked.add(task)
                task.add_done_callback(on_done)
        if not completed:
            if not tracked:
                return
            wakeup[:] = [loop.create_future()]
            await wakeup[0]
            continue
        task = completed.popleft()
        tracked.discard(task)
        await task  # re-raises the task's exception, like the SDK's loop


@contextlib.contextmanager
def sdk_speedups() -> Iterator[None]:
    """Install the stand-ins and pause the cyclic GC for one render; restore everything after."""
    saved_trace, saved_wait = sdk_resource._get_stack_trace, sdk_stack.wait_for_rpcs
    gc_was_enabled = gc.isenabled()
    sdk_resource._get_stack_trace = stack_trace
    sdk_stack.wait_for_rpcs = wait_for_rpcs
    gc.disable()
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = saved_trace
        sdk_stack.wait_for_rpcs = saved_wait
        if gc_was_enabled:
            gc.enable()
