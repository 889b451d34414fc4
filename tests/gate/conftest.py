from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def insecure_program() -> Path:
    return FIXTURES / "programs" / "insecure"


@pytest.fixture
def basic_pack() -> Path:
    return FIXTURES / "packs" / "basic"


def line_of(path: Path, marker: str) -> int:
    """1-based line of the first line containing `marker` (so tests don't hard-code line numbers)."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in {path}")
