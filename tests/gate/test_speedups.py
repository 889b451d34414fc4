"""The render's SDK stand-ins give the SDK's own answers, surface the same failures, and are undone."""

import gc
import sys
import textwrap
from pathlib import Path

from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import stack as sdk_stack

from gate import sdk_speedups
from gate.render import render


class _Resource:
    """Three nested __init__ frames, as in Resource <- CustomResource <- a concrete resource class."""

    def __init__(self, capture):
        self.trace = capture()


class _Custom(_Resource):
    def __init__(self, capture):
        super().__init__(capture)


class _Concrete(_Custom):
    def __init__(self, capture):
        super().__init__(capture)


def _user_code(capture):
    return _Concrete(capture).trace


def test_stack_trace_matches_the_sdk_frame_for_frame():
    # Both captured from the same line, so every frame outside the __init__ chain is the same.
    ours, sdks = [_user_code(capture) for capture in (sdk_speedups.stack_trace, sdk_resource._get_stack_trace)]
    assert len(sdks.frames) > 2
    assert ours == sdks
    top = sdks.frames[0].pc
    assert top.uri == Path(__file__).as_uri()
    assert top.line == _user_code.__code__.co_firstlineno + 1  # the call inside _user_code


def test_stack_trace_is_empty_without_three_init_frames_like_the_sdk():
    assert sdk_speedups.stack_trace() == sdk_resource._get_stack_trace()
    assert len(sdk_speedups.stack_trace().frames) == 0


def _program(tmp_path: Path, body: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\n")
    (tmp_path / "Pulumi.s.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (tmp_path / "__main__.py").write_text(textwrap.dedent(body))
    return tmp_path


def test_outputs_are_all_awaited_and_their_values_exported(tmp_path):
    program = _program(tmp_path, """
        import pulumi
        import pulumi_aws as aws

        queues = [aws.sqs.Queue(f"q{i}", delay_seconds=i) for i in range(30)]
        total = pulumi.Output.all(*[q.delay_seconds for q in queues]).apply(sum)
        chained = total.apply(lambda t: pulumi.Output.from_input(t).apply(lambda v: v * 2))
        pulumi.export("total", total)
        pulumi.export("chained", chained)
    """)
    result = render(program, "s")
    assert result.ok, result.errors
    assert result.outputs == {"total": sum(range(30)), "chained": 2 * sum(range(30))}
    assert len(result.of_type("aws:sqs/queue:Queue")) == 30


def test_a_failing_output_fails_the_render_with_its_location(tmp_path):
    program = _program(tmp_path, """
        import pulumi

        def explode(_):
            raise RuntimeError("cannot compute the bucket name")

        # Not exported nor passed to a resource: only the wait for outstanding outputs can see it fail.
        name = pulumi.Output.from_input(1).apply(explode)
    """)
    result = render(program, "s")
    assert not result.ok
    assert "RuntimeError at __main__.py:5: cannot compute the bucket name" in result.errors[0]


def test_the_sdk_and_the_collector_are_restored_after_a_render(insecure_program):
    originals = (sdk_resource._get_stack_trace, sdk_stack.wait_for_rpcs)
    assert gc.isenabled()
    seen: dict[str, object] = {}

    def on_resource(_res):
        # During the render the stand-ins are in place and the collector is paused.
        seen.update(trace=sdk_resource._get_stack_trace, wait=sdk_stack.wait_for_rpcs, gc=gc.isenabled())

    assert render(insecure_program, "dev", on_resource=on_resource).ok
    assert seen == {"trace": sdk_speedups.stack_trace, "wait": sdk_speedups.wait_for_rpcs, "gc": False}
    assert (sdk_resource._get_stack_trace, sdk_stack.wait_for_rpcs) == originals
    assert gc.isenabled()
    # A program that raises restores them as well.
    assert not render(Path(__file__).parent / "fixtures" / "programs" / "raises", "dev").ok
    assert (sdk_resource._get_stack_trace, sdk_stack.wait_for_rpcs) == originals and gc.isenabled()
    assert "gate.sdk_speedups" in sys.modules


def test_on_resource_sees_every_resource_in_order_and_complete(insecure_program):
    streamed = []
    snapshots = []

    def on_resource(res):
        streamed.append(res)
        snapshots.append((res.urn, res.provider, res.properties.SerializeToString()))

    result = render(insecure_program, "dev", on_resource=on_resource)
    assert result.ok, result.errors
    assert [r.urn for r in streamed] == [r.urn for r in result.resources]
    assert all(a is b for a, b in zip(streamed, result.resources, strict=True))
    # What was streamed is final: the default provider was already attached, nothing changed later.
    assert snapshots == [(r.urn, r.provider, r.properties.SerializeToString()) for r in result.resources]
    provider = next(r for r in result.resources if r.type == "pulumi:providers:aws")
    queue = next(r for r in result.resources if r.name == "plain")
    assert queue.provider_urn() == provider.urn
    assert streamed.index(provider) < streamed.index(queue)
