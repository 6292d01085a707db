"""Seeded, language-stratified sampling of a corpus for labelling.

Judges are compared per language, so a sample drawn in proportion to a web corpus (mostly English) would
leave too few documents in the languages that matter most. The sample is therefore stratified: the budget
``n`` is split evenly across the languages present, and what a small language cannot use goes to the
others. Within a language every document has the same chance (reservoir sampling in one pass, so the corpus
is streamed, never loaded whole).

A document's language is the corpus' language field when it has one, otherwise fastText language ID
(`curate.langid.detect_languages`, run in batches). The same corpus, ``n`` and ``seed`` always give the same
sample, returned in corpus order.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from curate.corpus import Document, ReadSpec
from curate.langid import base_language
from curate.progress import Tracker

DETECT_BATCH = 512


def with_languages(docs: Iterable[Document], batch_size: int = DETECT_BATCH,
                   detect: Callable[[list[str]], list[tuple[str, float]]] | None = None) -> Iterator[Document]:
    """The documents in order, each with ``lang`` set (language ID for those that lack one)."""
    pending: list[Document] = []

    def flush() -> Iterator[Document]:
        nonlocal detect
        if detect is None:
            from curate.langid import detect_languages as detect
        found = detect([d.text for d in pending])
        for d, (lang, _) in zip(pending, found, strict=True):
            yield replace(d, lang=lang)
        pending.clear()

    for doc in docs:
        if doc.lang:
            if pending:
                yield from flush()
            yield doc
        else:
            pending.append(doc)
            if len(pending) >= batch_size:
                yield from flush()
    if pending:
        yield from flush()


def allocate(available: dict[str, int], n: int) -> dict[str, int]:
    """Split ``n`` evenly across languages, capped by what each has; leftovers go to the larger ones."""
    alloc = dict.fromkeys(available, 0)
    remaining = min(n, sum(available.values()))
    # Larger languages first, then by code, so any odd remainder lands deterministically.
    order = sorted(available, key=lambda lang: (-available[lang], lang))
    while remaining > 0:
        open_ = [lang for lang in order if alloc[lang] < available[lang]]
        share = max(1, remaining // len(open_))
        for lang in open_:
            take = min(share, available[lang] - alloc[lang], remaining)
            alloc[lang] += take
            remaining -= take
            if remaining == 0:
                break
    return alloc


def stratified_sample(docs: Iterable[Document], n: int, seed: int = 0,
                      langs: list[str] | None = None) -> list[Document]:
    """A seeded sample of at most ``n`` documents (all of them when ``n <= 0``), even across languages.

    Every document must already have ``lang`` set (see `with_languages`). ``langs`` keeps only those
    languages (compared by base code, so ``zh`` keeps ``zh-Hant``).
    """
    wanted = {base_language(lang) for lang in langs} if langs else None
    rng = random.Random(seed)
    reservoirs: dict[str, list[tuple[int, Document]]] = {}
    seen: dict[str, int] = {}
    for index, doc in enumerate(docs):
        lang = base_language(doc.lang) or "und"  # one stratum per language: ko and kor_Hang are the same
        if wanted is not None and lang not in wanted:
            continue
        count = seen.get(lang, 0) + 1
        seen[lang] = count
        reservoir = reservoirs.setdefault(lang, [])
        if n <= 0 or len(reservoir) < n:
            reservoir.append((index, doc))
        else:
            j = rng.randrange(count)
            if j < n:
                reservoir[j] = (index, doc)
    if n <= 0:
        chosen = [item for reservoir in reservoirs.values() for item in reservoir]
    else:
        alloc = allocate({lang: len(r) for lang, r in reservoirs.items()}, n)
        chosen = []
        for lang in sorted(reservoirs):
            chosen.extend(rng.sample(reservoirs[lang], alloc[lang]))
    chosen.sort(key=lambda item: item[0])
    return [doc for _, doc in chosen]


def sample_corpus(
    source: str | Path,
    n: int,
    *,
    read: ReadSpec | None = None,
    seed: int = 0,
    langs: list[str] | None = None,
    on_error: Callable[[str], None] | None = None,
    tracker: Tracker | None = None,
) -> list[Document]:
    """Read a corpus as ``read`` says (the `ReadSpec` annotate, filter and contamination read with, so a
    document has the same id in the labels as in the scores), identify languages where missing, and draw the
    stratified sample. A field the records lack stops it first (`ReadSpec.check_fields`)."""
    read = read or ReadSpec()
    read.check_fields([source], on_warning=on_error)
    docs = read.documents(source, on_error=on_error)
    if tracker is not None:
        docs = _counted(docs, tracker)
    return stratified_sample(with_languages(docs), n, seed=seed, langs=langs)


def _counted(docs: Iterable[Document], tracker: Tracker) -> Iterator[Document]:
    for doc in docs:
        tracker.advance()
        yield doc
