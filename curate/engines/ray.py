"""The Ray engine: one Ray Data read task per source, then a pool of actors that each hold one worker.

Each `Task` becomes one row of a small Ray dataset; ``map_batches`` runs the reader on it in a Ray task and
streams Arrow blocks back. With a worker, a pool of actors builds it once each (a loaded model, a benchmark
index) and applies it to batch after batch: one actor per GPU when the device is CUDA (Ray hands each actor
its own GPU), else one per ``cpus_per_actor`` CPU slots. Reading is light next to the worker: it then takes
no CPU slot, so it never waits behind the actors. Ray Data is asked to keep order, so the driver gets the
tables in corpus order, exactly as from the local engine, and writes the same output.

Which cluster: ``address`` (``--ray-address``), else ``RAY_ADDRESS``, else a local Ray started for the run
(and shut down after it). An already-initialised Ray (a notebook, a test) is used as it is.

Ray's driver prints the cluster's error messages ("(raylet) A worker died ...") to ``sys.stdout`` from a
background thread, whatever ``log_to_driver`` says; during a session ``sys.stdout`` points at ``sys.stderr``
so a command's stdout (``--format json``) stays machine-readable (a CI failure taught this).

This module is named after the engine; inside it ``import ray`` is Ray itself (absolute imports).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any

import pyarrow as pa

from curate import config
from curate.engines import Reader, Task, WorkerFactory, apply_worker
from curate.errors import CurateError


def _import_ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise CurateError(f"--engine ray is not available here ({exc}); install curate[scale] (ray[data]) "
                          "or use --engine local") from exc
    return ray


def local_runtime_env() -> dict[str, Any]:
    """Let workers of a Ray started here import this very copy of curate (a source checkout, not only an install)."""
    root = str(Path(__file__).resolve().parents[2])
    return {"env_vars": {"PYTHONPATH": os.pathsep.join([root, *config.python_path()])}}


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
        target = config.ray_address(address)
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
    """Ray Data may reorder blocks for speed; the commands need corpus order, so ask for it during a run.

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


def plan_actors(ray: Any, device: str, num_actors: int | None, cpus_per_actor: float) -> tuple[int, str, dict[str, Any]]:
    """(pool size, device for the actors, Ray resources per actor) from the cluster's GPUs and CPUs."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    use_gpu = device.startswith("cuda") or (device == "auto" and gpus > 0)
    if use_gpu:
        if gpus == 0:
            raise CurateError("--device cuda with --engine ray, but the Ray cluster has no GPUs")
        return num_actors or gpus, "cuda", {"num_gpus": 1, "num_cpus": cpus_per_actor}
    cpus = int(resources.get("CPU", 1))
    return num_actors or max(1, int(cpus // cpus_per_actor)), "cpu", {"num_cpus": cpus_per_actor}


def _read_udf(batch: pa.Table, read: Reader) -> Iterator[pa.Table]:
    # Sources travel as bytes (os.fsencode): a file name need not be valid UTF-8, and Arrow strings must be.
    rows = zip(batch.column("index").to_pylist(), batch.column("source").to_pylist(),
               batch.column("skip").to_pylist(), strict=True)
    for index, source, skip in rows:
        for table in read(Task(index, os.fsdecode(source), skip)):
            if table.num_rows:
                yield table


class _Actor:
    """Builds the worker once for its lifetime, with one compute thread per CPU slot it was given."""

    def __init__(self, work: WorkerFactory, device: str, threads: int | None) -> None:
        if threads:
            try:
                import torch

                torch.set_num_threads(threads)
            except ImportError:
                pass
        self.worker = work(device)

    def __call__(self, batch: pa.Table) -> pa.Table:
        return apply_worker(self.worker, batch)


class RayEngine:
    """`curate.engines.Engine` on Ray Data: one task per source, an actor pool for the worker, order kept."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, num_actors: int | None = None,
                 cpus_per_actor: float = 1.0, env: dict[str, str] | None = None) -> None:
        _import_ray()  # fails now, before any work, where Ray is not installed
        self.address = address
        self.num_cpus = num_cpus
        self.num_actors = num_actors
        self.cpus_per_actor = cpus_per_actor
        # Environment the tasks and actors run with (e.g. HF_ENDPOINT for a run against a Hub mirror): given
        # to Ray as their runtime environment, never written into this process's environment.
        self.remote_args: dict[str, Any] = {"runtime_env": {"env_vars": dict(env)}} if env else {}
        self.workers: int = 0  # the actor pool's size and device, once a run has planned them
        self.device: str | None = None

    def run(self, tasks: Sequence[Task], read: Reader, work: WorkerFactory | None = None, *,
            device: str = "cpu", batch_rows: int | None = None) -> Iterator[pa.Table]:
        if not tasks:
            return
        with ray_session(self.address, self.num_cpus) as ray, ordered_quiet_data():
            items = [{"index": t.index, "source": os.fsencode(t.source), "skip": t.skip} for t in tasks]
            ds = ray.data.from_items(items, override_num_blocks=len(items))
            if work is None:
                ds = ds.map_batches(_read_udf, batch_size=1, batch_format="pyarrow", fn_kwargs={"read": read},
                                    **self.remote_args)
            else:
                size, actor_device, resources = plan_actors(ray, device, self.num_actors, self.cpus_per_actor)
                self.workers, self.device = size, actor_device
                ds = ds.map_batches(_read_udf, batch_size=1, batch_format="pyarrow", num_cpus=0,
                                    fn_kwargs={"read": read}, **self.remote_args)
                ds = ds.map_batches(_Actor, batch_size=batch_rows, batch_format="pyarrow",
                                    compute=ray.data.ActorPoolStrategy(size=size),
                                    fn_constructor_kwargs={"work": work, "device": actor_device,
                                                           "threads": max(1, int(self.cpus_per_actor))},
                                    **resources, **self.remote_args)
            for block in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                if block.num_rows:
                    yield block
