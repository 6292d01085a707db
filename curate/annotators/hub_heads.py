"""Load the published JQL heads (and curate annotators) from the Hub: ``--annotator hub:REPO``.

The JQL authors release their heads as PyTorch Lightning checkpoints (``checkpoints/*.ckpt`` in
``Jackal-AI/JQL-Edu-Heads``). A checkpoint is a pickled dict; the parts that matter are

* ``state_dict``: ``layer1.weight`` (hidden x dim), ``layer1.bias``, ``layer2.weight`` (1 x hidden),
  ``layer2.bias``: one hidden layer with ReLU, the same shape curate trains;
* ``hyper_parameters``: ``input_dim``, ``hidden_dim``, ``learning_rate``, ``train_sets``.

The heads score embeddings of one backbone (for the Edu heads: Snowflake/snowflake-arctic-embed-m-v2.0,
CLS pooling, L2-normalized, up to 8,192 tokens), and nothing in the file names it, so this module pairs a
repo with its backbone: a table of known repos first, then a backbone word in the file name (``snowflake``,
``gte``), and ``--backbone`` overrides both.

Lightning is not needed: checkpoints are read with ``torch.load(weights_only=True)`` only, whatever their
format, with Lightning's hyper-parameter containers mapped to plain dicts (`LIGHTNING_GLOBALS`). A file that
names any other class or function is refused; no code from the file ever runs.
"""

from __future__ import annotations

import logging
import re
import types
from pathlib import Path
from typing import Any

from curate import config as curate_config
from curate.annotators.backbones import head_repo_backbone, jql_spec, name_hint
from curate.annotators.embedders import backbone_spec
from curate.annotators.heads import CONFIG_FILE, FORMAT, head_from_state, load_heads_folder
from curate.errors import CurateError

log = logging.getLogger(__name__)

# ---- reading a Lightning checkpoint without Lightning -------------------------------------------------

# Besides tensors and plain containers, a Lightning checkpoint pickles its hyper-parameters in Lightning's
# own containers. torch's weights-only unpickler is told to build a plain dict (or a namespace, for old
# argparse hyper-parameters) wherever the file names one of these, so Lightning is not needed and nothing
# from Lightning or the file runs; any other global in the file is an error. These are (what torch builds,
# the name the file uses) pairs for `torch.serialization.safe_globals`.
LIGHTNING_GLOBALS: list[tuple[Any, str]] = [
    (dict, "lightning.fabric.utilities.data.AttributeDict"),
    (dict, "lightning_fabric.utilities.data.AttributeDict"),
    (dict, "pytorch_lightning.utilities.parsing.AttributeDict"),
    (types.SimpleNamespace, "argparse.Namespace"),
]


def _load_error(exc: BaseException) -> str:
    """torch's weights-only failure in one line: the global or opcode it refused, else the first line."""
    text = str(exc)
    match = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if match:
        return (f"it refers to {match.group(1)}; only tensors, plain containers and Lightning hyper-parameters "
                "are loaded")
    match = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    if match:
        return match.group(1).strip().splitlines()[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint dict of a JQL/Lightning ``.ckpt`` (or a bare state dict), read without running code.

    Every format torch.load reads (zip, the legacy non-zip format, and a plain pickle, which it refuses) goes
    through torch's weights-only unpickler; there is no fallback to a full unpickler, because a ``.ckpt`` may
    come from anyone's Hub repo and a full unpickler runs whatever code the file names.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise CurateError(f"{path}: no such head file")
    try:
        with torch.serialization.safe_globals(LIGHTNING_GLOBALS):
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CurateError(f"{path}: not a readable head checkpoint ({_load_error(exc)})") from exc
    if not isinstance(obj, dict):
        raise CurateError(f"{path}: expected a checkpoint dict, got {type(obj).__name__}")
    return obj


def head_from_checkpoint(path: Path) -> tuple[Any, dict[str, Any]]:
    """A head module and a description (dims, hyper-parameters) from one JQL checkpoint file."""
    ckpt = read_checkpoint(path)
    state = ckpt.get("state_dict", ckpt)
    # Some trainers prefix the module name ("model.layer1.weight"); keep the layer1/layer2 part.
    cleaned = {}
    for key, value in state.items():
        match = re.search(r"(layer[12]\.(?:weight|bias))$", str(key))
        if match and hasattr(value, "shape"):
            cleaned[match.group(1)] = value
    if set(cleaned) != {"layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias"}:
        raise CurateError(f"{path}: not a JQL regression head (tensors: {sorted(map(str, state))[:8]})")
    if int(cleaned["layer2.weight"].shape[0]) != 1:
        raise CurateError(f"{path}: the head has {cleaned['layer2.weight'].shape[0]} outputs, expected 1")
    head = head_from_state(cleaned)
    hp = ckpt.get("hyper_parameters") or {}
    if isinstance(hp, types.SimpleNamespace):
        hp = vars(hp)
    hparams = {k: hp.get(k) for k in ("input_dim", "hidden_dim", "learning_rate") if isinstance(hp, dict)}
    dim, hidden = int(cleaned["layer1.weight"].shape[1]), int(cleaned["layer1.weight"].shape[0])
    if hparams.get("input_dim") not in (None, dim):
        log.warning("%s: hyper_parameters say input_dim=%s but the weights have %s", path, hparams["input_dim"], dim)
    return head, {"file": str(path), "dim": dim, "hidden": hidden, "hyper_parameters": hparams,
                  "lightning_version": ckpt.get("pytorch-lightning_version"), "epoch": ckpt.get("epoch")}


def backbone_for(repo: str | None, files: list[Path]) -> dict[str, Any] | None:
    """The backbone a set of JQL heads was trained on (`curate.annotators.backbones`, as JQL embeds with
    it): a known repo, else a backbone word in the file names."""
    name = head_repo_backbone(repo) if repo else None
    name = name or next((hint for path in files if (hint := name_hint(path.name))), None)
    return jql_spec(name) if name else None


def _jql_backbone(backbone: str | dict[str, Any]) -> dict[str, Any]:
    """A backbone override; a JQL backbone named by id keeps its JQL settings (CLS pooling, remote code)."""
    if isinstance(backbone, str) and (spec := jql_spec(backbone)):
        return spec
    return backbone_spec(backbone)


def select_files(files: list[Path], backbone_name: str | None) -> list[Path]:
    """Keep the head files that belong to one backbone when a repo holds heads for several.

    File names that name a backbone are grouped by it; with more than one group, the group of the paired
    backbone is kept (files that name no backbone go with every group).
    """
    groups = {name_hint(p.name) for p in files} - {None}
    if len(groups) <= 1:
        return files
    if backbone_name not in groups:
        raise CurateError(f"the repo holds heads for several backbones ({', '.join(sorted(groups))}); "
                          "pass --backbone with one of them")
    return [p for p in files if name_hint(p.name) in (None, backbone_name)]


def load_jql_heads(source: Path, repo: str | None = None,
                   backbone: str | dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read JQL heads from a folder (a Hub snapshot, any ``*.ckpt`` below it) or from one ``.ckpt`` file.

    Returns a curate-style annotator config (backbone, dims, heads) and ``{head name: module}``.
    """
    source = Path(source)
    files = sorted(source.rglob("*.ckpt")) if source.is_dir() else [source]
    if not files:
        raise CurateError(f"{source}: no JQL head checkpoints (*.ckpt) found")
    spec = _jql_backbone(backbone) if backbone is not None else backbone_for(repo, files)
    files = select_files(files, spec["name"] if spec else None)
    heads: dict[str, Any] = {}
    described = []
    for path in files:
        head, info = head_from_checkpoint(path)
        name = path.stem
        heads[name] = head
        described.append({"name": name, "source": "jql-checkpoint",
                          "file": str(path.relative_to(source)) if source.is_dir() else path.name, **{
                              k: info[k] for k in ("dim", "hidden", "hyper_parameters", "lightning_version")}})
    dims = {d["dim"] for d in described}
    if len(dims) != 1:
        raise CurateError(f"{source}: heads expect different embedding sizes {sorted(dims)}; load them separately")
    if spec is None:
        raise CurateError(f"{repo or source}: cannot tell which embedding model these heads expect; "
                          "pass --backbone NAME")
    config = {"format": FORMAT, "version": 1, "backbone": spec, "dim": dims.pop(), "heads": described,
              "label_source": {"kind": "jql", "repo": repo, "path": str(source)}}
    return config, heads


# ---- the Hub -----------------------------------------------------------------------------------------

def download(repo: str, revision: str | None = None, endpoint: str | None = None) -> Path:
    """Snapshot a heads repo into the Hugging Face cache (reused on later runs); honours HF_ENDPOINT."""
    import huggingface_hub

    try:
        path = huggingface_hub.snapshot_download(
            repo_id=repo, revision=revision, endpoint=curate_config.hub_endpoint(endpoint),
            token=curate_config.hub_token(),
            allow_patterns=["*.ckpt", "*.json", "*.safetensors", "*.md"])
    except Exception as exc:
        raise CurateError(f"hub:{repo}: cannot download the heads ({type(exc).__name__}: {exc})") from exc
    return Path(path)


def parse_hub_spec(spec: str) -> tuple[str, str | None]:
    """``hub:OWNER/NAME[@REVISION]`` -> (repo, revision)."""
    body = spec[len("hub:"):]
    repo, _, revision = body.partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise CurateError(f"{spec}: expected hub:OWNER/NAME[@REVISION]")
    return repo, revision or None


def load_hub_heads(spec: str, backbone: str | dict[str, Any] | None = None,
                   endpoint: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Config and heads for ``hub:REPO``: a curate annotator folder on the Hub, or JQL checkpoints."""
    repo, revision = parse_hub_spec(spec)
    folder = download(repo, revision, endpoint)
    cfg_path = folder / CONFIG_FILE
    if cfg_path.is_file() and '"' + FORMAT + '"' in cfg_path.read_text(encoding="utf-8", errors="replace"):
        config, heads = load_heads_folder(folder)
        if backbone is not None:
            config["backbone"] = backbone_spec(backbone)
        return config, heads
    config, heads = load_jql_heads(folder, repo=repo, backbone=backbone)
    config["label_source"] = {"kind": "jql", "repo": repo, "revision": revision}
    return config, heads
