"""LLM judges against a loopback OpenAI-compatible server: scores, failures, retries, cache, CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.corpus import Document
from curate.errors import CurateError
from curate.judges.cache import FILENAME, AnswerCache
from curate.judges.client import (
    ClientOptions,
    JudgeSpec,
    chat_completions_url,
    parse_judge_spec,
    retry_after_seconds,
)
from curate.judges.parse import ScoreParseError, parse_score
from curate.judges.rubrics import MARKER, PromptLanguage, load_rubric
from curate.judges.run import LABEL_SCHEMA, RunOptions, run_judges
from curate.judges.sample import allocate, stratified_sample, with_languages
from tests.openai_stub import OpenAIStub, serve

FAST = ClientOptions(concurrency=8, timeout_s=2.0, max_retries=3, backoff_base_s=0.01, backoff_max_s=0.05)


@pytest.fixture
def stub() -> OpenAIStub:
    return OpenAIStub()


@pytest.fixture
def api(stub: OpenAIStub) -> Iterator[str]:
    with serve(stub) as url:
        yield url


def docs(*texts: str, lang: str = "en") -> list[Document]:
    return [Document(f"d{i}", text, lang) for i, text in enumerate(texts)]


def options(**client: object) -> RunOptions:
    return RunOptions(rubric=load_rubric("educational"), client=replace(FAST, **client))


# ---- parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "score"), [
    ('{"reason": "clear", "score": 4}', 4.0),
    ('```json\n{"reason": "x", "score": 2}\n```', 2.0),
    ('Some thoughts first. {"reason": "has {braces}", "score": 5}', 5.0),
    ('{"reason": "cut off by the limit", "score": 1', 1.0),
    ("Score: 3/5", 3.0),
    ("I would give it 2 out of 5.", 2.0),
    ("Educational score is **4**", 4.0),
    ("점수: 4", 4.0),
    ("評価：2", 2.0),
    ("评分：5", 5.0),
    ("Puntuación: 1", 1.0),
    ("<think>score 1 maybe</think>\n{\"score\": 3}", 3.0),
    ("  0 ", 0.0),
    ('{"score": "4"}', 4.0),
])
def test_parse_score_strict_to_lenient(answer: str, score: float) -> None:
    assert parse_score(answer) == score


@pytest.mark.parametrize(("answer", "message"), [
    ("", "empty answer"),
    ("I cannot judge this.", "no score found"),
    ('{"reason": "x", "score": 7}', "outside 0-5"),
    ("Score: 11", "outside 0-5"),
])
def test_parse_score_failures_say_why(answer: str, message: str) -> None:
    with pytest.raises(ScoreParseError, match=message):
        parse_score(answer)


# ---- specs, urls, headers --------------------------------------------------------------------------


def test_urls_and_judge_specs() -> None:
    assert chat_completions_url("http://h:8000/v1/") == "http://h:8000/v1/chat/completions"
    assert chat_completions_url("http://h:11434") == "http://h:11434/v1/chat/completions"
    assert chat_completions_url("https://api.x.com/v1/chat/completions") == "https://api.x.com/v1/chat/completions"
    spec = parse_judge_spec("gemma=google/gemma-3-27b-it@http://gpu1:8000/v1")
    assert spec == JudgeSpec("gemma", "google/gemma-3-27b-it", "http://gpu1:8000/v1")
    for bad in ("gemma", "gemma=model", "=m@http://h/v1", "g=m@ftp://h"):
        with pytest.raises(CurateError):
            parse_judge_spec(bad)


def test_retry_after_seconds_and_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after_seconds(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


# ---- rubrics ---------------------------------------------------------------------------------------


def test_rubrics_ship_five_languages_and_modes(tmp_path: Path) -> None:
    rubric = load_rubric("educational")
    assert set(rubric.texts) >= {"en", "ko", "ja", "zh", "es"}
    assert all(MARKER in t for t in rubric.texts.values())
    assert rubric.language_for("ko", PromptLanguage.en) == "en"
    assert rubric.language_for("ko", PromptLanguage.native) == "ko"
    assert rubric.language_for("zh-Hant", PromptLanguage.native) == "zh"
    assert rubric.language_for("kor_Hang", PromptLanguage.native) == "ko"
    assert rubric.language_for("fr", PromptLanguage.native) == "en"  # no localization: English
    prompt = rubric.prompt("안녕하세요", "ko")
    assert "안녕하세요" in prompt and MARKER not in prompt and "점수" in prompt
    custom = tmp_path / "mine.md"
    custom.write_text(f"Rate this: {MARKER}", encoding="utf-8")
    assert load_rubric(str(custom)).prompt("x", "en") == "Rate this: x\n"
    (tmp_path / "nomarker.md").write_text("no marker", encoding="utf-8")
    with pytest.raises(CurateError, match="marker"):
        load_rubric(str(tmp_path / "nomarker.md"))
    with pytest.raises(CurateError, match="unknown rubric"):
        load_rubric("no-such-rubric")


# ---- sampling --------------------------------------------------------------------------------------


def test_allocate_splits_evenly_and_redistributes() -> None:
    assert allocate({"en": 100, "ko": 100, "ja": 100}, 30) == {"en": 10, "ko": 10, "ja": 10}
    assert allocate({"en": 100, "ko": 3, "ja": 100}, 30) == {"en": 14, "ko": 3, "ja": 13}
    assert allocate({"en": 5, "ko": 3}, 100) == {"en": 5, "ko": 3}
    assert sum(allocate({"a": 7, "b": 9, "c": 1, "d": 50}, 31).values()) == 31


def test_stratified_sample_is_seeded_even_and_in_corpus_order() -> None:
    corpus = [Document(f"en{i}", "x", "en") for i in range(500)] + [Document(f"ko{i}", "x", "ko") for i in range(20)]
    a = stratified_sample(corpus, 30, seed=1)
    assert [d.id for d in a] == [d.id for d in stratified_sample(corpus, 30, seed=1)]
    assert [d.id for d in a] != [d.id for d in stratified_sample(corpus, 30, seed=2)]
    assert sum(d.lang == "ko" for d in a) == 15 and sum(d.lang == "en" for d in a) == 15
    order = {d.id: i for i, d in enumerate(corpus)}
    assert [order[d.id] for d in a] == sorted(order[d.id] for d in a)
    assert len(stratified_sample(corpus, 0)) == 520
    only_ko = stratified_sample(corpus, 100, langs=["ko"])
    assert {d.lang for d in only_ko} == {"ko"} and len(only_ko) == 20


def test_missing_languages_are_detected_in_batches() -> None:
    calls: list[int] = []

    def detect(texts: list[str]) -> list[tuple[str, float]]:
        calls.append(len(texts))
        return [("ko", 0.9)] * len(texts)

    found = list(with_languages([Document("a", "x"), Document("b", "y", "en"), Document("c", "z")], 10, detect))
    assert [(d.id, d.lang) for d in found] == [("a", "ko"), ("b", "en"), ("c", "ko")]
    assert calls == [1, 1]
    real = list(with_languages([Document("k", "오늘은 날씨가 좋아서 친구들과 공원에 산책을 갔습니다.")]))
    assert real[0].lang == "ko"


# ---- labelling against the loopback server ---------------------------------------------------------


def test_labels_failures_and_retries(api: str, stub: OpenAIStub) -> None:
    corpus = docs(
        "[score=5] a fine lesson",
        "[score=1] an advert",
        "[malformed][score=2] broken json",
        "[prose][score=4] prose answer",
        "[garbage] no score",
        "[badbody] proxy page",
        "[429x2][score=0] rate limited twice",
        "[500x2][score=5] flaky server",
        "[500always] dead",
        "[slow=1.5] too slow",
    )
    result = run_judges(corpus, [JudgeSpec("stub", "m1", api)], options(timeout_s=0.5, max_retries=2))
    rows = {r["doc_id"]: r for r in result.rows}
    assert [rows[f"d{i}"]["score"] for i in range(4)] == [5.0, 1.0, 2.0, 4.0]
    assert rows["d6"]["score"] == 0.0 and rows["d7"]["score"] == 5.0
    for i in (0, 1, 2, 3, 6, 7):
        assert rows[f"d{i}"]["error"] is None
    assert rows["d4"]["score"] is None and "unparseable" in rows["d4"]["error"]
    assert rows["d4"]["raw"] == "I am not able to judge this document."
    assert rows["d5"]["score"] is None and "unreadable response body" in rows["d5"]["error"]
    assert rows["d8"]["score"] is None and "HTTP 500" in rows["d8"]["error"] and "3 attempts" in rows["d8"]["error"]
    assert rows["d9"]["score"] is None and "timeout" in rows["d9"]["error"]
    assert stub.attempts["[429x2][score=0] rate limited twice"] == 3
    assert stub.attempts["[500always] dead"] == 3  # one try and max_retries=2 retries
    assert rows["d0"]["prompt_tokens"] > 0 and rows["d0"]["completion_tokens"] == 12
    assert rows["d0"]["latency_s"] > 0
    tally = result.tallies["stub"]
    assert (tally.labels, tally.scored, tally.failed) == (10, 6, 4)


def test_requests_are_deterministic_structured_and_authorized(api: str, stub: OpenAIStub,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-test-123")
    opts = RunOptions(rubric=load_rubric("educational"), client=FAST, api_key_env="MY_JUDGE_KEY")
    run_judges(docs("[score=2] text"), [JudgeSpec("stub", "m1", api)], opts)
    body = stub.requests[0]
    assert body["temperature"] == 0 and body["model"] == "m1"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["reason", "score"]
    assert stub.headers[0]["authorization"] == "Bearer sk-test-123"
    monkeypatch.setenv("OTHER_KEY", "sk-other")
    run_judges(docs("[score=1] other"), [JudgeSpec("o", "m2", api, api_key_env="OTHER_KEY")], opts)
    assert stub.headers[1]["authorization"] == "Bearer sk-other"


def test_retry_after_is_honoured(api: str, stub: OpenAIStub) -> None:
    started = time.monotonic()
    result = run_judges(docs("[429x1][retry-after=1][score=4] wait"), [JudgeSpec("s", "m", api)], options())
    assert result.rows[0]["score"] == 4.0
    assert time.monotonic() - started >= 1.0
    assert result.rows[0]["latency_s"] >= 1.0


def test_server_without_structured_output_falls_back_once() -> None:
    stub = OpenAIStub(reject_response_format=True)
    with serve(stub) as url:
        result = run_judges(docs("[score=1] a", "[score=4] b", "[score=2] c"), [JudgeSpec("s", "m", url)],
                            options(concurrency=1))
    assert [r["score"] for r in result.rows] == [1.0, 4.0, 2.0]
    assert sum("response_format" in b for b in stub.requests) == 1
    assert stub.n_requests == 4


def test_reasoning_model_without_temperature_and_max_tokens_falls_back_once() -> None:
    stub = OpenAIStub(reasoning_model=True)
    with serve(stub) as url:
        result = run_judges(docs("[score=1] a", "[score=5] b", "[score=2] c"), [JudgeSpec("r", "o-model", url)],
                            options(concurrency=1))
    assert [r["score"] for r in result.rows] == [1.0, 5.0, 2.0] and all(r["error"] is None for r in result.rows)
    assert stub.n_requests == 5  # refused once for temperature, once for max_tokens, then one per document
    assert [("temperature" in b, "max_tokens" in b) for b in stub.requests[:2]] == [(True, True), (False, True)]
    assert all("temperature" not in b and "max_completion_tokens" in b for b in stub.requests[2:])
    assert all("response_format" in b for b in stub.requests)  # the schema is a separate matter


def test_structured_fallback_with_requests_in_flight() -> None:
    # Every request of the first wave is rejected; each must be asked again, none recorded as a failure.
    stub = OpenAIStub(latency=0.05, reject_response_format=True)
    with serve(stub) as url:
        result = run_judges(docs(*[f"[score={i % 6}] doc {i}" for i in range(12)]), [JudgeSpec("s", "m", url)],
                            options(concurrency=6))
    assert [r["score"] for r in result.rows] == [float(i % 6) for i in range(12)]
    assert sum("response_format" in b for b in stub.requests) == 6
    assert stub.n_requests == 18


def test_concurrency_is_bounded_and_parallel() -> None:
    stub = OpenAIStub(latency=0.1)
    with serve(stub) as url:
        started = time.monotonic()
        result = run_judges(docs(*[f"doc {i}" for i in range(24)]), [JudgeSpec("s", "m", url)], options(concurrency=4))
        elapsed = time.monotonic() - started
    assert all(r["score"] == 3.0 for r in result.rows)
    assert stub.max_in_flight == 4
    assert elapsed < 24 * 0.1 / 2  # parallel: ~0.6 s, sequential would be 2.4 s


def test_cache_prevents_repeat_calls_and_retries_failures(api: str, stub: OpenAIStub, tmp_path: Path) -> None:
    corpus = docs("[score=5] one", "[score=2] two", "[garbage] three")
    judges = [JudgeSpec("a", "m1", api), JudgeSpec("b", "m2", api)]
    with AnswerCache(tmp_path / FILENAME) as cache:
        first = run_judges(corpus, judges, options(), cache)
        assert stub.n_requests == 6 and len(cache) == 4
        second = run_judges(corpus, judges, options(), cache)
        assert stub.n_requests == 8  # only the two failed labels were asked again
        assert [r["score"] for r in second.rows] == [r["score"] for r in first.rows]
        assert second.tallies["a"].cached == 2 and second.tallies["a"].requests == 1
        # A different model or rubric text is a different key.
        run_judges(corpus[:1], [JudgeSpec("c", "m3", api)], options(), cache)
        assert stub.n_requests == 9


def test_native_prompts_use_the_documents_language(api: str, stub: OpenAIStub) -> None:
    corpus = [Document("k", "[score=2] 한국어 문서", "ko"), Document("f", "[score=3] texte", "fr")]
    opts = RunOptions(rubric=load_rubric("educational"), prompt_mode=PromptLanguage.native, client=FAST)
    result = run_judges(corpus, [JudgeSpec("s", "m", api)], opts)
    assert [r["prompt_language"] for r in result.rows] == ["ko", "en"]
    prompts = {b["messages"][0]["content"] for b in stub.requests}
    assert any("교육" in p and "한국어 문서" in p for p in prompts)
    assert any(p.startswith("You are rating") and "texte" in p for p in prompts)


# ---- CLI -------------------------------------------------------------------------------------------


def write_corpus(path: Path) -> Path:
    lines = [{"id": f"en{i}", "text": f"[score@m1=4][score@m2=3] English lesson number {i}", "lang": "en"}
             for i in range(30)]
    lines += [{"id": f"ko{i}", "text": f"[score=2] 오늘은 날씨가 좋아서 친구들과 공원에 산책을 갔습니다 {i}"} for i in range(5)]
    lines += [{"id": "bad", "text": "[garbage] nothing", "lang": "en"}]
    path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n{not json\n", encoding="utf-8")
    return path


def test_cli_judge_writes_labels_and_reruns_from_cache(cli, api: str, stub: OpenAIStub, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    corpus = write_corpus(tmp_path / "corpus.jsonl")
    out = tmp_path / "labels.parquet"
    monkeypatch.setenv("SECOND_KEY", "sk-second-value")
    args = ["judge", "--input", corpus, "--sample", 12, "--model", "m1", "--api-base", api,
            "--judge", f"second=m2@{api}", "--judge-key-env", "second=SECOND_KEY", "--out", out, "--seed", 3,
            "--max-retries", 0]
    result = cli(*args)
    assert result.code == 0, result.err
    table = pq.read_table(out)
    assert table.schema.equals(LABEL_SCHEMA)
    rows = table.to_pylist()
    assert len(rows) == 24 and {r["judge"] for r in rows} == {"m1", "second"}
    by_lang = {lang: sum(r["lang"] == lang for r in rows) // 2 for lang in ("en", "ko")}
    assert by_lang == {"en": 7, "ko": 5}  # 12 split evenly; ko has only 5, so en takes the rest
    for r in rows:
        if r["lang"] == "ko":
            assert r["score"] == 2.0
        elif r["doc_id"] != "bad":
            assert r["score"] == (4.0 if r["judge"] == "m1" else 3.0)
        assert r["rubric"] == "educational" and r["prompt_language"] == "en"
    assert "skipped 1 unreadable records" in result.err and "sample: en 7, ko 5" in result.err
    keys = {(b["model"], h["authorization"]) for b, h in zip(stub.requests, stub.headers, strict=True)}
    assert keys == {("m1", "Bearer sk-secret-value"), ("m2", "Bearer sk-second-value")}
    assert b"sk-secret-value" not in out.read_bytes() and b"sk-second" not in out.read_bytes()
    assert (tmp_path / FILENAME).is_file() and b"sk-secret-value" not in (tmp_path / FILENAME).read_bytes()

    sent = stub.n_requests
    again = cli(*args)
    assert again.code == 0, again.err
    failed = sum(r["score"] is None for r in rows)
    assert stub.n_requests == sent + failed  # everything else came from the cache
    assert pq.read_table(out).column("score").to_pylist() == table.column("score").to_pylist()


def test_cli_usage_and_total_failure(cli, tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "corpus.jsonl")
    assert cli("judge", "--input", corpus).code == 2
    bad = cli("judge", "--input", corpus, "--judge", "nonsense")
    assert bad.code == 1 and "NAME=MODEL@URL" in bad.err
    assert cli("judge", "--input", corpus, "--judge", "a=m@http://h/v1", "--judge-key-env", "b=X").code == 2
    dead = cli("judge", "--input", corpus, "--sample", 2, "--model", "m", "--api-base", "http://127.0.0.1:9/v1",
               "--max-retries", 0, "--no-cache", "--out", tmp_path / "l.parquet")
    assert dead.code == 1 and "every request failed" in dead.err
    assert pq.read_table(tmp_path / "l.parquet").column("error").null_count == 0


@pytest.mark.parametrize("answer,score", [
    ("This text suits grade 2 pupils and explains fractions clearly. I'd give it 4/5.", 4.0),
    ("Key points 1) clear 2) accurate. Overall 3 out of 5.", 3.0),
    ("Per the rubric, score: 5 requires textbook quality. This document falls short: 3/5.", 3.0),
    ("Rating: 3 out of 5 (a score of 5 would need exercises).", 3.0),
    ("5점 만점에 4점을 주겠습니다.", 4.0),
    ("5点満点中4点です。", 4.0),
    ("Puntuación: 3,5", 3.5),
])
def test_prose_scores_take_the_verdict(answer: str, score: float) -> None:
    from curate.judges.parse import parse_score

    assert parse_score(answer) == score


@pytest.mark.parametrize("answer", ['{"reason": "ok", "score": true}',
                                    "<think>The rubric says a score of 5 needs a full lesson. This one is"])
def test_unusable_answers_are_errors(answer: str) -> None:
    from curate.judges.parse import ScoreParseError, parse_score

    with pytest.raises(ScoreParseError):
        parse_score(answer)


def test_every_5xx_but_501_and_505_is_retried() -> None:
    from curate.judges.client import RETRY_STATUSES

    assert {500, 502, 503, 504, 520, 524, 529} <= RETRY_STATUSES and not {501, 505, 400, 404} & RETRY_STATUSES
