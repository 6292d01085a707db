"""The `curate` command line: a thin skin over the library.

Each command lives in its own module under `curate.cli` and only parses arguments, calls one function of the
Python API (`curate.api`) and prints its result. `main()` turns a `CurateError` into one line on stderr and
exit code 1 (the traceback only with ``--debug``); typer's usage errors, and the API's `UsageError`, exit
with 2.
"""

from __future__ import annotations

import sys

import typer

from curate.cli.app import app, state
from curate.errors import CurateError, UsageError

# Importing a command module registers its commands on `app`.
from curate.cli import (  # noqa: F401  isort: skip
    annotate,
    contamination,
    dashboard,
    demo,
    filter,
    hub,
    judge,
    report,
    snapshot,
)

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: typer handles usage errors (exit 2); work failures exit 1 in one line."""
    try:
        app(args=argv, prog_name="curate")
    except UsageError as exc:  # arguments the API refused: a usage error, as typer's own
        if state.debug:
            raise
        typer.echo(f"error: {exc}" + (f" ({exc.param})" if exc.param and exc.param not in str(exc) else ""),
                   err=True)
        sys.exit(2)
    except CurateError as exc:
        if state.debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        if state.debug:
            raise
        typer.echo(f"error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", err=True)
        sys.exit(1)
