"""The filter's two corpus passes as Ray Data pipelines.

Each source (a corpus file, or a Hub id) becomes one row of a small Ray dataset; ``map_batches`` runs
`curate.filtering.sources.scan_source` / `export_source` on it in a Ray task and streams the result back as
Arrow blocks. Order is preserved, and the driver does the vectorised decision and the shard writing exactly
as the local engine does, so both engines produce the same shards byte for byte; Ray only parallelises the
expensive part (parsing, language id, reading texts) across a machine's cores or a cluster's nodes.

Which cluster: ``address`` (``--ray-address``), else ``RAY_ADDRESS``, else a local Ray started for the run
(and shut down after it). An already-initialised Ray (a notebook, a test) is used as it is.

Ray's driver prints the cluster's error messages ("(raylet) A worker died ...") to ``sys.stdout`` from a
background thread, whatever ``log_to_driver`` says; during a session ``sys.stdout`` points at ``sys.stderr``
so a command's stdout (``--format json``) stays machine-readable.
"""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from curate.errors import CurateError
from curate.filtering.sources import ReadSpec, export_source, scan_source


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise CurateError("--engine ray needs Ray Data: pip install 'curate[scale]' (ray[data])") from exc
    return ray


def local_runtime_env() -> dict[str, Any]:
    """Let workers of a Ray started here import this very copy of curate (a source checkout, not only an install)."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    return {"env_vars": {"PYTHONPATH": path}}


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """Ray for the length of a run: joined at ``address``/``RAY_ADDRESS``, or local; reused if already up.

    Ray's own messages go to stderr while the session lasts (see the module docstring).
    """
    ray = _import_ray()
    with redirect_stdout(sys.stderr):
        if ray.is_initialized():
            yield ray
            return
        target = address or os.environ.get("RAY_ADDRESS") or None
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if target is None:
            kwargs.update(num_cpus=num_cpus, runtime_env=local_runtime_env())
        try:
            ray.init(address=target, **kwargs)
        except Exception as exc:  # ConnectionError, ValueError, RuntimeError depending on what is wrong
            raise CurateError(f"cannot start or join Ray at {target or 'a new local instance'}: {exc}") from exc
        try:
            yield ray
        finally:
            ray.shutdown()  # stops the thread that prints cluster errors before stdout is given back


@contextmanager
def ordered_quiet_data() -> Iterator[None]:
    """Ray Data may reorder blocks for speed; the filter needs corpus order, so ask for it during a run.

    Ray Data also logs every operator's progress at INFO; curate has its own progress, so only warnings pass.
    """
    from ray.data import DataContext

    options = DataContext.get_current().execution_options
    logger = logging.getLogger("ray.data")
    before, level = options.preserve_order, logger.level
    options.preserve_order = True
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        options.preserve_order = before
        logger.setLevel(level)


def _scan_udf(batch: pa.Table, spec: ReadSpec, detect: bool, lid_model: str | None,
              batch_size: int) -> Iterator[pa.Table]:
    for index, source in zip(batch.column("index").to_pylist(), batch.column("source").to_pylist(), strict=True):
        yield from scan_source(index, source, spec, detect, lid_model, batch_size)


def _export_udf(batch: pa.Table, spec: ReadSpec, score_columns: list[str], batch_size: int) -> Iterator[pa.Table]:
    rows = zip(batch.column("source").to_pylist(), batch.column("kept").to_pylist(), strict=True)
    for source, kept_ipc in rows:
        kept = pl.read_ipc(io.BytesIO(kept_ipc))
        yield from export_source(source, spec, kept, score_columns, batch_size)


def _ipc(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_ipc(buf)
    return buf.getvalue()


class RayEngine:
    """`curate.filtering.pipeline.Engine` on Ray Data: one task per source, results streamed back in order."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus

    def _run(self, items: list[dict[str, Any]], udf: Any, fn_kwargs: dict[str, Any]) -> Iterator[pa.Table]:
        if not items:
            return
        with ray_session(self.address, self.num_cpus) as ray, ordered_quiet_data():
            ds = ray.data.from_items(items, override_num_blocks=len(items))
            ds = ds.map_batches(udf, batch_size=1, batch_format="pyarrow", fn_kwargs=fn_kwargs)
            for block in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                if block.num_rows:
                    yield block

    def scan(self, sources: list[str], spec: ReadSpec, detect: bool, lid_model: str | None,
             batch_size: int) -> Iterator[pa.Table]:
        items = [{"index": i, "source": s} for i, s in enumerate(sources)]
        yield from self._run(items, _scan_udf, {"spec": spec, "detect": detect, "lid_model": lid_model,
                                                "batch_size": batch_size})

    def export(self, sources: list[str], spec: ReadSpec, kept: dict[int, pl.DataFrame], score_columns: list[str],
               batch_size: int) -> Iterator[pa.Table]:
        items = [{"source": sources[i], "kept": _ipc(kept[i])} for i in sorted(kept)]
        yield from self._run(items, _export_udf, {"spec": spec, "score_columns": score_columns,
                                                  "batch_size": batch_size})
