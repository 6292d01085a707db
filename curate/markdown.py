"""The one Markdown table writer, for the report (analyses.render) and the filter's dataset card
(curate.filtering.card)."""

from __future__ import annotations

from collections.abc import Sequence


def _cell(value: str) -> str:
    # A | would end the cell and a line break the row: neither is in an id or a number, but a card's license
    # name or a language label could carry one.
    return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table, one line per row, without a trailing newline."""
    lines = ["| " + " | ".join(map(_cell, header)) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(map(_cell, r)) + " |" for r in rows]
    return "\n".join(lines)
