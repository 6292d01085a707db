"""The docs keep up with the code: every command is in the README, every public function of `import curate`
in docs/python.md with each of its parameters."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import click
import typer

import curate
from curate.cli import app

ROOT = Path(__file__).resolve().parents[1]


def _commands(group: click.Group, prefix: str = "curate") -> list[str]:
    out = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out += _commands(command, f"{prefix} {name}")
        else:
            out.append(f"{prefix} {name}")
    return out


def test_every_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = _commands(typer.main.get_command(app))
    assert len(commands) >= 10
    missing = [c for c in commands if c not in readme]
    assert not missing, f"README.md does not mention {missing}"


def _section(text: str, name: str) -> str:
    match = re.search(rf"^### `curate\.{name}`\n(.*?)(?=^### |\Z)", text, re.S | re.M)
    assert match, f"docs/python.md has no section for curate.{name}"
    return match.group(1)


def test_every_public_function_is_documented_with_its_parameters() -> None:
    text = (ROOT / "docs" / "python.md").read_text(encoding="utf-8")
    functions = [n for n in curate.__all__ if n[0].islower() and not n.startswith("_")]
    assert {"snapshot", "report", "check_contamination", "judge", "agreement", "train_annotator", "annotate",
            "filter_corpus"} <= set(functions)
    for name in functions:
        section = _section(text, name)
        signature = inspect.signature(getattr(curate, name))
        undocumented = [p for p in signature.parameters if not re.search(rf"\b{p}\b", section)]
        assert not undocumented, f"docs/python.md: curate.{name} does not mention {undocumented}"
        for param in signature.parameters.values():  # defaults as documented
            if param.default is not inspect.Parameter.empty and param.default not in ((), None, False):
                shown = re.search(rf"\b{param.name}=([^,)]+)", section)
                assert shown, f"docs/python.md: curate.{name} gives no default for {param.name}"
                assert ast.literal_eval(shown.group(1).strip()) == param.default, (name, param.name)
    classes = [n for n in curate.__all__ if n[0].isupper()]
    for name in classes:
        assert f"`curate.{name}`" in text, f"docs/python.md does not mention curate.{name}"


def test_the_cli_holds_no_sql_and_writes_no_environment() -> None:
    """The CLI parses, calls `curate.api` and prints: queries live in the store, settings in the API."""
    for path in (ROOT / "curate" / "cli").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        for pattern in (r"\.execute\(", r"\.sql\(", r"os\.environ\[", r"os\.environ\.(setdefault|update|pop)",
                        r"os\.putenv"):
            assert not re.search(pattern, source), f"{path.name}: {pattern}"
