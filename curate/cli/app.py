"""The typer application and the options every command shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer


@dataclass
class _State:
    debug: bool = False


state = _State()

app = typer.Typer(
    name="curate",
    help="Audit the Hugging Face Hub and curate multilingual pretraining data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich markup ate every "[default: ...]" and cut option names at 80 columns
)


def _print_version(value: bool) -> None:
    if value:
        from curate import __version__

        typer.echo(f"curate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """curate: snapshots and analyses of Hub datasets, contamination checks, LLM judges, JQL-style filtering."""
    state.debug = debug


DbOption = Annotated[
    Path | None,
    typer.Option("--db", envvar="CURATE_DB", help="DuckDB store file [default: ./curate.duckdb].", show_default=False),
]
OverwriteOption = Annotated[
    bool,
    typer.Option("--overwrite", help="Replace an output that already exists (without it, such a run stops before any "
                                     "work). A folder curate did not write is never replaced."),
]
EndpointOption = Annotated[
    str | None,
    typer.Option("--endpoint", help="Hub endpoint; overrides HF_ENDPOINT [default: https://huggingface.co]."),
]


def store_to_read(db: Path | None) -> Path:
    """The store a read-only command opens (see `curate.config.db_path`), saying so when it is the demo's."""
    from curate import config

    path = config.db_path(db, reading=True)
    if db is None and path == Path(config.DEMO_DB):
        typer.echo(f"reading the demo's store {path} (no ./curate.duckdb; pass --db to choose)", err=True)
    return path


def command_line(ctx: typer.Context) -> str:
    """The running command as typed: ``curate``, the subcommand, and the arguments and options given on its
    command line (not those from the environment or defaults), in the command's order of parameters.

    Built from the parsed parameters (the command's ``typer.Context``) rather than ``sys.argv``, so it is the
    same under the console script, ``python -m curate`` and a command that calls another one in-process
    (``curate demo``).
    """
    import shlex

    words = ["curate", *ctx.command_path.split()[1:]]
    for param in ctx.command.params:
        name = param.name or ""
        value = ctx.params.get(name)
        source = ctx.get_parameter_source(name)
        if source is None or source.name != "COMMANDLINE" or value is None:
            continue
        many = isinstance(value, list | tuple)
        if param.param_type_name == "argument":
            words += [_word(v) for v in (value if many else [value])]
            continue
        if getattr(param, "is_flag", False) and isinstance(value, bool):
            if value:
                words.append(param.opts[0])
            elif param.secondary_opts:
                words.append(param.secondary_opts[0])
            continue
        for item in value if many else [value]:
            words += [param.opts[0], _word(item)]
    return shlex.join(words)


def _word(value: object) -> str:
    from enum import Enum

    return str(value.value if isinstance(value, Enum) else value)
