"""An async client for OpenAI-compatible ``/chat/completions`` endpoints, built to label many documents.

vLLM, llama.cpp's server, Ollama, SGLang and hosted APIs all speak this protocol, with differences this
client absorbs:

- **Bounded concurrency**: a semaphore caps requests in flight per judge (``concurrency``); each slot has
  its own keep-alive connection, so a large run never opens thousands of sockets.
- **Retries**: 408, 409, 425, 429, 5xx, timeouts, dropped connections and unreadable response bodies are
  retried with exponential backoff and jitter; a ``Retry-After`` header (seconds or an HTTP date) is honoured
  instead of the backoff. Other 4xx answers (bad key, unknown model) fail at once: retrying cannot help.
- **Deterministic, structured answers**: temperature 0, and a ``response_format`` JSON schema
  (``{"reason": str, "score": 0..5}``). A server that rejects the schema (400/422 naming it) is asked again
  without it, and this judge stops sending it; the answer is then parsed leniently (`curate.judges.parse`).
  Reasoning models on hosted APIs refuse ``temperature`` 0 and ``max_tokens`` (they want
  ``max_completion_tokens``): such a 400 is answered the same way, once per judge, with a warning (without
  temperature 0 the answers may vary between runs; the cache keeps the first).
- **Failures are results**: `Answer` always comes back, with ``score=None`` and an ``error`` when the
  document could not be scored, so the run records it instead of dropping the document.

The API key comes from an environment variable at call time and is only ever put in the request header.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from curate.errors import CurateError
from curate.judges.parse import ScoreParseError, parse_score

log = logging.getLogger(__name__)

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
# Every 5xx but "not implemented" and "version not supported" (proxies answer 520-529 for overloaded upstreams).
RETRY_STATUSES = frozenset({408, 409, 425, 429, *range(500, 600)}) - {501, 505}
SCORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reason": {"type": "string"},
        "score": {"type": "integer", "enum": [0, 1, 2, 3, 4, 5]},
    },
    "required": ["reason", "score"],
    "additionalProperties": False,
}


@dataclass(frozen=True, slots=True)
class JudgeSpec:
    """Who judges: a display name, the model name sent to the server, and the server's API base URL."""

    name: str
    model: str
    api_base: str
    api_key_env: str | None = None  # this judge's key variable; None: the run's (``OPENAI_API_KEY``)

    @property
    def chat_url(self) -> str:
        return chat_completions_url(self.api_base)


def chat_completions_url(api_base: str) -> str:
    """``http://host:8000/v1`` -> ``.../v1/chat/completions``; a bare ``http://host:8000`` gets ``/v1`` added."""
    base = api_base.strip().rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CurateError(f"invalid API base URL {api_base!r} (expected http(s)://host[:port]/v1)")
    if base.endswith("/chat/completions"):
        return base
    if parts.path in ("", "/"):
        base += "/v1"
    return base + "/chat/completions"


def parse_judge_spec(spec: str) -> JudgeSpec:
    """``NAME=MODEL@URL`` (as given to ``--judge``) -> `JudgeSpec`."""
    name, sep, rest = spec.partition("=")
    model, at, url = rest.partition("@")
    if not (sep and at and name.strip() and model.strip() and url.strip()):
        raise CurateError(f"bad --judge {spec!r}: expected NAME=MODEL@URL, e.g. gemma=google/gemma-3-27b-it@http://gpu1:8000/v1")
    judge = JudgeSpec(name.strip(), model.strip(), url.strip())
    chat_completions_url(judge.api_base)  # validate now, not after sampling the corpus
    return judge


@dataclass(frozen=True, slots=True)
class ClientOptions:
    concurrency: int = 32
    timeout_s: float = 120.0
    max_retries: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    retry_after_max_s: float = 300.0
    max_tokens: int = 512
    structured: bool = True


@dataclass(frozen=True, slots=True)
class Answer:
    """One judgment: a score, or ``score=None`` with the reason in ``error``."""

    score: float | None
    raw: str
    error: str | None
    latency_s: float  # from the first request to the final answer, retries and waits included
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    attempts: int = 1


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header as seconds to wait: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _short(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class JudgeClient:
    """Scores prompts with one judge. Use as ``async with JudgeClient(...) as client``."""

    def __init__(
        self,
        spec: JudgeSpec,
        options: ClientOptions | None = None,
        *,
        api_key_env: str = DEFAULT_KEY_ENV,
        rng: random.Random | None = None,
    ) -> None:
        self.spec = spec
        self.options = options or ClientOptions()
        self.url = spec.chat_url
        self.structured = self.options.structured
        self.send_temperature = True  # off for models that only accept their default temperature
        self.tokens_param = "max_tokens"  # "max_completion_tokens" for models that refuse max_tokens
        self._api_key_env = api_key_env
        self._sem = asyncio.Semaphore(max(1, self.options.concurrency))
        self._rng = rng or random.Random()
        self._pool: list[httpx.AsyncClient] = []
        self.requests = 0

    async def __aenter__(self) -> JudgeClient:
        # One single-connection client per slot rather than one pool of n: httpcore's pool rescans every
        # connection on every request and response, which costs more CPU than the request itself at n=32.
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self._api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        verify = httpx.create_ssl_context()  # built once and shared: loading CA certificates takes ~25 ms
        timeout = httpx.Timeout(self.options.timeout_s, connect=min(10.0, self.options.timeout_s))
        self._pool = [
            httpx.AsyncClient(headers=headers, timeout=timeout, verify=verify,
                              limits=httpx.Limits(max_connections=1, max_keepalive_connections=1))
            for _ in range(max(1, self.options.concurrency))
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        pool, self._pool = self._pool, []
        for http in pool:
            await http.aclose()

    def payload(self, prompt: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.spec.model,
            "messages": [{"role": "user", "content": prompt}],
            self.tokens_param: self.options.max_tokens,
        }
        if self.send_temperature:
            body["temperature"] = 0
        if self.structured:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "document_score", "strict": True, "schema": SCORE_SCHEMA},
            }
        return body

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.options.retry_after_max_s)
        ceiling = min(self.options.backoff_max_s, self.options.backoff_base_s * 2**attempt)
        return ceiling * (0.5 + 0.5 * self._rng.random())

    async def score(self, prompt: str) -> Answer:
        """Send one prompt (retrying as needed) and parse the score; never raises for server trouble."""
        if not self._pool:
            raise RuntimeError("JudgeClient must be used inside 'async with'")
        async with self._sem:  # at most `concurrency` holders, so a free client is always there
            http = self._pool.pop()
            try:
                return await self._score(http, prompt)
            finally:
                self._pool.append(http)

    async def _score(self, http: httpx.AsyncClient, prompt: str) -> Answer:
        started = time.monotonic()
        attempt = 0
        while True:
            retry_after: float | None = None
            self.requests += 1
            # Other requests may switch these off while this one is in flight.
            sent_schema, sent_temperature, sent_tokens = self.structured, self.send_temperature, self.tokens_param
            try:
                response = await http.post(self.url, json=self.payload(prompt))
            except httpx.TimeoutException as exc:
                error = f"timeout after {self.options.timeout_s:g}s ({type(exc).__name__})"
            except httpx.RequestError as exc:  # dropped connections, protocol errors, undecodable bodies
                error = f"connection error ({type(exc).__name__}: {_short(str(exc), 120)})"
            else:
                status = response.status_code
                if status == 200:
                    answer = self._answer(response, started, attempt)
                    if answer is not None:
                        return answer
                    error = f"unreadable response body: {_short(response.text, 120)!r}"
                elif status in (400, 422) and self._adapt(response.text, sent_temperature, sent_tokens):
                    continue
                elif status in (400, 422) and sent_schema and _mentions_schema(response.text):
                    if self.structured:
                        log.warning("%s: server rejected response_format; asking without it (lenient parsing)",
                                    self.spec.name)
                    self.structured = False
                    continue
                elif status in RETRY_STATUSES:
                    error = f"HTTP {status}: {_short(response.text)}"
                    retry_after = retry_after_seconds(response.headers.get("retry-after"))
                else:
                    return Answer(None, response.text[:2000], f"HTTP {status}: {_short(response.text)}",
                                  time.monotonic() - started, attempts=attempt + 1)
            if attempt >= self.options.max_retries:
                return Answer(None, "", f"{error} (gave up after {attempt + 1} attempts)",
                              time.monotonic() - started, attempts=attempt + 1)
            await asyncio.sleep(self._backoff(attempt, retry_after))
            attempt += 1

    def _adapt(self, body: str, sent_temperature: bool, sent_tokens: str) -> bool:
        """Whether a 400/422 names a parameter this judge can drop or rename (then the request is sent again)."""
        lowered = body.lower()
        if sent_temperature and "temperature" in lowered:
            if self.send_temperature:
                log.warning("%s: the model refuses temperature 0; asking with its default temperature (answers "
                            "may vary between runs)", self.spec.name)
            self.send_temperature = False
            return True
        if sent_tokens == "max_tokens" and "max_completion_tokens" in lowered:
            if self.tokens_param == "max_tokens":
                log.warning("%s: the model wants max_completion_tokens instead of max_tokens", self.spec.name)
            self.tokens_param = "max_completion_tokens"
            return True
        return False

    def _answer(self, response: httpx.Response, started: float, attempt: int) -> Answer | None:
        try:
            data = response.json()
            message = data["choices"][0]["message"]
            content = message.get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return None
        usage = data.get("usage") or {}
        latency = time.monotonic() - started
        tokens = (_int_or_none(usage.get("prompt_tokens")), _int_or_none(usage.get("completion_tokens")))
        if not content and message.get("refusal"):
            content = str(message["refusal"])
        try:
            score = parse_score(content)
        except ScoreParseError as exc:
            return Answer(None, content, f"unparseable answer: {exc}", latency, *tokens, attempts=attempt + 1)
        return Answer(score, content, None, latency, *tokens, attempts=attempt + 1)


def _mentions_schema(body: str) -> bool:
    lowered = body.lower()
    return any(word in lowered for word in ("response_format", "json_schema", "schema", "guided"))
