"""iter_documents on a Hub dataset id: the real `datasets.load_dataset(streaming=True)` path, on loopback.

The loopback Hub (collectors/hub_server.py) serves the repo's files; `datasets` and `huggingface_hub` read
their endpoint, cache folders and offline flags once at import, so the fixture points those module
constants at the server and at this test's tmp dir (setting the environment now would be too late).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from collectors.hub_server import HubServer, serve
from curate.corpus import iter_documents
from curate.errors import CurateError
from tests.hubdir import make_hub, record

TRAIN = [{"doc": f"tr-{i}", "body": f"학습 문서 {i}", "n": i} for i in range(6)]
TEST = [{"doc": f"te-{i}", "body": f"test document {i}", "n": i} for i in range(4)]


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    """A mirror holding ``acme/bench`` (train and test splits under data/) served on loopback."""
    import datasets
    import huggingface_hub.constants as hf_constants
    from huggingface_hub import HfFileSystem

    card = b"---\nlicense: mit\nlanguage:\n- ko\n---\n# acme/bench\n"
    extra = [(record("acme/bench", sha="ab" * 20), card), (record("acme/bench-parquet", sha="cd" * 20), None),
             (record("acme/locked", gated="manual"), card)]
    root = make_hub(tmp_path / "hub", n_per_lang=1, extra=extra)
    _write_jsonl(root / "files" / "acme" / "bench" / "data" / "train-00000.jsonl", TRAIN)
    _write_jsonl(root / "files" / "acme" / "bench" / "data" / "test-00000.jsonl", TEST)
    _write_jsonl(root / "files" / "acme" / "locked" / "data" / "train-00000.jsonl", TRAIN)
    (root / "files" / "acme" / "bench-parquet" / "data").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(TRAIN * 50), root / "files" / "acme" / "bench-parquet" / "data" /
                   "train-00000.parquet", row_group_size=100)

    cache = tmp_path / "hf-cache"
    with serve(root) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
        monkeypatch.setattr(hf_constants, "ENDPOINT", server.url)
        monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                            server.url + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(cache / "hub"))
        monkeypatch.setattr(hf_constants, "AGENT_HARNESSES_PATH", str(cache / "agents.json"), raising=False)
        monkeypatch.setattr(datasets.config, "HF_ENDPOINT", server.url)
        monkeypatch.setattr(datasets.config, "HUB_DATASETS_URL",
                            server.url + "/datasets/{repo_id}/resolve/{revision}/{path}")
        monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache / "datasets")
        monkeypatch.setattr(datasets.config, "HF_MODULES_CACHE", cache / "modules")
        monkeypatch.setattr(datasets.config, "DOWNLOADED_DATASETS_PATH", str(cache / "datasets" / "downloads"))
        # The parquet-export lookup asks datasets-server.<host>: nothing answers that on loopback.
        monkeypatch.setattr(datasets.config, "USE_PARQUET_EXPORT", False)
        yield server
    # fsspec caches file systems by endpoint: a later server on a reused port must not see this listing
    HfFileSystem.clear_instance_cache()


def test_hub_id_streams_the_requested_split(hub: HubServer) -> None:
    docs = list(iter_documents("acme/bench", split="test", text_field="body", id_field="doc"))
    assert [(d.id, d.text) for d in docs] == [(r["doc"], r["body"]) for r in TEST]
    # the rows came from the data file through the resolve route, not from somewhere else
    assert any(p.endswith("/data/test-00000.jsonl") for _, p in hub.hits)


def test_hub_id_default_split_is_train(hub: HubServer) -> None:
    docs = list(iter_documents("acme/bench", text_field="body", id_field="doc"))
    assert [d.id for d in docs] == [r["doc"] for r in TRAIN]
    assert docs[0].text == "학습 문서 0"


def test_parquet_repo_without_card_streams(hub: HubServer) -> None:
    docs = list(iter_documents("acme/bench-parquet", text_field="body", id_field="doc"))
    assert [d.id for d in docs] == [r["doc"] for r in TRAIN * 50]
    assert docs[-1].line == len(TRAIN) * 50


def test_gated_hub_id_without_token_is_one_clear_error(hub: HubServer) -> None:
    with pytest.raises(CurateError, match=r"acme/locked: cannot open Hub dataset .*gated"):
        list(iter_documents("acme/locked", text_field="body", id_field="doc"))


def test_unknown_hub_id_is_one_clear_error(hub: HubServer) -> None:
    with pytest.raises(CurateError, match=r"acme/nothing-here: cannot open Hub dataset .*doesn't exist"):
        list(iter_documents("acme/nothing-here", text_field="body", id_field="doc"))


def test_unknown_split_is_one_clear_error(hub: HubServer) -> None:
    with pytest.raises(CurateError, match=r"acme/bench: cannot open Hub dataset .*validation.*'train', 'test'"):
        list(iter_documents("acme/bench", split="validation", text_field="body", id_field="doc"))


def test_hffilesystem_lists_and_reads_ranges(hub: HubServer) -> None:
    from huggingface_hub import HfFileSystem

    fs = HfFileSystem(endpoint=hub.url, skip_instance_cache=True)
    names = sorted(fs.glob("datasets/acme/bench/**/*.jsonl"))
    assert names == ["datasets/acme/bench/data/test-00000.jsonl", "datasets/acme/bench/data/train-00000.jsonl"]
    whole = (hub.data.root / "files" / "acme" / "bench" / "data" / "train-00000.jsonl").read_bytes()
    assert fs.info("datasets/acme/bench/data/train-00000.jsonl")["size"] == len(whole)
    with fs.open("datasets/acme/bench/data/train-00000.jsonl", "rb", block_size=16) as fh:
        fh.seek(10)
        assert fh.read(20) == whole[10:30]
    assert fs.cat_file("datasets/acme/bench/README.md").startswith(b"---\nlicense: mit")
    assert not fs.exists("datasets/acme/bench/data/missing.jsonl")


def test_resolve_route_speaks_http_as_the_hub_does(hub: HubServer) -> None:
    import httpx

    base = f"{hub.url}/datasets/acme/bench/resolve"
    whole = (hub.data.root / "files" / "acme" / "bench" / "data" / "test-00000.jsonl").read_bytes()
    with httpx.Client() as client:
        head = client.head(f"{base}/main/data/test-00000.jsonl")
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(whole)
        assert head.headers["X-Repo-Commit"] == "ab" * 20 and head.headers["ETag"].strip('"')
        part = client.get(f"{base}/{'ab' * 20}/data/test-00000.jsonl", headers={"Range": "bytes=5-9"})
        assert (part.status_code, part.content) == (206, whole[5:10])
        assert part.headers["Content-Range"] == f"bytes 5-9/{len(whole)}"
        tail = client.get(f"{base}/main/data/test-00000.jsonl", headers={"Range": "bytes=-4"})
        assert tail.content == whole[-4:]
        past = client.get(f"{base}/main/data/test-00000.jsonl", headers={"Range": f"bytes={len(whole)}-"})
        assert past.status_code == 416
        wrong_rev = client.get(f"{base}/{'0' * 40}/data/test-00000.jsonl")
        assert (wrong_rev.status_code, wrong_rev.headers["X-Error-Code"]) == (404, "RevisionNotFound")
        missing = client.get(f"{base}/main/data/nope.jsonl")
        assert (missing.status_code, missing.headers["X-Error-Code"]) == (404, "EntryNotFound")
        outside = client.get(f"{base}/main/..%2F..%2F..%2Fdatasets.jsonl")
        assert outside.status_code == 404
        tree = client.get(f"{hub.url}/api/datasets/acme/bench/tree/main", params={"recursive": "true"}).json()
        assert [(e["type"], e["path"]) for e in tree] == [
            ("directory", "data"), ("file", "README.md"), ("file", "data/test-00000.jsonl"),
            ("file", "data/train-00000.jsonl")]
        info = client.post(f"{hub.url}/api/datasets/acme/bench/paths-info/main",
                           data={"paths": ["data", "data/test-00000.jsonl", "nope"], "expand": "true"}).json()
        assert [e["path"] for e in info] == ["data", "data/test-00000.jsonl"]
        assert info[1]["size"] == len(whole) and info[1]["lastCommit"]["id"] == "ab" * 20


def test_a_field_the_hub_records_lack_is_one_usage_error(hub: HubServer) -> None:
    from curate.corpus import ReadSpec
    from curate.errors import UsageError

    ReadSpec(text_field="body", id_field="doc", split="test").check_fields(["acme/bench"])
    with pytest.raises(UsageError, match=r"^acme/bench: no record has the field 'text' given by --text-field "
                                         r"\(records have: doc, body, n\)$") as caught:
        ReadSpec(split="test").check_fields(["acme/bench"])
    assert caught.value.param == "--text-field"
