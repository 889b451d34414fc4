"""The one error type the gate reports as exit code 2 (the program, a pack or the config failed)."""


class GateError(Exception):
    """A failure that makes the gate's verdict impossible; the message says what failed and where."""
