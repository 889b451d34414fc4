"""Every stack file renders, and what holds across the whole resource graph."""

from __future__ import annotations

import json
import runpy

import pytest

from tests.conftest import rendered
from tests.harness import ROOT, Graph, render, stack_config, stacks


def test_every_stack_file_is_discovered() -> None:
    assert {"dev", "prod"} <= set(stacks())


@pytest.mark.parametrize("preview", [False, True])
def test_each_stack_renders_without_error(stack: str, preview: bool) -> None:
    graph = rendered(stack, preview)
    assert len(graph.resources) > 50


def test_a_new_environment_needs_no_code_change() -> None:
    # A stack with no file of its own: defaults from Pulumi.yaml, region given as `pulumi config set` would.
    graph = render(lambda: runpy.run_path(str(ROOT / "__main__.py")), "staging",
                   config={"aws:region": "us-east-2"})
    provider = graph.one("pulumi:providers:aws")
    assert provider["region"] == "us-east-2"
    assert len(graph.of_type("aws:ec2/natGateway:NatGateway")) == 3  # secure defaults: one NAT per AZ


def test_provider_tags_every_resource_with_the_four_required_tags(graph: Graph, stack: str) -> None:
    provider = graph.one("pulumi:providers:aws")
    # provider inputs reach the engine as JSON strings for nested objects
    tags = json.loads(provider["defaultTags"])["tags"]
    assert tags == {"Project": "secure-api-platform", "Environment": stack, "ManagedBy": "pulumi",
                    "Owner": stack_config(stack)["owner"]}
    custom = [r for r in graph if r.custom and not r.type.startswith("pulumi:providers:")]
    # every AWS resource is created through that provider (inherited from the top component)
    assert all(r.provider.startswith(provider.urn + "::") for r in custom)


def test_every_log_group_is_encrypted_with_a_cmk_and_expires(graph: Graph, stack: str) -> None:
    keys = graph.of_type("aws:kms/key:Key")
    retention = stack_config(stack)["logRetentionDays"]
    groups = graph.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert groups
    for group in groups:
        assert any(graph.depends_on(group, k) for k in keys), f"{group.name} has no CMK"
        assert group["retentionInDays"] == retention, group.name


def test_every_key_rotates(graph: Graph) -> None:
    assert all(k["enableKeyRotation"] is True for k in graph.of_type("aws:kms/key:Key"))


def test_components_use_the_platform_type_tokens(graph: Graph) -> None:
    components = [r for r in graph if not r.custom]
    assert components
    assert all(r.type.startswith("platform:") for r in components)
    assert all(r.parent for r in graph if r.type != "platform:index:SecureApiPlatform"
               and not r.type.startswith("pulumi:providers:"))
