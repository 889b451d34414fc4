"""Stack settings: undeclared (typo'd) keys are errors with a suggestion, and every settings error names the
stack file and line of the value to fix."""

import shutil

import pytest

from gate.errors import GateError
from gate.project import load_project, load_stack_config
from gate.render import render

from .conftest import REPO_ROOT, line_of

SCHEMA = """name: shop
runtime: python
config:
  logRetentionDays: {type: integer, default: 365}
  throttleRateLimit: {type: integer, default: 500}
  throttleBurstLimit: {type: integer, default: 1000}
"""


def _project(tmp_path, stack_text, schema=SCHEMA):
    (tmp_path / "Pulumi.yaml").write_text(schema)
    (tmp_path / "Pulumi.dev.yaml").write_text(stack_text)
    return load_project(tmp_path)


def test_misspelled_keys_are_errors_naming_the_key_file_line_and_the_key_meant(tmp_path):
    stack = "config:\n  aws:region: eu-west-1\n  logRetentionDay: 30\n  throtleRateLimit: 50\n"
    with pytest.raises(GateError) as error:
        load_stack_config(_project(tmp_path, stack), "dev")
    stack_file = tmp_path / "Pulumi.dev.yaml"
    assert str(error.value).splitlines() == [
        f"{stack_file}:{line_of(stack_file, 'logRetentionDay:')}: config key 'logRetentionDay' is not declared in "
        "Pulumi.yaml; did you mean 'logRetentionDays'?",
        f"{stack_file}:{line_of(stack_file, 'throtleRateLimit')}: config key 'throtleRateLimit' is not declared in "
        "Pulumi.yaml; did you mean 'throttleRateLimit'?",
    ]


def test_a_provider_key_its_sdk_does_not_declare_is_an_error_too(tmp_path):
    with pytest.raises(GateError, match=r"Pulumi.dev.yaml:2: config key 'aws:regoin' is not a setting of the aws "
                                         r"provider; did you mean 'aws:region'\?"):
        load_stack_config(_project(tmp_path, "config:\n  aws:regoin: eu-west-1\n"), "dev")
    # Keys the provider declares, and namespaces without an installed SDK, are accepted.
    config = load_stack_config(_project(tmp_path, "config:\n  aws:profile: ci\n  acme:anything: 1\n"), "dev")
    assert config.values["aws:profile"] == "ci" and config.values["acme:anything"] == "1"


def test_a_project_without_a_schema_accepts_any_key_as_pulumi_does(tmp_path):
    config = load_stack_config(_project(tmp_path, "config:\n  count: 3\n", schema="name: free\nruntime: python\n"),
                               "dev")
    assert config.values["free:count"] == "3"


def test_type_errors_name_the_line_of_the_value_in_the_stack_file_or_in_pulumi_yaml(tmp_path):
    with pytest.raises(GateError, match=r"Pulumi.dev.yaml:3: config key 'shop:throttleRateLimit' must be of type "
                                         r"integer, got str 'fast'"):
        load_stack_config(_project(tmp_path, "config:\n  aws:region: eu-west-1\n  throttleRateLimit: fast\n"), "dev")
    bad_default = SCHEMA.replace("default: 365", "default: a year")
    with pytest.raises(GateError, match=r"Pulumi.yaml:4: config key 'shop:logRetentionDays' must be of type integer"):
        load_stack_config(_project(tmp_path, "config: {}\n", schema=bad_default), "dev")


def test_the_platforms_settings_errors_point_at_the_stack_file_lines(tmp_path):
    # The platform's own program and settings module, with a stack file whose burst is below its rate.
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    stack_file = tmp_path / "Pulumi.bad.yaml"
    stack_file.write_text("config:\n  aws:region: eu-west-1\n  throttleRateLimit: 50\n  throttleBurstLimit: 10\n")
    config = load_stack_config(load_project(tmp_path), "bad")
    result = render(REPO_ROOT, "bad", config=config, project=load_project(REPO_ROOT))
    assert not result.ok
    (error,) = result.errors
    assert "throttleBurstLimit: must be >= throttleRateLimit" in error  # the program's own message ...
    assert f"\n  throttleBurstLimit: {stack_file}:{line_of(stack_file, 'throttleBurstLimit')}" in error
    assert f"\n  throttleRateLimit: {stack_file}:{line_of(stack_file, 'throttleRateLimit')}" in error


def test_a_key_left_at_its_default_points_at_pulumi_yaml(tmp_path):
    shutil.copy(REPO_ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.bad.yaml").write_text("config:\n  aws:region: eu-west-1\n  throttleBurstLimit: 10\n")
    config = load_stack_config(load_project(tmp_path), "bad")
    result = render(REPO_ROOT, "bad", config=config, project=load_project(REPO_ROOT))
    project_file = tmp_path / "Pulumi.yaml"
    assert (f"\n  throttleRateLimit: {project_file}:{line_of(project_file, '  throttleRateLimit:')} (the default)"
            in result.errors[0])
