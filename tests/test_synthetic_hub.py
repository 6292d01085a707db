"""The synthetic Hub mirror: reproducible, spread like the real Hub, edge cases planted, served and snapshotted."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from typer.testing import CliRunner

from collectors.synthetic_hub import iter_records, write_sample
from curate import config
from curate.cli import app
from curate.store import Store


def test_bundled_sample_is_what_the_generator_writes(tmp_path: Path) -> None:
    bundled = config.data_dir() / "hub-sample"
    fresh = write_sample(tmp_path / "hub")
    assert (fresh / "datasets.jsonl").read_bytes() == (bundled / "datasets.jsonl").read_bytes()
    assert (fresh / "authors.jsonl").read_bytes() == (bundled / "authors.jsonl").read_bytes()
    cards = sorted(p.relative_to(fresh) for p in (fresh / "cards").rglob("README.md"))
    assert cards == sorted(p.relative_to(bundled) for p in (bundled / "cards").rglob("README.md"))


def test_spread_and_edge_cases() -> None:
    records = list(iter_records(n_per_lang=120))
    licenses = Counter(next((t for t in r["tags"] if t.startswith("license:")), None) for r, _ in records)
    assert licenses[None] > 50 and len(licenses) >= 10
    assert {"license:cc-by-nc-4.0", "license:gpl-3.0", "license:cc0-1.0", "license:other"} <= set(licenses)
    n_langs = Counter(sum(t.startswith("language:") for t in r["tags"]) for r, _ in records)
    assert n_langs[1] > 0 and n_langs[2] > 0 and max(n_langs) >= 3
    cards = [c for _, c in records if c is not None]
    assert any(b"[More Information Needed]" in c for c in cards)
    assert any(b"## Considerations for Using the Data" in c for c in cards)
    assert any(b"## Uses" in c for c in cards)
    assert any(b"languages:" in c for c in cards) and any(b"license_name:" in c for c in cards)
    ids = {r["id"] for r, _ in records}
    assert {"edge-cases/ko-bad-yaml", "edge-cases/ko-latin1-card", "edge-cases/ko-disabled"} <= ids
    downloads = sorted((r["downloads"] for r, _ in records), reverse=True)
    assert downloads[0] > 20 * downloads[len(downloads) // 2]  # heavy tail


def test_demo_snapshots_the_sample(tmp_path: Path) -> None:
    sample = write_sample(tmp_path / "hub", n_per_lang=12, seed=3)
    result = CliRunner().invoke(app, ["demo", "--quick", "--out", str(tmp_path / "out"), "--sample", str(sample)])
    assert result.exit_code == 0, result.output
    with Store(tmp_path / "out" / "curate.duckdb", read_only=True) as store:
        langs = dict(store.con.execute("SELECT lang, count(*) FROM listings GROUP BY lang").fetchall())
        stages = {s for (s,) in store.con.execute("SELECT DISTINCT stage FROM errors").fetchall()}
    index = [json.loads(line) for line in (sample / "datasets.jsonl").read_text().splitlines()]
    for lang in ("ko", "ja", "zh", "en"):
        assert langs[lang] == sum(f"language:{lang}" in r["tags"] for r in index)
    assert {"card", "yaml"} <= stages
