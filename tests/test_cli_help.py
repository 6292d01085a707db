"""What a newcomer sees first: `--version` and help that keeps every default."""

from __future__ import annotations

from typing import Any

import pytest

import curate

COMMANDS = ["snapshot", "report", "contamination", "judge", "train-annotator", "annotate", "filter", "dashboard",
            "demo"]


def test_version(cli: Any) -> None:
    result = cli("--version")
    assert result.code == 0 and result.out.strip() == f"curate {curate.__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_keeps_defaults_and_option_names(cli: Any, command: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    result = cli(command, "--help")
    assert result.code == 0
    text = " ".join(result.out.split())
    if "--db" in text:
        assert "[default: ./curate.duckdb]" in text
    assert "…" not in result.out  # option names are never cut
    assert "[default:" in text
