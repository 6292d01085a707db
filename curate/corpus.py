"""Read corpora and benchmarks: one reader for every command that takes documents.

Sources are local ``.jsonl`` / ``.jsonl.gz`` / ``.json`` (JSON Lines) / ``.parquet`` / ``.csv`` files, a
directory of those (read recursively, in sorted order so runs are reproducible), or a Hub dataset id read
through `datasets` in streaming mode (remote code is never run).

Bad records never stop a run: an invalid JSON line, a missing text field, an empty text or an unreadable
file is reported once through ``on_error`` as one line naming the file and line, and reading goes on. A
wrong field name is another matter: when a source's records do not have the text field at all (or a chosen
id field), every record would be "bad" and the run would produce nothing. `ReadSpec.check_fields` looks at
the first records of each source before a command starts its work and stops it with one line naming the
option, the value given and the fields the records have (`curate.errors.UsageError`).

Multi-field items (a benchmark's question, choices and answer) are read by giving several text fields:
``text_field="question,choices"``. The text is the fields' values joined with a newline, in the order
given; a list value is itself joined with newlines; a missing or null field contributes nothing.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from curate.errors import CurateError, UsageError
from curate.files import clean_text, path_text

log = logging.getLogger(__name__)

SUFFIXES = (".jsonl.gz", ".jsonl", ".json", ".parquet", ".csv")
ErrorHandler = Callable[[str], None]
DEFAULT_ID_FIELD = "id"  # may be missing: records without it are named NAME:LINE (see `iter_documents`)
SURVEY_RECORDS = 1000  # records of a JSON Lines or Hub source `ReadSpec.check_fields` reads at most


@dataclass(frozen=True, slots=True)
class Document:
    """One corpus document or benchmark item."""

    id: str
    text: str
    lang: str | None = None
    source: str = ""
    line: int | None = None  # 1-based line (JSONL, CSV data row) or row index (parquet, Hub), for messages


def _warn(message: str) -> None:
    log.warning(message)


def is_supported_file(path: Path) -> bool:
    return path.name.endswith(SUFFIXES)


def expand_source(source: str | Path) -> list[Path] | str:
    """The files a local source names, or the source itself when it is a Hub dataset id."""
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and is_supported_file(p))
        if not files:
            raise CurateError(f"{path}: no {', '.join(SUFFIXES)} files in this directory")
        return files
    if path.is_file():
        if not is_supported_file(path):
            raise CurateError(f"{path}: unsupported file type (expected one of {', '.join(SUFFIXES)})")
        return [path]
    text = str(source)
    if _local_path(text):
        raise CurateError(f"{source}: no such file or directory")
    return text  # a Hub dataset id


def _local_path(text: str) -> bool:
    """Whether a source that does not exist names a local path rather than a Hub dataset id: it looks like a
    path (``./``, ``/``, ``~``, a trailing ``/``, a corpus suffix, more than one ``/``), its first part is a
    local folder (``curate-demo/corpsu``: a typo in a path, not a dataset of the owner ``curate-demo``), or it is
    no valid repo id. Asking the Hub about a mistyped path costs retries and an error about the Hub."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if text.startswith((".", "/", "~")) or text.endswith((*SUFFIXES, "/")) or text.count("/") > 1:
        return True
    if "/" in text and Path(text.split("/", 1)[0]).is_dir():
        return True
    try:
        validate_repo_id(text)
    except HFValidationError:
        return True
    return False


def source_name(source: str | Path) -> str:
    """A short name for reports: the file or directory stem, or the Hub id.

    Always valid text (`curate.files.path_text`): it names benchmarks in the store and builds ids.
    """
    path = Path(source)
    if path.exists():
        name = path_text(path.name)
        for suffix in SUFFIXES:
            if name.endswith(suffix):
                return name[: -len(suffix)]
        return name
    return path_text(source)


def _join(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(_join(v) for v in value if v is not None)
    if isinstance(value, dict):
        return "\n".join(_join(v) for v in value.values())
    return str(value)


class _RecordReader:
    """Turns raw records into documents, reporting the ones that cannot be."""

    def __init__(
        self,
        text_fields: list[str],
        id_field: str,
        lang_field: str | None,
        on_error: ErrorHandler,
        skip_empty: bool,
    ) -> None:
        self.text_fields = text_fields
        self.id_field = id_field
        self.lang_field = lang_field
        self.on_error = on_error
        self.skip_empty = skip_empty

    def document(self, record: Any, where: str, stem: str, line: int) -> Document | None:
        if not isinstance(record, dict):
            self.on_error(f"{where}: expected a JSON object, got {type(record).__name__}")
            return None
        present = [f for f in self.text_fields if f in record]
        if not present:
            self.on_error(f"{where}: missing text field {'/'.join(map(repr, self.text_fields))}")
            return None
        text = "\n".join(t for t in (_join(record.get(f)) for f in self.text_fields) if t)
        if self.skip_empty and not text.strip():
            self.on_error(f"{where}: empty text")
            return None
        raw_id = record.get(self.id_field)
        doc_id = str(raw_id) if raw_id is not None and raw_id != "" else f"{stem}:{line}"
        lang = record.get(self.lang_field) if self.lang_field else None
        return Document(doc_id, text, str(lang) if lang else None, stem, line)


def split_fields(text_field: str) -> list[str]:
    """The fields of a ``text_field`` option: ``"question,choices"`` -> ``["question", "choices"]``."""
    return [f.strip() for f in text_field.split(",") if f.strip()]


def _jsonl_records(path: Path, on_error: ErrorHandler) -> Iterator[tuple[int, Any]]:
    """``(line, record)`` for each JSON line of ``path``; invalid lines and read errors go to ``on_error``."""
    opener = gzip.open if path.name.endswith(".gz") else open
    name = path_text(path)  # for messages: `path` itself may not be valid UTF-8
    try:
        with opener(path, "rb") as raw:
            stream = io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
            for lineno, line in enumerate(stream, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    on_error(f"{name}:{lineno}: invalid JSON ({exc.msg})")
                    continue
                yield lineno, record
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        on_error(f"{name}: cannot read the rest of the file ({path_text(str(exc))})")


def _read_jsonl(path: Path, reader: _RecordReader, stem: str) -> Iterator[Document]:
    name = path_text(path)
    for lineno, record in _jsonl_records(path, reader.on_error):
        doc = reader.document(record, f"{name}:{lineno}", stem, lineno)
        if doc is not None:
            yield doc


def _read_table_batches(batches: Iterable[Any], path: Path, reader: _RecordReader, first: int,
                        stem: str) -> Iterator[Document]:
    row = first
    name = path_text(path)
    for batch in batches:
        for record in batch.to_pylist():
            row += 1
            doc = reader.document(record, f"{name}:{row}", stem, row)
            if doc is not None:
                yield doc


def _read_parquet(path: Path, reader: _RecordReader, stem: str) -> Iterator[Document]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        names = set(pf.schema_arrow.names)
        wanted = [c for c in [*reader.text_fields, reader.id_field, reader.lang_field] if c and c in names]
        batches = pf.iter_batches(batch_size=1024, columns=wanted or None)
        yield from _read_table_batches(batches, path, reader, 0, stem)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        if isinstance(exc, GeneratorExit):
            raise
        reader.on_error(f"{path_text(path)}: unreadable parquet ({type(exc).__name__}: {path_text(str(exc))})")


def _read_csv(path: Path, reader: _RecordReader, stem: str) -> Iterator[Document]:
    import pyarrow.csv as pcsv

    try:
        batches = pcsv.open_csv(path, convert_options=pcsv.ConvertOptions(strings_can_be_null=False))
        # Line 1 is the header, so data row k sits on line k + 1.
        yield from _read_table_batches(batches, path, reader, 1, stem)
    except Exception as exc:
        if isinstance(exc, GeneratorExit):
            raise
        reader.on_error(f"{path_text(path)}: unreadable CSV ({type(exc).__name__}: {path_text(str(exc))})")


def _hub_records(repo_id: str, split: str, config_name: str | None) -> Iterator[tuple[int, Any]]:
    """``(row, record)`` for each row of a Hub dataset's split, streamed (no remote code runs)."""
    import datasets

    try:
        ds = datasets.load_dataset(repo_id, config_name, split=split, streaming=True)
    except Exception as exc:
        raise CurateError(f"{repo_id}: cannot open Hub dataset ({type(exc).__name__}: {exc})") from exc
    yield from enumerate(ds, 1)


def _read_hub(repo_id: str, reader: _RecordReader, split: str, config_name: str | None) -> Iterator[Document]:
    for row, record in _hub_records(repo_id, split, config_name):
        doc = reader.document(record, f"{repo_id}:{row}", repo_id, row)
        if doc is not None:
            yield doc


def iter_documents(
    source: str | Path,
    *,
    text_field: str = "text",
    id_field: str = DEFAULT_ID_FIELD,
    lang_field: str | None = None,
    split: str = "train",
    config_name: str | None = None,
    on_error: ErrorHandler | None = None,
    skip_empty: bool = True,
    id_root: str | Path | None = None,
) -> Iterator[Document]:
    """Stream the documents of one source (file, directory or Hub id) in a stable order.

    A record without an id is named ``NAME:LINE``: NAME is the file's name without its extension, or, for a
    file read from a folder, its path below the folder (``en/train:12``), so same-named files in different
    subfolders cannot collide. ``id_root`` names that folder when a caller reads the folder's files one by
    one (the filter and the Ray engines do), so ids match those of a read of the whole folder. A name that
    is not valid UTF-8 is written with backslash escapes (``bad\\xff:3``, see `curate.files.path_text`), so
    ids are always valid text for parquet, JSON and the store.
    """
    reader = _RecordReader(split_fields(text_field), id_field, lang_field, on_error or _warn, skip_empty)
    expanded = expand_source(source)
    if isinstance(expanded, str):
        yield from _read_hub(expanded, reader, split, config_name)
        return
    root = Path(id_root) if id_root else Path(source) if Path(source).is_dir() else None
    for path in expanded:
        stem = source_name(path)
        if root is not None and path.is_relative_to(root):
            stem = path_text(path.relative_to(root).with_name(stem).as_posix())
        if path.name.endswith((".jsonl", ".jsonl.gz", ".json")):
            yield from _read_jsonl(path, reader, stem)
        elif path.suffix == ".parquet":
            yield from _read_parquet(path, reader, stem)
        else:
            yield from _read_csv(path, reader, stem)


def batched(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    """Group a document stream into lists of at most ``size`` (the last one may be shorter)."""
    it = iter(docs)
    while batch := list(islice(it, size)):
        yield batch


@dataclass(frozen=True)
class FieldOptions:
    """The command-line options that gave a read's fields, so `ReadSpec.check_fields` names what the user typed.

    ``id`` None: the id field is not checked (a benchmark's id field that defaults to the corpus's). ``text_for``
    names the option whose default ``text`` gave: a benchmark's text field is the corpus's ``--text-field``
    unless ``--benchmark-text-field`` is given, and the message then says so, naming both.
    """

    text: str = "--text-field"
    id: str | None = "--id-field"
    text_for: str | None = None


@dataclass(frozen=True)
class _Fields:
    """What the first records of a source hold: their fields (first seen first), how many records that
    was, and whether they were all the source has."""

    names: list[str]
    records: int
    complete: bool


def _survey_records(records: Iterable[tuple[int, Any]], enough: Callable[[set[str]], bool]) -> _Fields | None:
    names: dict[str, None] = {}
    n = 0
    complete = True
    for i, (_, record) in enumerate(records):
        if i >= SURVEY_RECORDS:
            complete = False
            break
        if isinstance(record, dict):
            n += 1
            names.update(dict.fromkeys(map(str, record)))
            if enough(set(names)):
                break
    return _Fields(list(names), n, complete) if n else None


def _survey_table(path: Path) -> _Fields | None:
    """A parquet or CSV file's columns (every record has them all); None when it has no rows or cannot be
    read (the read reports that)."""
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            return _Fields(list(pf.schema_arrow.names), pf.metadata.num_rows, True) if pf.metadata.num_rows else None
        import pyarrow.csv as pcsv

        reader = pcsv.open_csv(path)
        try:
            rows = reader.read_next_batch().num_rows
        except StopIteration:
            return None
        return _Fields(list(reader.schema.names), rows, True) if rows else None
    except Exception:  # pyarrow raises several types for corrupt files
        return None


def _survey(source: str | Path, split: str, config_name: str | None,
            enough: Callable[[set[str]], bool]) -> Iterator[tuple[str, _Fields]]:
    """For each file of ``source`` (or the Hub dataset it names) with records: its name and `_Fields`. JSON
    Lines and Hub records are read until ``enough`` of the fields seen says so, at most `SURVEY_RECORDS`."""
    expanded = expand_source(source)
    if isinstance(expanded, str):
        found = _survey_records(_hub_records(expanded, split, config_name), enough)
        if found is not None:
            yield expanded, found
        return
    for path in expanded:
        if path.name.endswith((".jsonl", ".jsonl.gz", ".json")):
            found = _survey_records(_jsonl_records(path, lambda _message: None), enough)
        else:
            found = _survey_table(path)
        if found is not None:
            yield path_text(path), found


def _missing_field(where: str, found: _Fields, fields: list[str], option: str, text_for: str | None) -> UsageError:
    """The one-line error for a field no record of ``where`` has."""
    which = f"the field {fields[0]!r}" if len(fields) == 1 else \
        "any of the fields " + ", ".join(repr(f) for f in fields)
    records = "no record has" if found.complete else f"none of the first {found.records} records has"
    names = [clean_text(n) for n in found.names]
    shown = ", ".join(names[:30]) + (f", ... ({len(names)} in all)" if len(names) > 30 else "")
    given = f"{option} (the default of {text_for}; records have: {shown})" if text_for else \
        f"{option} (records have: {shown})"
    return UsageError(f"{where}: {records} {which} given by {given}", text_for or option)


@dataclass(frozen=True)
class ReadSpec:
    """How a command reads the documents of its corpus: the one spec annotate, filter and contamination share.

    The fields are `iter_documents`'s. ``folders`` names the folder inputs of a run: a run reads each file
    of a folder as its own source (so engines can spread and resume them), and a file below one of them is
    named relative to it, as a read of the whole folder names it (``en/train:12``), so ids do not depend on
    the engine. `sources` expands inputs and fills ``folders``.
    """

    text_field: str = "text"
    id_field: str = DEFAULT_ID_FIELD
    lang_field: str | None = "lang"
    split: str = "train"
    config_name: str | None = None
    folders: tuple[str, ...] = ()

    def id_root(self, source: str) -> str | None:
        """The folder input ``source`` (one of its files) came from, if any (the deepest one)."""
        below = [f for f in self.folders if Path(source).is_relative_to(f)]
        return max(below, key=len) if below else None

    def documents(self, source: str | Path, on_error: ErrorHandler | None = None) -> Iterator[Document]:
        """The documents of one source (a file, folder or Hub id) under this spec."""
        return iter_documents(source, text_field=self.text_field, id_field=self.id_field,
                              lang_field=self.lang_field, split=self.split, config_name=self.config_name,
                              on_error=on_error, id_root=self.id_root(str(source)))

    def check_fields(self, inputs: Iterable[str | Path], options: FieldOptions = FieldOptions(),
                     on_warning: Callable[[str], None] | None = None) -> None:
        """Stop a run whose text field (or chosen id field) is not in a source's records, before it writes
        anything: `UsageError` naming the option (``options``), the value and the fields the records have.

        Each file of ``inputs`` (or Hub dataset) is judged by its first records: a parquet or CSV file by its
        columns, JSON Lines and Hub records until one has the fields (usually the first), at most
        `SURVEY_RECORDS`, so a run reads a few records twice, never the corpus. A source without records (or
        unreadable: the read reports it) is not judged. The default id field, ``id``, may be missing
        (records are then named NAME:LINE); any other id field must be there. Individual records without a
        field among records with it stay what they are: reported and skipped by the read.

        The run stops only when no source has the fields (the option is mistyped). A file without them among
        files with them (a stray metadata file in a corpus folder) is one bad source: ``on_warning`` says so
        once (default: the ``curate`` log), its records are skipped by the read, and the run goes on.
        """
        texts = split_fields(self.text_field)
        check_id = options.id is not None and self.id_field != DEFAULT_ID_FIELD

        def enough(names: set[str]) -> bool:
            return any(f in names for f in texts) and (not check_id or self.id_field in names)

        lacking: list[UsageError] = []
        fine = 0
        for source in inputs:
            for where, found in _survey(source, self.split, self.config_name, enough):
                if not any(f in found.names for f in texts):
                    lacking.append(_missing_field(where, found, texts, options.text, options.text_for))
                elif check_id and self.id_field not in found.names:
                    lacking.append(_missing_field(where, found, [self.id_field], str(options.id), None))
                else:
                    fine += 1
        if lacking and not fine:
            raise lacking[0]
        for problem in lacking:
            (on_warning or _warn)(f"{problem}; its records are skipped")

    def sources(self, inputs: Iterable[str | Path]) -> tuple[list[str], ReadSpec]:
        """Each input expanded into its files (folders recursively, sorted; a Hub id stays one source), and
        this spec with the folder inputs recorded, so ids match a read of each whole input."""
        folders = tuple(str(i) for i in inputs if Path(i).is_dir())
        from dataclasses import replace

        return list_sources([str(i) for i in inputs]), replace(self, folders=folders)


def list_sources(inputs: list[str]) -> list[str]:
    """Each input expanded into its files (directories recursively, sorted); a Hub id stays one source."""
    out: list[str] = []
    for item in inputs:
        expanded = expand_source(item)
        out.extend([str(p) for p in expanded] if isinstance(expanded, list) else [expanded])
    return out


def find_documents(inputs: Iterable[str | Path], ids: Iterable[str], spec: ReadSpec | None = None, *,
                   max_docs: int = 2_000_000) -> dict[str, Document]:
    """The documents of local ``inputs`` (files or folders, named as a whole-folder read names them) whose id
    is in ``ids``; reading stops once all are found or after ``max_docs`` documents, so a look-up in a huge
    corpus costs a bounded scan. Hub ids are not read (a look-up must not go to the network)."""
    wanted = set(ids)
    found: dict[str, Document] = {}
    local = [str(i) for i in inputs if Path(i).exists()]
    if not wanted or not local:
        return found
    sources, spec = (spec or ReadSpec()).sources(local)
    seen = 0
    for source in sources:
        for doc in spec.documents(source, on_error=lambda _message: None):
            seen += 1
            if doc.id in wanted and doc.id not in found:
                found[doc.id] = doc
                if len(found) == len(wanted):
                    return found
            if seen >= max_docs:
                return found
    return found
