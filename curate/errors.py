"""User-facing errors.

A `CurateError` is a failure of the work that the CLI prints as one line and turns into exit code 1;
anything else is a bug and keeps its traceback (with ``--debug``).
"""


class CurateError(Exception):
    """A failure the user can act on; its message is printed as one line."""


class UsageError(CurateError):
    """Arguments that do not fit together (the CLI exits with 2, as for its own usage errors).

    ``param`` names the command-line option at fault, for the CLI's message."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param
