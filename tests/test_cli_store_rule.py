"""Where read-only commands find the store, and `curate dashboard` stopping its server with it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from curate.store import Store


def _snapshot_store(path: Path) -> None:
    from tests.hubdir import snapshot_bundled_sample

    snapshot_bundled_sample(path, langs=("ko",), top=5, authors=False)


def test_report_reads_the_demo_store_when_there_is_no_other(tmp_path: Path, cli: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CURATE_DB")
    _snapshot_store(tmp_path / "curate-demo" / "curate.duckdb")
    result = cli("report", "--lang", "ko", "--format", "json")
    assert result.code == 0, result.err
    assert "demo's store curate-demo/curate.duckdb" in result.err
    # A writer never falls back: a first real snapshot must not land in the demo's store.
    from curate import config

    assert config.db_path() == Path("curate.duckdb")
    # Once ./curate.duckdb exists, it is the one read.
    Store(tmp_path / "curate.duckdb").close()
    result = cli("report", "--lang", "ko")
    assert result.code == 1 and "no snapshot yet" in result.err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.timeout(90)
def test_sigterm_to_dashboard_stops_the_streamlit_server(tmp_path: Path) -> None:
    pytest.importorskip("streamlit")
    db = tmp_path / "s.duckdb"
    _snapshot_store(db)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "curate", "dashboard", "--db", str(db), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert proc.poll() is None, "curate dashboard exited before serving"
            assert time.monotonic() < deadline, "the dashboard never started serving"
            time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        deadline = time.monotonic() + 20
        while _listening(port):
            assert time.monotonic() < deadline, "the Streamlit child still serves the port after SIGTERM"
            time.sleep(0.3)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_dashboard_passes_scores_roots_to_the_app(tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("streamlit")
    import curate.cli.dashboard as dashboard_cli

    seen: list[list[str]] = []
    monkeypatch.setattr(dashboard_cli, "_serve", lambda cmd: seen.append(cmd) or 0)
    db = tmp_path / "s.duckdb"
    Store(db).close()
    result = cli("dashboard", "--db", db, "--scores-root", tmp_path / "a", "--scores-root", tmp_path / "b")
    assert result.code == 0, result.err
    cmd = seen[0]
    assert cmd[cmd.index("--") + 1:] == ["--db", str(db), "--scores-root", str(tmp_path / "a"),
                                        "--scores-root", str(tmp_path / "b")]
