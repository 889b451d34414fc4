"""Transforms applied as the engine applies them: stack, resource and invoke transforms, legacy
transformations, option inheritance from a transformed parent."""

import json

import pytest

from gate.cli import main
from gate.render import UNKNOWN, render

from .conftest import FIXTURES, line_of

PROGRAM = FIXTURES / "programs" / "transforms"
QUEUE = "aws:sqs/queue:Queue"


def _named(result, name):
    (res,) = [r for r in result.resources if r.name == name]
    return res


@pytest.fixture(scope="module", params=[True, False], ids=["preview", "update"])
def rendered(request):
    result = render(PROGRAM, "dev", preview=request.param)
    assert result.ok, result.errors
    return result


def test_a_stack_transform_reaches_every_resource_after_the_legacy_transformation(rendered):
    plain = _named(rendered, "plain")
    key = _named(rendered, "queues")
    # Legacy transformations run in the SDK first, new-style transforms in the engine afterwards.
    assert plain.inputs["tags"] == {"CostCentre": "42", "Owner": "platform-team"}
    expected_key = UNKNOWN if rendered.preview else f"arn:aws:kms:eu-west-1:123456789012:key/{key.id}"
    assert plain.inputs["kmsMasterKeyId"] == expected_key
    assert "tags" not in key.inputs  # the transform leaves keys alone
    for queue in rendered.of_type(QUEUE):
        assert queue.inputs["tags"]["Owner"] == "platform-team"


def test_protect_set_by_a_components_transform_reaches_the_component_and_its_children(rendered):
    store = _named(rendered, "orders")
    child = _named(rendered, "orders-items")
    assert store.protect is True and child.protect is True
    assert _named(rendered, "plain").protect is False


def test_a_resource_transform_keeps_dependencies_and_drops_per_property_ones_as_the_engine_does(rendered):
    own = _named(rendered, "own")
    key = _named(rendered, "queues")
    assert own.protect is True
    assert key.urn in own.dependencies
    # The Python SDK returns transformed properties as plain values, so the engine re-reads no
    # per-property dependency from them (source_eval.go: "Reparse the dependency information").
    assert not own.property_dependencies.get("delaySeconds")


def test_an_invoke_transform_changes_the_arguments_the_provider_sees(rendered):
    statements = json.loads(rendered.outputs["document"])["Statement"]
    assert {"Sid": "DenyOthers", "Effect": "Deny", "NotAction": "sqs:SendMessage", "Resource": "*"} in statements


def test_the_pack_sees_what_the_transforms_added(tmp_path):
    out = tmp_path / "gate.json"
    code = main(["--program", str(PROGRAM), "--policy-pack", str(FIXTURES / "packs" / "options"),
                 "--format", "json", "--output", str(out)])
    events = json.loads(out.read_text())["policyEvents"]
    assert events == [] and code == 0


def test_a_failing_transform_fails_the_render_with_its_own_message(tmp_path):
    program = tmp_path / "broken"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: broken\nruntime: python\n")
    (program / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n")
    (program / "__main__.py").write_text(
        "import pulumi\nimport pulumi_aws as aws\n\n"
        "def boom(args):\n    raise ValueError('no queues here')\n\n"
        "pulumi.runtime.register_resource_transform(boom)\n"
        "aws.sqs.Queue('q')\n")
    result = render(program, "dev")
    assert not result.ok
    assert "no queues here" in result.errors[0] and line_of(program / "__main__.py", "raise ValueError") > 0
