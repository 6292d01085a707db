"""Text normalization and script-aware tokens for contamination checks.

Benchmark items and corpus documents both go through `normalize_series`, so an item copied with other
spacing, punctuation, letter case or full-width characters still matches:

1. invisible characters (Unicode Cf such as zero-width spaces and soft hyphens, emoji variation selectors, the
   combining keycap, the Arabic tatweel) are dropped; punctuation,
   symbols and control characters (Unicode P, S and Cc) become spaces; whitespace runs collapse to one space;
2. Unicode NFKC (full-width ``Ａ１`` becomes ``A1``, half-width katakana full-width), then lower case;
3. spaces between two characters of an unsegmented script do not count (tokens of those scripts are single
   characters, so ``日 本`` and ``日本`` are the same two tokens).

Step 3 is what makes the check work for Chinese, Japanese and Korean. Chinese and Japanese are written
without spaces; Korean has spaces, but spacing varies between writers and particles attach to words
(학교에, 학교를), so word tokens rarely line up. Characters of these scripts (and of Thai, Lao, Khmer and
Myanmar) are therefore tokens on their own and spacing between them does not matter; runs of other letters
and digits (Latin, Cyrillic, Greek, Arabic, Devanagari ...) are word tokens.

The work runs in polars (Rust regexes, no Python loop per character): with tokenization it is most of the
cost of a scan.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import polars as pl

# Unsegmented scripts as a character-class body of literal characters, so Python's `re` and the Rust regex
# engine polars uses read it the same way: Thai, Lao, Myanmar, Hangul jamo, Khmer, Hiragana, Katakana,
# Hangul compatibility jamo, Katakana extensions, Han (extension A, unified, compatibility, planes 2-3),
# Hangul jamo extended-A, Hangul syllables and jamo extended-B.
UNSEGMENTED = (
    "\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\U00020000-\U0003134f"
)
TOKEN = f"[{UNSEGMENTED}]|[^ {UNSEGMENTED}]+"  # normalized text has no other whitespace
_TOKEN = re.compile(TOKEN)
_UNSEG = re.compile(f"[{UNSEGMENTED}]")
_PAIR = f"([{UNSEGMENTED}]) ([{UNSEGMENTED}])"
# Dropped outright: format characters (zero-width spaces, soft hyphens), variation selectors (emoji come with
# and without U+FE0F), the combining keycap and the Arabic tatweel (a justification stretch, not a letter).
_INVISIBLE = r"[\p{Cf}\x{FE00}-\x{FE0F}\x{E0100}-\x{E01EF}\x{20E3}\x{0640}]+"
# Only what must change matches (a single space between words does not), which keeps Latin text fast: a run
# of two or more punctuation/symbol/control/space characters, one such character other than the space. One
# character class repeated is 1.5x faster for the regex engine than a leading ``\s*`` before the class, with
# the same matches.
_PUNCT_OR_SPACE = r"[\p{P}\p{S}\p{Cc}\s]{2,}|[\p{P}\p{S}\p{Cc}]|[^\S ]"


def _punct(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_all(_INVISIBLE, "").str.replace_all(_PUNCT_OR_SPACE, " ")


def normalize_series(texts: pl.Series) -> pl.Series:
    """Normalized texts, as tokens see them: spaces between unsegmented characters may remain (they do not
    change the tokens); `normalize_items` removes them too.

    Punctuation goes first, so that most CJK text (whose full-width punctuation is the usual reason it is
    not already in NFKC) skips the costly NFKC pass; texts that still need it get it, then lose the
    punctuation NFKC can create (``⑴`` becomes ``(1)``).
    """
    out = texts.to_frame("t").select(_punct(pl.col("t"))).to_series()
    needs = np.flatnonzero([t is not None and not unicodedata.is_normalized("NFKC", t) for t in out.to_list()])
    if len(needs):
        fixed = out.gather(needs).to_frame("t").select(_punct(pl.col("t").str.normalize("NFKC"))).to_series()
        out = out.scatter(needs, fixed)
    return out.to_frame("t").select(pl.col("t").str.to_lowercase().str.strip_chars(" ")).to_series()


def normalize_items(texts: pl.Series) -> pl.Series:
    """Normalized texts with the spaces between unsegmented characters removed (offsets are then in the
    characters a reader sees)."""
    # Each pass joins every other pair in a run of spaced characters (matches cannot overlap); two passes join all.
    joined = pl.col("t").str.replace_all(_PAIR, "${1}${2}").str.replace_all(_PAIR, "${1}${2}")
    return normalize_series(texts).to_frame("t").select(joined).to_series()


def normalize(text: str) -> str:
    """The normalized form of one text (see the module docstring)."""
    return normalize_items(pl.Series([text], dtype=pl.String))[0]


def token_spans(normalized: str) -> list[tuple[int, int]]:
    """Token (start, end) offsets in a normalized string: one per unsegmented character, one per word."""
    return [m.span() for m in _TOKEN.finditer(normalized)]


def is_unsegmented(token: str) -> bool:
    return bool(_UNSEG.match(token))
