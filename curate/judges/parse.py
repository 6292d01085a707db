"""Get a 0-5 score out of what a judge answered, structured or not.

Servers that honour ``response_format`` return clean JSON, but many endpoints (older llama.cpp builds,
some hosted APIs, models that think aloud) return JSON in code fences, JSON cut off by the token limit,
or prose such as "Score: 4/5". Parsing goes from strict to loose and stops at the first success:

1. the whole answer (reasoning blocks such as ``<think>...</think>`` removed) as a JSON object with ``score``;
2. any ``{...}`` object inside the answer, last first (models explain, then conclude);
3. a ``"score": N`` pair even when the JSON around it is broken;
4. a labelled score in prose ("score: 4", "4/5", "4 out of 5", "5점 만점에 4점", and the ko/ja/zh/es words for
   score), the one that comes last when there are several (models weigh options, then conclude);
5. an answer that is only a number.

A score outside 0-5 is an error, not clipped: it means the model ignored the rubric.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MIN_SCORE = 0.0
MAX_SCORE = 5.0

# A reasoning block, closed or cut off by the token limit (then everything after it is reasoning).
_THINK = re.compile(r"<(think|thinking|reasoning)>.*?(?:</\1>|\Z)", re.DOTALL | re.IGNORECASE)
_NUMBER = r"([+-]?\d+(?:[.,]\d+)?)"  # a decimal comma too ("3,5" in es)
_SCORE_KEY = re.compile(r"[\"']?score[\"']?\s*[:=]\s*[\"']?" + _NUMBER, re.IGNORECASE)
# Words that label the score itself; generic ones ("grade 2 pupils", "key points 1)") are left out.
_WORDS = r"(?:educational\s+)?(?:score|rating|점수|평점|点数|スコア|評価|评分|得分|分数|puntuaci[oó]n|puntaje)"
# No "of": "a score of 5 would need ..." weighs a hypothetical, it is not the verdict.
_LABELLED = re.compile(_WORDS + r"\s*(?:is|=|:|：|-|は|为|為|es)?\s*\**\s*" + _NUMBER, re.IGNORECASE)
_OUT_OF = re.compile(_NUMBER + r"\s*(?:/|out of|de)\s*5\b", re.IGNORECASE)
_FULL_MARKS = re.compile(r"5\s*(?:점\s*만점에|点満点中|分满分中?)\s*" + _NUMBER)  # 5점 만점에 4점, 5点満点中4点
_ONLY_NUMBER = re.compile(r"^\s*\**\s*" + _NUMBER + r"\s*\**\s*\.?\s*$")


class ScoreParseError(ValueError):
    """The answer holds no usable score; the message says why, for the labels' error column."""


def _check(value: Any) -> float:
    if isinstance(value, bool):  # JSON true is not a score of 1
        raise ScoreParseError(f"score is not a number: {value!r}")
    try:
        score = float(value.replace(",", ".") if isinstance(value, str) else value)
    except (TypeError, ValueError) as exc:
        raise ScoreParseError(f"score is not a number: {value!r}") from exc
    if math.isnan(score) or not MIN_SCORE <= score <= MAX_SCORE:
        raise ScoreParseError(f"score {value!r} outside {MIN_SCORE:g}-{MAX_SCORE:g}")
    return score


def _objects(text: str) -> list[str]:
    """Balanced ``{...}`` substrings (outermost), in order of appearance."""
    found, depth, start = [], 0, -1
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"' and depth > 0:
            in_string = True
        elif ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth > 0:
            depth -= 1
            if depth == 0:
                found.append(text[start : i + 1])
    return found


def _from_json(candidate: str) -> float | None:
    try:
        data = json.loads(candidate)
    except (json.JSONDecodeError, RecursionError):
        return None
    if isinstance(data, dict):
        for key, value in data.items():
            if str(key).lower() == "score":
                return _check(value)
    return None


def parse_score(answer: str | None) -> float:
    """The score in a judge's answer; raises `ScoreParseError` when there is none."""
    if answer is None or not answer.strip():
        raise ScoreParseError("empty answer")
    text = _THINK.sub(" ", answer).strip()
    for candidate in [text, *reversed(_objects(text))]:
        score = _from_json(candidate)
        if score is not None:
            return score
    found = [(m.end(), m.group(1)) for pattern in (_SCORE_KEY, _LABELLED, _OUT_OF, _FULL_MARKS)
             for m in pattern.finditer(text)]
    if found:
        return _check(max(found)[1])
    match = _ONLY_NUMBER.match(text)
    if match:
        return _check(match.group(1))
    snippet = " ".join(text.split())[:80]
    raise ScoreParseError(f"no score found in answer: {snippet!r}")
