"""User-facing errors.

A `CurateError` is a failure of the work that the CLI prints as one line and turns into exit code 1;
anything else is a bug and keeps its traceback (with ``--debug``).
"""


class CurateError(Exception):
    """A failure the user can act on; its message is printed as one line."""
