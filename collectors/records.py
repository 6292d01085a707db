"""Hub dataset records and cards as store rows: the per-record rules a crawl and a dump import share.

A record is what the Hub API answers for a dataset (``id``, ``author``, ``tags``, ``cardData``, dates...); the
crawl gets it from listing pages, the dump import (`collectors.dump`) builds it from a dump row and the card's
YAML header. Either way it goes through `record_row`, which parses it as ``HfApi.list_datasets`` does
(``DatasetInfo``) and checks every field, so both fill the ``datasets`` table with the same values; what cannot
be stored raises `BadRecord` and becomes an error row, never the end of a run.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import polars as pl
import yaml
from huggingface_hub import DatasetCardData, DatasetInfo
from huggingface_hub.repocard import REGEX_YAML_BLOCK

# libyaml when PyYAML was built with it: the same YAML, several times faster over a whole Hub of cards.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_INT64 = 2**63 - 1


class BadRecord(Exception):
    """A record (a listing's, or a dump row's) that cannot be stored; becomes an error row."""

    def __init__(self, reason: str, repo_id: str | None = None) -> None:
        super().__init__(reason)
        self.repo_id = repo_id


# -- names ----------------------------------------------------------------------------------------------

# The Hub's rule (huggingface_hub.utils.validate_repo_id), ASCII only: letters, digits, "_", "-", ".", at most
# 96, not starting or ending with "-" or ".", no "--" or "..".
_PART = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?")
REVISION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def name_problem(name: str) -> str | None:
    if not _PART.fullmatch(name):
        return "letters, digits, '_', '-' and '.' only, 1-96 of them, not starting or ending with '-' or '.'"
    if "--" in name or ".." in name:
        return "'--' and '..' are not allowed"
    return None


def repo_id_problem(repo_id: object) -> str | None:
    """Why ``repo_id`` is not a Hub dataset id (``owner/name``); None when it is one."""
    if not isinstance(repo_id, str):
        return f"{json_type(repo_id)}, not a string"
    if repo_id.count("/") != 1:
        return "not of the form owner/name"
    owner, name = repo_id.split("/")
    problem = name_problem(owner) or name_problem(name)
    if problem is None and name.endswith(".git"):
        problem = "names cannot end with '.git'"
    return problem


def shown(value: object, limit: int = 120) -> str:
    """A printable, bounded rendering of untrusted text for error rows and messages."""
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return text if len(text) <= limit else text[:limit] + f"...({len(text)} chars)"


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


def json_type(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


# -- records -----------------------------------------------------------------------------------------

def utf8_clean(value: object) -> bool:
    """Whether every string in ``value`` can be stored (JSON may carry lone surrogates, which cannot)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, list):
        return all(utf8_clean(v) for v in value)
    return True


def _count(value: object, name: str) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _INT64):
        return value  # type: ignore[return-value]
    raise BadRecord(f"{name} is {shown(value, 40)}, not a count")


def _flag(value: object, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise BadRecord(f"{name} is {shown(value, 40)}, not true/false")


def dataset_row(snapshot_id: int, info: Any) -> dict[str, Any]:
    """The ``datasets`` row of a parsed record; `BadRecord` when a field has the wrong type."""
    author = info.author
    if author is not None and (not isinstance(author, str) or name_problem(author)):
        raise BadRecord(f"author {shown(author, 60)} is not a Hub user or organization name")
    sha = info.sha
    if sha is not None and (not isinstance(sha, str) or not REVISION.fullmatch(sha)):
        raise BadRecord(f"sha {shown(sha, 60)} is not a revision")
    tags = info.tags
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        raise BadRecord(f"tags is {json_type(tags)}, not a list of strings")
    card_data = info.card_data
    if card_data is not None and not isinstance(card_data, DatasetCardData):
        raise BadRecord(f"cardData is {json_type(card_data)}, not an object")
    for name in ("created_at", "last_modified"):
        if getattr(info, name) is not None and not isinstance(getattr(info, name), datetime):
            raise BadRecord(f"{name} is not a date")
    gated = info.gated
    if gated not in (None, False, True, "auto", "manual"):
        raise BadRecord(f"gated is {shown(gated, 40)}, not false/auto/manual")
    try:
        card_json = json.dumps(card_data.to_dict(), default=str, ensure_ascii=False) if card_data else None
    except (ValueError, TypeError, RecursionError) as exc:
        raise BadRecord(f"cardData cannot be stored: {one_line(exc)}") from exc
    row = {
        "snapshot_id": snapshot_id, "repo_id": info.id, "author": author or info.id.split("/")[0],
        "sha": sha, "downloads": _count(info.downloads, "downloads"),
        "downloads_all_time": _count(info.downloads_all_time, "downloadsAllTime"),
        "likes": _count(info.likes, "likes"), "tags": list(tags or []),
        "card_data": card_json if card_json and card_json != "{}" else None,
        "created_at": info.created_at, "last_modified": info.last_modified,
        "gated": str(gated).lower() if gated is not None else None,
        "private": _flag(info.private, "private"), "disabled": _flag(info.disabled, "disabled"),
    }
    # Ids, author, sha and gated were matched against ASCII patterns above: only these can hold free text.
    if not (utf8_clean(row["tags"]) and utf8_clean(row["card_data"])):
        raise BadRecord("text that is not valid Unicode (a lone surrogate)")
    return row


_DATE_FIELDS = {"createdAt": "created_at", "lastModified": "last_modified"}


def record_row(snapshot_id: int, record: object) -> dict[str, Any]:
    """One Hub API record as a ``datasets`` row, or `BadRecord` saying why it cannot be one.

    Dates are the API's strings; dates that are already ``datetime`` (a dump's timestamps) are taken as they are
    (naive ones as UTC) instead of being written out and parsed back.
    """
    if not isinstance(record, dict):
        raise BadRecord(f"record is {json_type(record)}, not an object")
    rid = record.get("id")
    problem = repo_id_problem(rid)
    if problem:
        raise BadRecord(f"invalid repo id {shown(rid, 80)}: {problem}", rid if isinstance(rid, str) else None)
    parsed = {key: record[key] for key in _DATE_FIELDS if isinstance(record.get(key), datetime)}
    if parsed:
        record = {k: v for k, v in record.items() if k not in parsed}
    try:
        info = DatasetInfo(**{"siblings": None, **record})  # as HfApi.list_datasets parses it
    except Exception as exc:  # bad dates, card data that DatasetCardData refuses, ...
        raise BadRecord(f"not a dataset record: {type(exc).__name__}: {one_line(exc)}", rid) from exc
    for key, value in parsed.items():
        setattr(info, _DATE_FIELDS[key], value if value.tzinfo else value.replace(tzinfo=UTC))
    try:
        return dataset_row(snapshot_id, info)
    except BadRecord as exc:
        exc.repo_id = rid
        raise


DATASET_SCHEMA = {
    "snapshot_id": pl.Int32, "repo_id": pl.Utf8, "author": pl.Utf8, "sha": pl.Utf8, "downloads": pl.Int64,
    "downloads_all_time": pl.Int64, "likes": pl.Int64, "tags": pl.List(pl.Utf8), "card_data": pl.Utf8,
    "created_at": pl.Datetime("us", "UTC"), "last_modified": pl.Datetime("us", "UTC"), "gated": pl.Utf8,
    "private": pl.Boolean, "disabled": pl.Boolean,
}
ERROR_SCHEMA = {"snapshot_id": pl.Int32, "repo_id": pl.Utf8, "stage": pl.Utf8, "status": pl.Int32,
                 "message": pl.Utf8, "recorded_at": pl.Datetime("us", "UTC")}


def error_row(snapshot_id: int, repo_id: str | None, stage: str, message: str, status: int | None) -> dict[str, Any]:
    """An ``errors`` row (stage: listing, card, yaml, author, dump)."""
    return {"snapshot_id": snapshot_id, "repo_id": repo_id, "stage": stage, "status": status, "message": message,
            "recorded_at": datetime.now(UTC)}


def card_metadata(text: str) -> dict[str, Any]:
    """The YAML header of a card as a dict (empty when there is none), found and checked as
    ``huggingface_hub.RepoCard`` does; raises (a YAML error, ValueError) when the header is not a mapping.

    The crawl only checks the header (the Hub sends ``cardData`` parsed); a dump has nothing else, so its
    ``card_data`` is this dict. Quiet where ``RepoCard`` logs a warning for every card without a header.
    """
    match = REGEX_YAML_BLOCK.search(text)
    if not match:
        return {}
    data = yaml.load(match.group(2), Loader=_YAML_LOADER)  # a safe loader
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError("repo card metadata block should be a dict")
    return data

