"""The embedding backbones curate knows by name, read from ``data/annotators/backbones.yaml``.

They are data, not code: which models may run their own modelling code without ``--trust-remote-code``
(pinned commits, `RemoteCodePin`), their context lengths and pooling as JQL embeds with them, and which
published head repos and head file names point at which backbone. Moving a pin is a reviewed edit of that
file, not of the loaders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from curate import config


@dataclass(frozen=True)
class RemoteCodePin:
    """The audited commits of a Hub model whose modelling code curate runs without being asked.

    ``revision`` is the model repo's commit (weights, config, tokenizer). ``code_revision`` is the commit of
    ``code_repo``, the repo its ``auto_map`` takes the modelling code from (the model repo itself, or another
    one: gte-multilingual-base runs ``Alibaba-NLP/new-impl``); without it transformers would fetch that code
    from ``main``, whatever it holds that day.
    """

    revision: str
    code_repo: str
    code_revision: str


def _load() -> dict[str, Any]:
    return yaml.safe_load((config.data_dir() / "annotators" / "backbones.yaml").read_text(encoding="utf-8"))


_DATA = _load()
_BACKBONES: dict[str, dict[str, Any]] = _DATA["backbones"]

REMOTE_CODE_PINS: dict[str, RemoteCodePin] = {
    name: RemoteCodePin(**entry["remote_code"]) for name, entry in _BACKBONES.items() if entry.get("remote_code")}
KNOWN_MAX_TOKENS: dict[str, int] = {name: int(e["max_tokens"]) for name, e in _BACKBONES.items() if "max_tokens" in e}


def jql_spec(name: str) -> dict[str, Any] | None:
    """The backbone spec the JQL heads embed with (sentence-transformers, CLS pooling, its context length,
    remote code recorded), for a known backbone; None for any other name.

    ``trust_remote_code`` only records that the model runs its own code; whether it runs is decided by
    `curate.annotators.embedders.remote_code_policy` (the pins or the user's flag), never by a spec."""
    entry = _BACKBONES.get(name)
    if entry is None:
        return None
    return {"kind": "sentence-transformers", "name": name, "trust_remote_code": "remote_code" in entry,
            "max_tokens": int(entry.get("max_tokens", 512)), "pooling": entry.get("pooling", "mean")}


def head_repo_backbone(repo: str) -> str | None:
    """The backbone of a published head repo whose files do not name one."""
    return _DATA["head_repos"].get(repo)


def name_hint(file_name: str) -> str | None:
    """The backbone a head file's name points at (JQL names its files after the backbone), if any."""
    lowered = file_name.lower()
    return next((name for word, name in _DATA["name_hints"].items() if word in lowered), None)
