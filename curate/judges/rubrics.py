"""Rubrics as data files, and the prompt a judge receives.

A rubric is a directory of Markdown files, one per prompt language (``en.md``, ``ko.md``, ...), each holding
the full instruction with a ``<<DOCUMENT>>`` marker where the document goes. Shipped rubrics live in
``data/rubrics/<name>/``; ``--rubric`` also accepts a path to such a directory (or to a single ``.md`` file,
used for every language), so adding a rubric needs no code.

Prompt-language modes:

- ``en`` (default): the English rubric for every document, the document left in its own language. Studies of
  multilingual judges found this the more reliable setting.
- ``native``: the rubric in the document's language when a localization exists, English otherwise. The
  language actually used is recorded per label (``prompt_language``), so the fallback is visible.

The whole prompt is sent as one user message: some chat templates reject a system role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from curate import config
from curate.errors import CurateError
from curate.langid import base_language

MARKER = "<<DOCUMENT>>"
DEFAULT_LANGUAGE = "en"


class PromptLanguage(StrEnum):
    en = "en"
    native = "native"



@dataclass(frozen=True)
class Rubric:
    """One rubric: its name and its text per prompt language."""

    name: str
    texts: dict[str, str] = field(hash=False)

    def language_for(self, doc_lang: str | None, mode: PromptLanguage) -> str:
        """The prompt language a document gets in this mode (English when there is no localization)."""
        if mode is PromptLanguage.native:
            lang = base_language(doc_lang)
            if lang in self.texts:
                return lang  # type: ignore[return-value]
        return DEFAULT_LANGUAGE if DEFAULT_LANGUAGE in self.texts else next(iter(self.texts))

    def template(self, prompt_language: str) -> str:
        return self.texts[prompt_language]

    def prompt(self, text: str, prompt_language: str) -> str:
        """The user message: the rubric with the document inserted at its marker."""
        return self.texts[prompt_language].replace(MARKER, text, 1)


def rubrics_dir() -> Path:
    return config.data_dir() / "rubrics"


def available_rubrics() -> list[str]:
    root = rubrics_dir()
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _read(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    if MARKER not in text:
        raise CurateError(f"{path}: rubric has no {MARKER} marker where the document should go")
    return text.strip() + "\n"


def load_rubric(spec: str) -> Rubric:
    """A shipped rubric by name (``educational``), or a rubric directory / single ``.md`` file by path."""
    path = Path(spec)
    if path.is_file():
        return Rubric(path.stem, {DEFAULT_LANGUAGE: _read(path)})
    directory = path if path.is_dir() else rubrics_dir() / spec
    if not directory.is_dir():
        known = ", ".join(available_rubrics()) or "none"
        raise CurateError(f"unknown rubric {spec!r} (shipped: {known}; or give a directory of <lang>.md files)")
    texts = {p.stem.lower(): _read(p) for p in sorted(directory.glob("*.md"))}
    if not texts:
        raise CurateError(f"{directory}: no <lang>.md rubric files")
    return Rubric(directory.name, texts)
