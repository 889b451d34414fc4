"""`python -m gate`.  Run with the interpreter that has the project's dependencies (`.venv`, made by
`make setup`): another Python fails on the first third-party import, which becomes a one-line hint."""

import sys

try:
    from gate.cli import main
except ModuleNotFoundError as exc:  # e.g. the system python3 instead of .venv/bin/python
    if (exc.name or "").partition(".")[0] == "gate":
        raise  # the gate's own module: a bug, not a missing dependency
    sys.exit(f"gate: this Python ({sys.executable}) lacks the dependency {exc.name!r}: run `make preview`, "
             "or `make setup` once and then `.venv/bin/python -m gate`")

sys.exit(main(own_process=True))
