"""The one error type the gate reports as exit code 2 (the program, a pack or the config failed)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GateError(Exception):
    """A failure that makes the gate's verdict impossible; the message says what failed and where."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the closest choices, or nothing when none is close."""
    close = difflib.get_close_matches(word, list(choices), n=3)
    return f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
