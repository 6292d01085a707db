"""Language codes as the filter groups them.

Corpora spell languages in many ways (``ko``, ``ko-KR``, ``zh_Hant``, ``KO``); thresholds are per language, so
codes are reduced to their primary subtag, lower-cased, before grouping. Documents whose language is unknown
(no code in the corpus or the scores, and language id could not tell) form their own group, ``und``
(the BCP-47 code for "undetermined"), so they are counted and thresholded instead of silently lost.
"""

from __future__ import annotations

import re

UNKNOWN = "und"
_SPLIT = re.compile(r"[-_]")


def normalize_lang(code: str | None) -> str | None:
    """``ko-KR`` -> ``ko``; ``zh_Hant`` -> ``zh``; blank or None -> None (the caller decides what unknown means)."""
    if code is None:
        return None
    text = str(code).strip()
    if not text:
        return None
    return _SPLIT.split(text, maxsplit=1)[0].lower() or None
