"""Rendering under mocks: what the engine would receive for a preview of a new stack."""

import json
import sys
from pathlib import Path

import pytest

from gate.errors import GateError
from gate.project import SECRET_PLACEHOLDER, load_project, load_stack_config
from gate.render import UNKNOWN, is_unknown, render

from .conftest import line_of

KEY = "aws:kms/key:Key"
ALIAS = "aws:kms/alias:Alias"
QUEUE = "aws:sqs/queue:Queue"


def _one(result, type_, name):
    matches = [r for r in result.resources if r.type == type_ and r.name == name]
    assert len(matches) == 1, [(r.type, r.name) for r in result.resources]
    return matches[0]


def test_preview_inputs_pass_through_and_id_derived_inputs_are_unknown(insecure_program):
    result = render(insecure_program, "dev")
    assert result.ok, result.errors
    key = _one(result, KEY, "data")
    assert key.inputs == {"enableKeyRotation": True, "deletionWindowInDays": 7}  # dev overrides 30
    alias = _one(result, ALIAS, "data")
    # targetKeyId=key.id: an id does not exist before the create, so the engine sees the sentinel.
    assert alias.inputs["targetKeyId"] == UNKNOWN and is_unknown(alias.inputs["targetKeyId"])
    assert alias.inputs["name"] == "alias/data"
    assert alias.property_dependencies["targetKeyId"] == [key.urn]
    assert key.urn in alias.dependencies
    assert key.id == "" and result.outputs["key_arn"] == UNKNOWN


def test_outside_preview_mocks_return_realistic_ids_and_arns(insecure_program):
    result = render(insecure_program, "dev", preview=False)
    assert result.ok, result.errors
    key = _one(result, KEY, "data")
    alias = _one(result, ALIAS, "data")
    assert key.id.startswith("data-")
    assert alias.inputs["targetKeyId"] == key.id
    assert result.outputs["key_arn"].startswith("arn:aws:kms:eu-west-1:123456789012:")


def test_invokes_are_mocked_from_stack_config(insecure_program):
    dev = render(insecure_program, "dev")
    prod = render(insecure_program, "prod")
    assert dev.outputs["account_id"] == "123456789012"
    assert dev.outputs["first_az"] == "eu-west-1a"
    assert prod.outputs["first_az"] == "eu-central-1a"


def test_urns_parents_providers_and_options_match_the_engine(insecure_program):
    result = render(insecure_program, "dev")
    stack = _one(result, "pulumi:pulumi:Stack", "gate-fixture-dev")
    plain = _one(result, QUEUE, "plain")
    # Children of the stack do not carry the stack type in their URN; children of components do.
    assert plain.urn == "urn:pulumi:dev::gate-fixture::aws:sqs/queue:Queue::plain"
    assert plain.parent == stack.urn
    component = _one(result, "fixture:queues:EncryptedQueues", "app")
    assert not component.custom and component.provider == ""
    child = _one(result, QUEUE, "app-jobs")
    assert child.urn == "urn:pulumi:dev::gate-fixture::fixture:queues:EncryptedQueues$aws:sqs/queue:Queue::app-jobs"
    assert child.parent == component.urn and child.protect is True and plain.protect is False
    provider = _one(result, "pulumi:providers:aws", "default_7_51_1")
    assert provider.inputs == {"region": "eu-west-1", "version": "7.51.1"}
    assert plain.provider_urn() == provider.urn
    assert result.resources.index(provider) < result.resources.index(plain)


def test_declaration_file_and_line_are_the_programs_own_code(insecure_program):
    result = render(insecure_program, "dev")
    plain = _one(result, QUEUE, "plain")
    assert plain.source is not None
    assert Path(plain.source.path) == insecure_program / "__main__.py"
    assert plain.source.line == line_of(insecure_program / "__main__.py", "PLANTED")
    child = _one(result, QUEUE, "app-jobs")
    queues_py = insecure_program / "components" / "queues.py"
    assert child.source is not None and Path(child.source.path) == queues_py
    assert child.source.line == line_of(queues_py, "aws.sqs.Queue(")


def test_several_stacks_in_one_process_do_not_leak_state(insecure_program):
    first_dev = render(insecure_program, "dev")
    prod = render(insecure_program, "prod")
    second_dev = render(insecure_program, "dev")
    names = lambda r: sorted(x.name for x in r.of_type(QUEUE))  # noqa: E731
    assert names(first_dev) == ["app-jobs", "plain"]
    assert names(prod) == ["app-jobs", "app-reports", "plain"]
    assert names(second_dev) == names(first_dev)
    assert sorted(r.urn for r in second_dev.resources) == sorted(r.urn for r in first_dev.resources)
    assert all(r.urn.startswith("urn:pulumi:prod::") for r in prod.resources)
    assert _one(prod, KEY, "data").inputs["deletionWindowInDays"] == 30  # schema default, not dev's 7
    assert not any(str(insecure_program) in (getattr(m, "__file__", "") or "") for m in sys.modules.values())


def test_secure_config_becomes_a_secret_placeholder(insecure_program):
    result = render(insecure_program, "dev")
    token = _one(result, "aws:ssm/parameter:Parameter", "token")
    wire = token.wire_inputs["value"]
    assert wire["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270"  # marked secret
    assert wire["value"] == SECRET_PLACEHOLDER
    dump = json.dumps([r.wire_inputs for r in result.resources]) + json.dumps(result.outputs)
    assert "FIXTURECIPHERTEXT" not in dump
    assert SECRET_PLACEHOLDER in result.secret_values


def test_program_exception_is_reported_with_its_location():
    program = Path(__file__).parent / "fixtures" / "programs" / "raises"
    result = render(program, "dev")
    assert not result.ok
    assert "ValueError at __main__.py:4" in result.errors[0] and "natGateways" in result.errors[0]
    with pytest.raises(GateError, match="natGateways"):
        result.raise_for_errors()


def test_config_values_take_the_engines_wire_form(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text(
        "name: p\nruntime: python\nconfig:\n  n: {type: integer, default: 3}\n  flag: false\n  obj: {type: object}\n")
    (tmp_path / "Pulumi.s.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  obj: {a: [1, 2]}\n  flag: true\n  other:key: 5\n")
    config = load_stack_config(load_project(tmp_path), "s")
    assert config.values == {"p:n": "3", "p:flag": "true", "aws:region": "eu-west-1",
                             "p:obj": '{"a":[1,2]}', "other:key": "5"}


def test_config_of_the_wrong_type_is_an_error_naming_the_key(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: p\nconfig:\n  azCount: {type: integer, default: 3}\n")
    (tmp_path / "Pulumi.s.yaml").write_text("config:\n  azCount: three\n")
    with pytest.raises(GateError, match="'p:azCount' must be of type integer"):
        load_stack_config(load_project(tmp_path), "s")


def test_program_packages_shadow_same_named_modules_already_imported(insecure_program, tmp_path, monkeypatch):
    # Another `components` package (like the repo's own) is already imported in this process.
    other = tmp_path / "components"
    other.mkdir()
    (other / "__init__.py").write_text("MARKER = 'other'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    previous = sys.modules.pop("components", None)
    before = importlib.import_module("components")
    try:
        result = render(insecure_program, "dev")
        assert result.ok, result.errors
        assert len(result.of_type("fixture:queues:EncryptedQueues")) == 1
        assert sys.modules["components"] is before  # restored for the caller
    finally:
        sys.modules.pop("components", None)
        if previous is not None:
            sys.modules["components"] = previous
