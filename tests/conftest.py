"""Shared fixtures: whole-stack renders, cached per (stack, preview) for the session."""

from __future__ import annotations

import functools
import runpy

import pytest

from tests.harness import ROOT, Graph, render, stacks


@functools.cache
def rendered(stack: str, preview: bool = False) -> Graph:
    """The program (__main__.py) of this repo rendered as ``stack`` under mocks."""
    return render(lambda: runpy.run_path(str(ROOT / "__main__.py")), stack, preview=preview)


@pytest.fixture(params=stacks())
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def graph(stack: str) -> Graph:
    return rendered(stack)
