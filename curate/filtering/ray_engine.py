"""Moved to `curate.engines.ray` (one Ray engine for annotate, filter and contamination); kept for imports."""

from curate.engines.ray import RayEngine, local_runtime_env, ordered_quiet_data, ray_session

__all__ = ["RayEngine", "local_runtime_env", "ordered_quiet_data", "ray_session"]
