"""Share of checkov's AWS checks (for the services this platform uses or a PR adds) that this pack covers.

Reads bench/peers/checkov_aws.yaml (one judged entry per check; how the list was made is in its header) and
prints: all checks, the security-relevant ones, covered / partially covered / not covered, and the uncovered ones
with their reason.  Check level: a check counts as covered when a pack policy fails the check's failing fixtures
in the forms checkov tests (tests/policies exercise those forms); this is not a per-fixture count.

Run: .venv/bin/python bench/peer_coverage.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAPPING = Path(__file__).resolve().parent / "peers" / "checkov_aws.yaml"


def load() -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = yaml.safe_load(MAPPING.read_text())
    return entries


def main() -> None:
    entries = load()
    security = [e for e in entries if e.get("security", True)]
    covered = [e for e in security if e.get("policy") and not e.get("partial")]
    partial = [e for e in security if e.get("policy") and e.get("partial")]
    missing = [e for e in security if not e.get("policy")]
    print(f"checkov AWS checks in scope: {len(entries)}; security-relevant: {len(security)}")
    print(f"  covered {len(covered)}, partially {len(partial)}, not covered {len(missing)} "
          f"-> {len(covered) / len(security):.0%} fully, {(len(covered) + len(partial)) / len(security):.0%} "
          "at least partially")
    for e in missing:
        print(f"  not covered {e['id']}: {e['reason']}")
    for e in partial:
        print(f"  partial {e['id']} ({e['policy']}): {e['partial']}")


if __name__ == "__main__":
    main()
