"""Where in the program something happened: the innermost stack frame that is the program's own code."""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourceLocation:
    path: str  # absolute
    line: int

    def relative_to(self, root: Path) -> str:
        try:
            return Path(self.path).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return Path(self.path).as_posix()


_EXCLUDED_DIRS = tuple(
    {str(Path(p).resolve()) + os.sep for p in (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"],
                                             sysconfig.get_paths()["platlib"], Path(__file__).parent)}
)


@functools.lru_cache(maxsize=8192)  # called for every frame of every registration; paths repeat
def is_user_file(path: str) -> bool:
    """A file of the program under test: not the standard library, an installed package or the gate."""
    if not path or path.startswith("<"):
        return False
    resolved = str(Path(path).resolve())
    if "site-packages" in resolved or "dist-packages" in resolved:
        return False
    return not resolved.startswith(_EXCLUDED_DIRS)


def caller_location(skip: int = 1) -> SourceLocation | None:
    """The innermost frame of the current call stack in the program's own code (None if none is)."""
    frame = sys._getframe(skip)
    while frame is not None:
        if is_user_file(frame.f_code.co_filename):
            return SourceLocation(path=frame.f_code.co_filename, line=frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return None


@dataclass(frozen=True)
class Notice:
    """Something a render could not model faithfully, or that the provider would reject, and where the
    program did it.  `kind` and `level` are those of `gate.model.GateDiagnostic`."""

    kind: str
    level: str
    message: str
    subject: str = ""
    location: SourceLocation | None = None
