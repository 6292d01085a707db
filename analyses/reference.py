"""Reference data the analyses read from ``data/`` (mappings, keyword lists): loaded once, never hard-coded."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from curate import config, sizes

FAMILIES = ("permissive", "public_domain", "copyleft", "noncommercial", "unknown", "other")
# Several licenses on one dataset: the most restrictive wins (docs/report.md). Lower rank = more restrictive.
FAMILY_RANK = {"noncommercial": 0, "copyleft": 1, "other": 2, "permissive": 3, "public_domain": 4, "unknown": 5}
PROVENANCE = ("commercial", "non-commercial", "academic-only", "unspecified")
PROVENANCE_RANK = {"academic-only": 0, "non-commercial": 1, "unspecified": 2, "commercial": 3}
OWNERSHIP = ("individual", "institute", "company", "unknown")
SIZES = sizes.buckets()  # S, M, L, XL, unknown: data/analyses/sizes.csv (curate.sizes)
MAKEUP = ("monolingual", "english_paired", "multilingual")


def _csv(path: Path) -> list[dict[str, str]]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Reference:
    licenses: pl.DataFrame        # id, family, provenance
    tasks: pl.DataFrame           # tag, category
    orgs: dict[str, str]          # lower-cased author -> ownership
    cues: list[tuple[str, str, str]]  # (cue, ownership, word|text)
    domains: dict[str, list[str]]
    instruction: dict[str, list[str]]
    sections: dict[str, Any]
    sizes: pl.DataFrame           # size_tag (lower-cased), order, size: the largest tag wins
    license_phrases: list[tuple[str, list[str]]]  # (family, regexes) in the order they are tried


def load_ownership_table(path: Path) -> dict[str, str]:
    """author,ownership rows (orgs.csv or a user's overrides file) as a lower-cased mapping."""
    from curate.errors import CurateError

    try:
        rows = _csv(path)
    except OSError as exc:
        raise CurateError(f"{path}: cannot read ownership table ({exc.strerror})") from exc
    out: dict[str, str] = {}
    for i, row in enumerate(rows, start=2):
        author, kind = (row.get("author") or "").strip(), (row.get("ownership") or "").strip()
        if not author or kind not in OWNERSHIP:
            raise CurateError(f"{path}: row {i}: need author,ownership with ownership one of {', '.join(OWNERSHIP)}")
        out[author.lower()] = kind
    return out


@cache
def load(data_dir: Path | None = None) -> Reference:
    root = (data_dir or config.data_dir())
    a = root / "analyses"
    lic = pl.DataFrame(_csv(a / "licenses.csv"))
    tasks = pl.DataFrame(_csv(a / "tasks.csv"))
    cues = [(r["cue"].lower(), r["ownership"], r["match"]) for r in _csv(root / "ownership" / "name_cues.csv")]
    return Reference(
        licenses=lic, tasks=tasks, orgs=load_ownership_table(root / "ownership" / "orgs.csv"), cues=cues,
        domains={k: [str(x) for x in v] for k, v in _yaml(a / "domains.yaml").items()},
        instruction=_yaml(a / "instruction.yaml"), sections=_yaml(a / "card_sections.yaml"),
        sizes=pl.DataFrame([{"size_tag": r["tag"].lower(), "order": int(r["order"]), "size": r["bucket"]}
                            for r in _csv(a / "sizes.csv")]),
        license_phrases=[(str(r["family"]), [str(p) for p in r["patterns"]])
                         for r in _yaml(a / "license_phrases.yaml")],
    )
