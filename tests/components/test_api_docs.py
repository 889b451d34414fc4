"""The stage publishes the route table's documentation: parts, the snapshot, and the stage pointing at it."""

from __future__ import annotations

import json

import pytest

from components.openapi import documentation_parts, documentation_version
from tests.components.test_api import T_API, T_AUTHORIZER, T_METHOD, T_MODEL, T_STAGE, Edge, edge

T_PART = "aws:apigateway/documentationPart:DocumentationPart"
T_VERSION = "aws:apigateway/documentationVersion:DocumentationVersion"


@pytest.fixture
def rendered(stack: str) -> Edge:
    return edge(stack)


def test_every_documentation_part_is_published_for_the_api(rendered: Edge) -> None:
    g = rendered.graph
    api = g.one(T_API)
    expected = {json.dumps(p.location, sort_keys=True): p.properties for p in documentation_parts()}
    parts = g.of_type(T_PART)
    published = {json.dumps(p["location"], sort_keys=True): json.loads(p["properties"]) for p in parts}
    assert published == expected
    for part in parts:
        assert g.depends_on(part, api)
        # A part names its entity by path and method: it must not be created before that entity exists.
        for entity in g.of_type(T_METHOD) + g.of_type(T_MODEL) + [g.one(T_AUTHORIZER)]:
            assert g.depends_on(part, entity)


def test_the_stage_shows_a_snapshot_taken_after_every_part(rendered: Edge) -> None:
    g = rendered.graph
    version = g.one(T_VERSION)
    assert version["version"] == documentation_version(documentation_parts())
    assert all(g.depends_on(version, part) for part in g.of_type(T_PART))
    stage = g.one(T_STAGE)
    assert stage["documentationVersion"] == version["version"]
    assert g.depends_on(stage, version)
    assert rendered.outputs["documentation_version"] == version["version"]


def test_a_first_preview_knows_the_documentation() -> None:
    """Nothing is hidden in an apply: a preview with unknown ids already shows every part and the version."""
    g = edge("prod", preview=True).graph
    assert len(g.of_type(T_PART)) == len(documentation_parts())
    assert g.one(T_VERSION)["version"] == documentation_version(documentation_parts())
