"""Which pulumi-aws resource types take a ``tags`` input, derived from the installed SDK's source.

The list is generated once (``python -m policies.taggable``) into ``taggable_types.json`` and
committed, so the pack does not import all of pulumi_aws at run time; a test regenerates it and
compares, so it stays current with the pinned pulumi-aws.
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("taggable_types.json")
_TOKEN = re.compile(r"super\(\w+, __self__\)\.__init__\(\s*'(aws:[^']+)'")
_TAGS_INPUT = '__props__.__dict__["tags"] = tags'


def scan(package_dir: Path | None = None) -> list[str]:
    """Type tokens of every resource class whose constructor stores a ``tags`` input."""
    if package_dir is None:
        import pulumi_aws  # noqa: PLC0415 - only the generator needs the (large) package

        package_dir = Path(pulumi_aws.__file__).parent
    tokens: set[str] = set()
    for source in package_dir.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        if _TAGS_INPUT in text:
            tokens.update(_TOKEN.findall(text))
    return sorted(tokens)


def render(tokens: list[str]) -> str:
    return json.dumps(tokens, indent=0) + "\n"


@cache
def taggable_types() -> frozenset[str]:
    return frozenset(json.loads(DATA_FILE.read_text(encoding="utf-8")))


def main() -> int:
    DATA_FILE.write_text(render(scan()), encoding="utf-8")
    sys.stdout.write(f"wrote {DATA_FILE} ({len(taggable_types.__wrapped__())} types)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
